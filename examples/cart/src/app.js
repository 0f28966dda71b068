// The cart demo app: express 5 + express-session + socket.io, with the session stored by
// @live-session/core (one Redis hash per session, every change published) and followed live by
// @live-session/socket.io (each socket in its session's room, on whichever server it is).
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const session = require('express-session');
const { Server } = require('socket.io');
const Redis = require('ioredis').default;
const { LiveSessionStore } = require('@live-session/core');
const { createLiveSession } = require('@live-session/socket.io');
const { createLiveSse } = require('@live-session/sse');
const { productOf, addItem, removeItem } = require('./catalog');
const { page } = require('./views');
const { ssePage } = require('./sse-page');
const { createDevices, storeOptions: deviceIndex } = require('./devices');
const { createActivity } = require('./activity');

const COOKIE = 'cart.sid';

/**
 * @param {object} options
 * @param {string} options.redisUrl  the Redis every server of the demo shares
 * @param {string} options.name      this server's name, shown on the page ("A", "B")
 * @param {string} options.secret    the cookie-signing secret: the same on every server
 * @param {number[]} [options.peerPorts] the other servers' ports, linked from the page
 * @param {number} [options.lifetime]  ms an idle session lives (the store's lifetime; default two days)
 */
function createApp({ redisUrl, name, secret, peerPorts = [], lifetime }) {
  // Auto-pipelining: the commands of concurrent requests share Redis's system calls (core README).
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  client.on('error', (err) => console.error(`redis: ${err.message}`));
  // userOf/describe: the store keeps an index of each user's sessions ("Your devices", devices.js).
  // events: it records every session's lifecycle, which the activity log shows (activity.js).
  // cache: requests read their sessions from memory, exact on both servers (the core README, "Reads from memory").
  const store = new LiveSessionStore({ client, ...deviceIndex, events: true, cache: true, ...(lifetime ? { lifetime } : {}) });
  const sessionMiddleware = session({
    name: COOKIE,
    store,
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  });

  const app = express();
  app.disable('x-powered-by');
  app.use('/static', express.static(path.join(__dirname, '..', 'public'), { maxAge: 0 }));
  app.use(express.urlencoded({ extended: false, limit: '4kb' }));
  app.use(sessionMiddleware);

  const server = http.createServer(app);
  const serverInfo = () => ({ name, port: server.address()?.port });

  app.get('/', (req, res) => {
    // Store the session on the first visit, so that its socket has a session to follow at once.
    if (!Array.isArray(req.session.cart)) req.session.cart = [];
    const peers = peerPorts.map((port) => ({ url: `${req.protocol}://${req.hostname}:${port}/`, label: `the other server (:${port})` }));
    const error = req.query.error === 'name' ? 'Type a name (1 to 40 characters) to log in.' : undefined;
    res.type('html').send(page({ server: serverInfo(), user: req.session.user ?? null, cart: req.session.cart, peers, error }));
  });

  // The HTTP path: an ordinary express-session write. The store saves only the keys this request
  // changed and publishes the change, so every socket of the session sees it.
  app.post('/cart/add', (req, res) => {
    const product = productOf(req.body?.product);
    if (product) req.session.cart = addItem(req.session.cart, product.id);
    res.redirect(303, '/');
  });
  app.post('/cart/remove', (req, res) => {
    const product = productOf(req.body?.product);
    if (product) req.session.cart = removeItem(req.session.cart, product.id);
    res.redirect(303, '/');
  });

  app.post('/login', (req, res, next) => {
    const user = String(req.body?.name ?? '').trim();
    if (user.length < 1 || user.length > 40) return res.redirect(303, '/?error=name');
    const cart = req.session.cart;
    // A new session id at login (session-fixation protection): the old session is destroyed, and
    // its sockets get live_session:destroy, never the logged-in session.
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = user;
      req.session.cart = Array.isArray(cart) ? cart : [];
      // Saved (and so in the user's index) before the response ends: then the other devices look.
      res.once('finish', () => devices.changed(user));
      res.redirect(303, '/');
    });
  });
  app.post('/logout', (req, res, next) => {
    const user = req.session.user;
    req.session.destroy((err) => {
      if (err) return next(err);
      devices.changed(user);
      res.clearCookie(COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' });
      res.redirect(303, '/');
    });
  });

  app.get('/health', (_req, res) => res.json({ ok: true, server: serverInfo() }));

  // The same cart followed over Server-Sent Events (public/cart-sse.js): the same projection as the
  // sockets get, streamed to an EventSource; its writes are the HTTP routes above.
  const exposeCart = (s) => ({ user: s.user ?? null, cart: Array.isArray(s.cart) ? s.cart : [] });
  const sse = createLiveSse({ store, expose: exposeCart });
  sse.on('error', (err) => console.error(`live-session (sse): ${err.message}`));
  app.get('/live/events', sse.stream);
  app.get('/sse', (req, res) => {
    if (!Array.isArray(req.session.cart)) req.session.cart = []; // stored, so that the stream has a session to follow
    const peers = peerPorts.map((port) => ({ url: `${req.protocol}://${req.hostname}:${port}/sse`, label: `the other server's SSE page (:${port})` }));
    res.type('html').send(ssePage({ server: serverInfo(), user: req.session.user ?? null, cart: req.session.cart, peers }));
  });

  const io = new Server(server);
  io.engine.use(sessionMiddleware); // the socket's session is the one of its signed cookie
  const live = createLiveSession(io, {
    store,
    // All the browser ever sees of the session. Anything else in it stays on the server.
    expose: exposeCart,
  });
  live.on('error', (err) => console.error(`live-session: ${err.message}`));
  io.use(live.middleware);

  const devices = createDevices({ store, client, io, live, secret });
  app.use(devices.router);
  const activity = createActivity({ store, client, io, live, changed: devices.changed });
  app.get('/activity', async (req, res, next) => {
    if (typeof req.session.user !== 'string') return res.status(401).json({ activity: [] });
    try {
      res.set('cache-control', 'no-store').json({ activity: await activity.list(req.session.user) });
    } catch (err) {
      next(err);
    }
  });

  io.on('connection', (socket) => {
    socket.emit('cart:hello', { server: serverInfo(), following: live.sessionOf(socket) !== null });
    // The live path: atomic read-modify-write of the cart key (two tabs adding at once both count),
    // where the original read the cart from the socket's assigns and wrote it back.
    const write = (change) => async (message, ack) => {
      const reply = typeof ack === 'function' ? ack : () => {};
      const product = productOf(message?.product);
      if (!product) return reply({ ok: false, error: 'unknown product' });
      if (live.sessionOf(socket) === null) return reply({ ok: false, error: 'no-session' });
      try {
        await live.updateSession(socket, 'cart', (cart) => change(cart, product.id));
        reply({ ok: true, server: name });
      } catch (err) {
        reply({ ok: false, error: err.code === 'ERR_LIVE_SESSION_NOT_FOUND' ? 'no-session' : 'failed' });
      }
    };
    socket.on('cart:add', write(addItem));
    socket.on('cart:remove', write(removeItem));
  });

  async function close() {
    await sse.close(); // ends the event streams: the browsers reconnect to a server that is up
    const closed = new Promise((resolve) => io.close(() => resolve())); // also closes the HTTP server
    server.closeAllConnections(); // idle keep-alive connections of browsers
    await closed;
    await live.close();
    await activity.close();
    await devices.close();
    await store.close(); // the subscriber connection the cache, the sockets and the streams shared
    await client.quit().catch(() => client.disconnect());
  }

  return { app, server, io, live, store, client, close };
}

module.exports = { createApp, COOKIE };
