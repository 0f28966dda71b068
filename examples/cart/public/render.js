// The parts of the page that change live, rendered the same way by the server (first paint, no
// JavaScript needed) and by the browser (on every live_session:update). Plain ES2020, no build step.
(function (root, factory) {
  if (typeof module === 'object' && module.exports) module.exports = factory();
  else root.CartRender = factory();
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  function money(cents) {
    return '€' + (cents / 100).toFixed(2);
  }

  /** Lines of known products only, with their product. */
  function linesOf(cart, products) {
    if (!Array.isArray(cart)) return [];
    const byId = new Map(products.map((p) => [p.id, p]));
    return cart
      .filter((line) => line && byId.has(line.id) && Number.isSafeInteger(line.qty) && line.qty > 0)
      .map((line) => ({ product: byId.get(line.id), qty: line.qty }));
  }

  /** A form that writes the cart: posted as is without JavaScript (or in "HTTP form" mode), sent over the socket in "live" mode. */
  function writeForm(action, productId, label, extraClass) {
    return (
      '<form method="post" action="/cart/' + action + '" class="write" data-action="' + action + '">' +
      '<input type="hidden" name="product" value="' + escapeHtml(productId) + '">' +
      '<button type="submit" class="' + (extraClass || '') + '" data-testid="' + action + '-' + escapeHtml(productId) + '">' + label + '</button>' +
      '</form>'
    );
  }

  function renderAccount(user) {
    if (user) {
      return (
        '<h2>Account</h2>' +
        '<p class="who">Signed in as <strong data-testid="user">' + escapeHtml(user) + '</strong></p>' +
        '<form method="post" action="/logout"><button type="submit" class="secondary" data-testid="logout">Log out</button></form>' +
        '<p class="hint">Logging out destroys the session: every tab of it, on every server, is told at once.</p>'
      );
    }
    return (
      '<h2>Account</h2>' +
      '<p class="who" data-testid="user-none">Not signed in.</p>' +
      '<form method="post" action="/login" class="login">' +
      '<input name="name" placeholder="Your name" required maxlength="40" autocomplete="off" data-testid="login-name">' +
      '<button type="submit" data-testid="login">Log in</button>' +
      '</form>' +
      '<p class="hint">Logging in gives the session a new id (session-fixation protection) and keeps the cart.</p>'
    );
  }

  function renderCart(cart, products) {
    const lines = linesOf(cart, products);
    const count = lines.reduce((n, l) => n + l.qty, 0);
    const total = lines.reduce((sum, l) => sum + l.qty * l.product.price, 0);
    const items =
      lines.length === 0
        ? '<p class="empty" data-testid="cart-empty">Your cart is empty.</p>'
        : '<ul class="lines" data-testid="cart-lines">' +
          lines
            .map(
              (l) =>
                '<li data-product="' + escapeHtml(l.product.id) + '">' +
                '<span class="swatch small" style="background:' + escapeHtml(l.product.color) + '"></span>' +
                '<span class="qty" data-testid="qty-' + escapeHtml(l.product.id) + '">' + l.qty + ' ×</span>' +
                '<span class="name">' + escapeHtml(l.product.name) + '</span>' +
                '<span class="price">' + money(l.qty * l.product.price) + '</span>' +
                writeForm('remove', l.product.id, 'Remove one', 'secondary small') +
                '</li>',
            )
            .join('') +
          '</ul>';
    return (
      '<h2>Cart <span class="count" data-testid="cart-count">' + count + (count === 1 ? ' item' : ' items') + '</span></h2>' +
      items +
      '<p class="total">Total <strong data-testid="cart-total">' + money(total) + '</strong></p>'
    );
  }

  return { escapeHtml, money, writeForm, renderAccount, renderCart };
});
