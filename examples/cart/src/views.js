// The page, rendered on the server: it works without JavaScript (every write is a form POST);
// public/cart.js then keeps the account and cart panels live.
const { escapeHtml, money, writeForm, renderAccount, renderCart } = require('../public/render');
const { PRODUCTS } = require('./catalog');

/** Links to the other servers of the demo. */
function peerLinksHtml(peers) {
  return peers.map((p) => `<a class="peer" href="${escapeHtml(p.url)}" data-testid="peer">open ${escapeHtml(p.label)} →</a>`).join(' ');
}

/** The catalogue, each product with its "Add to cart" form. */
function productsHtml() {
  return PRODUCTS.map(
    (p) => `
        <li class="product">
          <span class="swatch" style="background:${escapeHtml(p.color)}">${escapeHtml(p.name[0])}</span>
          <div class="about">
            <h3>${escapeHtml(p.name)}</h3>
            <p>${escapeHtml(p.blurb)}</p>
          </div>
          <span class="price">${money(p.price)}</span>
          ${writeForm('add', p.id, 'Add to cart')}
        </li>`,
  ).join('');
}

function page({ server, user, cart, peers, error }) {
  const boot = { server, products: PRODUCTS };
  const peerLinks = peerLinksHtml(peers);
  const products = productsHtml();
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cart · server ${escapeHtml(server.name)} (:${server.port}) · live-session</title>
  <link rel="stylesheet" href="/static/style.css">
  <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='4' fill='%233b5bdb'/%3E%3Ccircle cx='8' cy='8' r='3' fill='%2369db7c'/%3E%3C/svg%3E">
</head>
<body data-live="off" data-server="${escapeHtml(server.name)}">
  <header class="top">
    <div class="brand"><strong>live-session</strong> cart demo</div>
    <div class="servers">
      <span class="badge server" data-testid="rendered-by">page from server ${escapeHtml(server.name)} · :${server.port}</span>
      <span class="badge status" id="live-status" data-testid="live-status">no live connection</span>
      ${peerLinks}
    </div>
  </header>
  ${error ? `<p class="notice error" role="alert">${escapeHtml(error)}</p>` : ''}
  <p class="notice" id="notice" role="status" hidden></p>
  <main class="grid">
    <section class="panel products">
      <h2>Products</h2>
      <fieldset class="mode" id="mode" disabled>
        <legend>Write the session through</legend>
        <label><input type="radio" name="mode" value="form" checked data-testid="mode-form"> an HTTP form POST <small>(req.session, then a redirect)</small></label>
        <label><input type="radio" name="mode" value="live" data-testid="mode-live"> a live socket event <small>(live.updateSession, atomic)</small></label>
      </fieldset>
      <ul class="catalog">${products}
      </ul>
    </section>
    <div class="side">
      <section class="panel account" id="account">${renderAccount(user)}</section>
      <section class="panel devices" id="devices" data-testid="devices" hidden></section>
      <section class="panel activity" id="activity" data-testid="activity" hidden></section>
      <section class="panel cart" id="cart">${renderCart(cart, PRODUCTS)}</section>
      <section class="panel log">
        <h2>Live events</h2>
        <ol id="log" data-testid="log"><li class="muted">none yet</li></ol>
      </section>
    </div>
  </main>
  <footer>
    Open the other server in another tab: the same cookie, the same session, the same cart.
    Changes made by either server, through HTTP or the socket, show up everywhere within a moment.
  </footer>
  <script id="boot" type="application/json">${JSON.stringify(boot).replace(/</g, '\\u003c')}</script>
  <script src="/socket.io/socket.io.js"></script>
  <script src="/static/render.js"></script>
  <script src="/static/cart.js"></script>
  <script src="/static/devices.js"></script>
  <script src="/static/activity.js"></script>
</body>
</html>
`;
}

module.exports = { page, peerLinksHtml, productsHtml };
