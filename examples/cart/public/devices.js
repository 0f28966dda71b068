// The "Your devices" panel: the sessions of the logged-in user (devices:list over the socket, so
// that looking does not count as activity of this session; GET /devices gives the same), fetched again
// whenever the server says the list changed (devices:changed: a login, a logout or a revocation on
// any server) or this tab's user changes. Logging a device out ends its session: that tab gets
// live_session:destroy with reason "revoked" and shows the login form (public/cart.js).
(function () {
  'use strict';
  const panel = document.getElementById('devices');
  const socket = window.cartSocket;
  const { escapeHtml } = window.CartRender;
  if (!panel || !socket) return;

  // What tests (and the curious) can read.
  const state = (window.devicesDemo = { fetches: 0, shown: 0 });
  let user = null;
  let latest = 0; // only the newest answer is shown, whatever order they arrive in

  const time = (ms) => (ms ? new Date(ms).toLocaleTimeString([], { hour12: false }) : '—');

  // The activity panel (public/activity.js) follows this one: shown, refreshed and hidden with it.
  const tell = (what) => panel.dispatchEvent(new CustomEvent(what));

  function hide() {
    latest++;
    panel.hidden = true;
    panel.innerHTML = '';
    tell('devices:hide');
  }

  function render(devices) {
    const others = devices.filter((d) => !d.current).length;
    const rows = devices
      .map(
        (d) =>
          '<li data-testid="device"' + (d.current ? ' data-current="true"' : '') + '>' +
          '<div class="device-about"><strong data-testid="device-label">' + escapeHtml(d.label) + '</strong>' +
          (d.current ? ' <span class="this-device" data-testid="this-device">this device</span>' : '') +
          '<small>signed in ' + time(d.createdAt) + ' · last active ' + time(d.lastActiveAt) + '</small></div>' +
          (d.current
            ? ''
            : '<form method="post" action="/devices/logout" class="device-action">' +
              '<input type="hidden" name="device" value="' + escapeHtml(d.handle) + '">' +
              '<button type="submit" class="secondary small" data-testid="device-logout">Log out</button></form>') +
          '</li>',
      )
      .join('');
    panel.innerHTML =
      '<h2>Your devices <span class="count" data-testid="device-count">' + devices.length + '</span></h2>' +
      '<ul class="device-list">' + rows + '</ul>' +
      (others > 0
        ? '<form method="post" action="/devices/logout-others" class="device-action">' +
          '<button type="submit" class="secondary" data-testid="logout-others">Log out all other devices</button></form>'
        : '<p class="hint">Log in as the same user in another browser: it shows up here at once.</p>');
    panel.hidden = false;
    state.shown++;
  }

  function refresh() {
    const ticket = ++latest;
    state.fetches++;
    tell('devices:refresh');
    socket.timeout(5000).emit('devices:list', (err, reply) => {
      if (err || ticket !== latest) return; // no answer: the next change or reconnect asks again
      if (!reply || !Array.isArray(reply.devices)) hide();
      else render(reply.devices);
    });
  }

  // Buttons post with fetch (the forms also work without JavaScript), then show the new list.
  panel.addEventListener('submit', async (event) => {
    const form = event.target;
    if (!form.classList.contains('device-action')) return;
    event.preventDefault();
    form.querySelectorAll('button').forEach((b) => (b.disabled = true));
    try {
      await fetch(form.action, { method: 'POST', headers: { accept: 'application/json' }, body: new URLSearchParams(new FormData(form)) });
    } finally {
      refresh();
    }
  });

  socket.on('cart:hello', ({ following }) => (following ? refresh() : hide()));
  socket.on('devices:changed', refresh);
  socket.on('live_session:update', (session) => {
    if (session.user === user) return;
    user = session.user;
    if (user) refresh();
    else hide();
  });
  socket.on('live_session:destroy', () => {
    user = null;
    hide();
  });
})();
