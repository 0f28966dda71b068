// The live half of the SSE page: follows the session with an EventSource on /live/events and
// re-renders the account and cart panels on every `update`; shows the ended state on `end`. Writes
// are the same HTTP routes the forms post to, sent with fetch so the page stays as it is.
(function () {
  'use strict';
  const { server, products } = JSON.parse(document.getElementById('boot').textContent);
  const { renderAccount, renderCart, escapeHtml } = window.CartRender;
  const $ = (id) => document.getElementById(id);

  // What tests (and the curious) can read: counts of what this page received.
  const demo = (window.cartSse = { updates: 0, ends: 0, opens: 0, following: false, lastReason: null, lastEventId: null });
  let source = null;

  function setLive(state, text) {
    document.body.dataset.live = state;
    $('live-status').textContent = text;
  }

  function showNotice(text) {
    $('notice').textContent = text;
    $('notice').hidden = !text;
  }

  function log(text) {
    const list = $('log');
    if (list.firstElementChild && list.firstElementChild.classList.contains('muted')) list.innerHTML = '';
    const item = document.createElement('li');
    item.innerHTML = '<time>' + new Date().toLocaleTimeString([], { hour12: false }) + '</time> ' + text;
    list.prepend(item);
    while (list.children.length > 6) list.lastElementChild.remove();
  }

  function render(state) {
    $('account').innerHTML = renderAccount(state.user);
    $('cart').innerHTML = renderCart(state.cart, products);
  }

  const ENDED = {
    logout: 'This session was logged out (here, in another tab, or on another server).',
    revoked: 'This device was logged out from another device.',
    expired: 'This session expired.',
  };

  function follow() {
    if (source) source.close();
    source = new EventSource('/live/events');
    setLive('connecting', 'connecting…');
    source.addEventListener('open', () => {
      demo.opens++;
      demo.following = true;
      setLive('following', 'live via SSE from server ' + server.name + ' · :' + server.port);
      showNotice('');
    });
    source.addEventListener('update', (event) => {
      demo.updates++;
      demo.lastEventId = event.lastEventId; // "<version>.<tag>": the browser sends it back when it reconnects
      const state = JSON.parse(event.data);
      const n = state.cart.reduce((sum, line) => sum + line.qty, 0);
      log('update v' + escapeHtml(event.lastEventId.split('.')[0]) + ': ' + (state.user ? escapeHtml(state.user) + ', ' : '') + n + (n === 1 ? ' item' : ' items'));
      render(state);
    });
    source.addEventListener('end', (event) => {
      const { reason } = JSON.parse(event.data);
      source.close(); // the session is gone: do not reconnect into it
      demo.ends++;
      demo.lastReason = reason;
      demo.following = false;
      render({ user: null, cart: [] });
      setLive('ended', 'session ended');
      showNotice(ENDED[reason] || 'This session ended.');
      log('end (' + escapeHtml(reason) + '): the session is gone');
    });
    source.addEventListener('error', () => {
      // CLOSED: refused (204: no session to follow); otherwise the browser is reconnecting by itself.
      if (source.readyState === EventSource.CLOSED) {
        demo.following = false;
        setLive('idle', 'no session to follow');
      } else {
        setLive('connecting', 'reconnecting…');
      }
    });
  }

  // Writes: the form's own request, sent with fetch; the change comes back through the stream.
  document.addEventListener('submit', async (event) => {
    const form = event.target;
    event.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    try {
      await fetch(form.action, { method: 'POST', body: new URLSearchParams(new FormData(form)), redirect: 'manual', credentials: 'same-origin' });
      // A login or logout changes the session the cookie names: follow that one now.
      if (/\/(login|logout)$/.test(form.action)) {
        const response = await fetch('/sse', { credentials: 'same-origin' }); // stores a session for a visitor, as the first visit did
        await response.text();
        follow();
      }
    } finally {
      if (button) button.disabled = false;
    }
  });

  // Back in this tab after a log-in elsewhere: pick up the session the cookie names now.
  window.addEventListener('focus', () => {
    if (!demo.following) follow();
  });

  follow();
})();
