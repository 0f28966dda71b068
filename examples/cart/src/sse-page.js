// The page that follows the cart over Server-Sent Events (@live-session/sse) instead of socket.io:
// rendered on the server like the socket.io page, then kept live by public/cart-sse.js, which
// reads the session from an EventSource and sends writes as ordinary HTTP requests (fetch).
const { escapeHtml, renderAccount, renderCart } = require('../public/render');
const { PRODUCTS } = require('./catalog');
const { peerLinksHtml, productsHtml } = require('./views');

function ssePage({ server, user, cart, peers }) {
  const boot = { server, products: PRODUCTS };
  const peerLinks = peerLinksHtml(peers);
  const products = productsHtml();
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cart over SSE · server ${escapeHtml(server.name)} (:${server.port}) · live-session</title>
  <link rel="stylesheet" href="/static/style.css">
</head>
<body data-live="off" data-server="${escapeHtml(server.name)}">
  <header class="top">
    <div class="brand"><strong>live-session</strong> cart demo · Server-Sent Events</div>
    <div class="servers">
      <span class="badge server" data-testid="rendered-by">page from server ${escapeHtml(server.name)} · :${server.port}</span>
      <span class="badge status" id="live-status" data-testid="live-status">no live stream</span>
      <a class="peer" href="/" data-testid="socket-io-page">the socket.io page →</a>
      ${peerLinks}
    </div>
  </header>
  <p class="notice" id="notice" role="status" hidden></p>
  <main class="grid">
    <section class="panel products">
      <h2>Products</h2>
      <p class="hint">This page follows the session with an <code>EventSource</code>; every write is an ordinary HTTP request.</p>
      <ul class="catalog">${products}
      </ul>
    </section>
    <div class="side">
      <section class="panel account" id="account">${renderAccount(user)}</section>
      <section class="panel cart" id="cart">${renderCart(cart, PRODUCTS)}</section>
      <section class="panel log">
        <h2>Live events</h2>
        <ol id="log" data-testid="log"><li class="muted">none yet</li></ol>
      </section>
    </div>
  </main>
  <script id="boot" type="application/json">${JSON.stringify(boot).replace(/</g, '\\u003c')}</script>
  <script src="/static/render.js"></script>
  <script src="/static/cart-sse.js"></script>
</body>
</html>
`;
}

module.exports = { ssePage };
