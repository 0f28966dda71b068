// The products of the demo shop and the pure cart operations shared by the HTTP and live paths.
// A cart is a list of lines `{ id, qty }` in the order they were first added.

const PRODUCTS = [
  { id: 'mug', name: 'Enamel mug', price: 1200, color: '#e4572e', blurb: 'Keeps coffee warm through one more meeting.' },
  { id: 'notebook', name: 'Dot-grid notebook', price: 950, color: '#29335c', blurb: '120 pages, lies flat.' },
  { id: 'socks', name: 'Merino socks', price: 1800, color: '#17bebb', blurb: 'One pair, no holes yet.' },
  { id: 'plant', name: 'Desk plant', price: 2400, color: '#4c9f38', blurb: 'Hard to kill. We tried.' },
];

const byId = new Map(PRODUCTS.map((p) => [p.id, p]));

function productOf(id) {
  return typeof id === 'string' ? byId.get(id) : undefined;
}

/** Accepts only well-formed lines of known products (a session is data from Redis: never trust its shape). */
function normalize(cart) {
  if (!Array.isArray(cart)) return [];
  return cart.filter((line) => line && productOf(line.id) && Number.isSafeInteger(line.qty) && line.qty > 0);
}

function addItem(cart, id) {
  const lines = normalize(cart);
  const line = lines.find((l) => l.id === id);
  return line ? lines.map((l) => (l === line ? { id, qty: l.qty + 1 } : l)) : [...lines, { id, qty: 1 }];
}

function removeItem(cart, id) {
  return normalize(cart)
    .map((l) => (l.id === id ? { id, qty: l.qty - 1 } : l))
    .filter((l) => l.qty > 0);
}

function countOf(cart) {
  return normalize(cart).reduce((n, l) => n + l.qty, 0);
}

function totalOf(cart) {
  return normalize(cart).reduce((sum, l) => sum + l.qty * productOf(l.id).price, 0);
}

module.exports = { PRODUCTS, productOf, normalize, addItem, removeItem, countOf, totalOf };
