// The live half of the page: follows the session over socket.io and re-renders the account and
// cart panels on every live_session:update; shows the logged-out state on live_session:destroy.
(function () {
  'use strict';
  const { server, products } = JSON.parse(document.getElementById('boot').textContent);
  const { renderAccount, renderCart, escapeHtml } = window.CartRender;
  const $ = (id) => document.getElementById(id);
  const status = $('live-status');
  const notice = $('notice');
  const modeBox = $('mode');

  // What tests (and the curious) can read: counts of what this page received.
  const demo = (window.cartDemo = { updates: 0, destroys: 0, hellos: 0, following: false, last: null });

  function setLive(state, text) {
    document.body.dataset.live = state;
    status.textContent = text;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function log(text) {
    const list = $('log');
    if (list.firstElementChild && list.firstElementChild.classList.contains('muted')) list.innerHTML = '';
    const item = document.createElement('li');
    const time = new Date().toLocaleTimeString([], { hour12: false });
    item.innerHTML = '<time>' + time + '</time> ' + text;
    list.prepend(item);
    while (list.children.length > 6) list.lastElementChild.remove();
  }

  function render(state) {
    $('account').innerHTML = renderAccount(state.user);
    $('cart').innerHTML = renderCart(state.cart, products);
  }

  const nameOf = new Map(products.map((p) => [p.id, p.name]));
  const qtyOf = (state) => new Map((state && Array.isArray(state.cart) ? state.cart : []).map((l) => [l.id, l.qty]));

  /** One line for the log: what changed since the last state this page saw. */
  function describe(before, after) {
    const n = (after.cart || []).reduce((sum, l) => sum + (l.qty || 0), 0);
    const total = n + (n === 1 ? ' item' : ' items');
    if (!before) return 'joined: ' + (after.user ? escapeHtml(after.user) + ', ' : 'not signed in, ') + total;
    const changes = [];
    if (before.user !== after.user) changes.push(after.user ? 'signed in as ' + escapeHtml(after.user) : 'signed out');
    const was = qtyOf(before);
    const now = qtyOf(after);
    for (const id of new Set([...was.keys(), ...now.keys()])) {
      const delta = (now.get(id) || 0) - (was.get(id) || 0);
      if (delta !== 0) changes.push((delta > 0 ? '+' : '−') + Math.abs(delta) + ' ' + escapeHtml(nameOf.get(id) || id));
    }
    return 'update: ' + (changes.join(', ') || 'no change') + ' → ' + total;
  }

  const socket = io({ transports: ['websocket', 'polling'] });
  window.cartSocket = socket; // public/devices.js follows the same connection

  socket.on('connect', () => setLive('connecting', 'joining session…'));
  socket.on('disconnect', () => {
    demo.following = false;
    setLive('off', 'no live connection');
  });
  socket.on('cart:hello', ({ server: via, following }) => {
    demo.hellos++;
    demo.following = following;
    modeBox.disabled = false;
    if (following) {
      setLive('following', 'live via server ' + via.name + ' · :' + via.port);
      showNotice('');
    } else {
      setLive('idle', 'live via server ' + via.name + ' · no session to follow');
    }
  });

  socket.on('live_session:update', (state) => {
    demo.updates++;
    log(describe(demo.last, state));
    demo.last = state;
    render(state);
  });

  const ENDED = {
    revoked: 'This device was logged out from another device.',
    expired: 'This session expired.',
  };

  socket.on('live_session:destroy', ({ reason } = {}) => {
    demo.destroys++;
    demo.lastReason = reason;
    demo.following = false;
    demo.last = null;
    render({ user: null, cart: [] });
    setLive('ended', 'session ended');
    showNotice(ENDED[reason] || 'This session was ended (logged out, or logged in again) in another tab or on another server.');
    log('destroy (' + escapeHtml(reason || 'logout') + '): the session is gone');
    // The browser's cookie may already name a new session (a login in another tab): follow it.
    setTimeout(rejoin, 500);
  });

  function rejoin() {
    socket.disconnect();
    socket.connect();
  }
  // Back in this tab after a log-in elsewhere: pick up the session the cookie names now.
  window.addEventListener('focus', () => {
    if (!demo.following && socket.connected) rejoin();
  });

  // The chosen write path survives the reload after a form POST (per tab).
  const saved = sessionStorage.getItem('cart-mode');
  if (saved) document.querySelectorAll('input[name="mode"]').forEach((input) => (input.checked = input.value === saved));
  modeBox.addEventListener('change', (event) => sessionStorage.setItem('cart-mode', event.target.value));

  // Writes: a plain form POST, or in live mode the same intent as a socket event.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    if (!form.classList.contains('write')) return;
    const mode = document.querySelector('input[name="mode"]:checked');
    if (!mode || mode.value !== 'live' || !socket.connected || !demo.following) return; // a normal POST
    event.preventDefault();
    const action = form.dataset.action;
    const product = form.elements.product.value;
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    socket.timeout(5000).emit('cart:' + action, { product }, (err, reply) => {
      if (button) button.disabled = false;
      if (!err && reply && reply.ok) return;
      // No session to write to (ended meanwhile) or no answer: fall back to the HTTP path.
      log('live ' + action + ' failed (' + escapeHtml(err ? 'timeout' : reply.error) + '): sending the form instead');
      form.submit();
    });
  });
})();
