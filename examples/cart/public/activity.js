// The "Activity" panel: what happened to the logged-in user's sessions (session events: signed in,
// signed out, signed out on another device, expired), asked over the socket (activity:list) each time
// the "Your devices" panel looks again (the tab's user changed, or the server said that user's
// sessions changed).
(function () {
  'use strict';
  const panel = document.getElementById('activity');
  const socket = window.cartSocket;
  const { escapeHtml } = window.CartRender;
  if (!panel || !socket) return;

  let latest = 0; // only the newest answer is shown
  const time = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });

  function hide() {
    latest++;
    panel.hidden = true;
    panel.innerHTML = '';
  }

  function render(activity) {
    const rows = activity
      .map((a) => '<li data-testid="activity-entry" data-type="' + escapeHtml(a.type) + '"><strong>' + escapeHtml(a.what) + '</strong> · ' + escapeHtml(a.device) + ' <small>' + time(a.at) + '</small></li>')
      .join('');
    panel.innerHTML = '<h2>Activity</h2>' + (rows ? '<ol class="activity-list">' + rows + '</ol>' : '<p class="hint">Nothing yet.</p>');
    panel.hidden = false;
  }

  function refresh() {
    const ticket = ++latest;
    socket.timeout(5000).emit('activity:list', (err, reply) => {
      if (err || ticket !== latest) return;
      if (!reply || !Array.isArray(reply.activity)) hide();
      else render(reply.activity);
    });
  }

  // Shown, refreshed and hidden with "Your devices" (public/devices.js), which follows the tab's user
  // and hears when that user's sessions change (devices:changed, also sent for each activity entry).
  const devices = document.getElementById('devices');
  if (!devices) return;
  devices.addEventListener('devices:refresh', refresh);
  devices.addEventListener('devices:hide', hide);
})();
