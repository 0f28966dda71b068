// "Your devices": the sessions of the logged-in user (the store's `userOf` index), each with a
// label from the browser's user agent recorded at login, "log out" per device and "log out all
// other devices". Revoked sessions end through the store (destroy messages with reason "revoked",
// so their sockets on every server get live_session:destroy); the other devices of the user hear
// that their list changed through one demo channel, and ask for it again over their socket
// (devices:list). Not over HTTP: a request reads its session, which counts as activity, and every
// device would then show "last active: now" whenever another one logs in.
const crypto = require('node:crypto');
const express = require('express');

/** Every server of the demo subscribes to it; a message names the user whose list changed. */
const CHANNEL = 'cart_demo:devices';

/**
 * A short label for a user agent, e.g. "Chrome on Linux". A demo needs only these few families;
 * an app that shows more would use a maintained parser (ua-parser-js, bowser).
 */
function deviceLabel(userAgent) {
  const ua = String(userAgent || '');
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'A browser';
  const system = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : 'an unknown system';
  return `${browser} on ${system}`;
}

/** The store options that turn the index on: who a session belongs to, and what to show of it. */
const storeOptions = {
  userOf: (session) => (typeof session.user === 'string' ? session.user : null),
  describe: (req) => ({ device: deviceLabel(req && req.headers['user-agent']) }),
};

/**
 * @param {object} deps
 * @param {import('@live-session/core').LiveSessionStore} deps.store
 * @param {import('ioredis').Redis} deps.client   the demo's Redis client (duplicated to subscribe)
 * @param {import('socket.io').Server} deps.io
 * @param {{ sessionOf(socket: unknown): { user?: unknown } | null }} deps.live
 * @param {string} deps.secret                      keys the device handles
 */
function createDevices({ store, client, io, live, secret }) {
  // The browser never sees another session's id (a bearer secret): each device gets a handle.
  const handleOf = (sid) => crypto.createHmac('sha256', secret).update(sid).digest('base64url').slice(0, 16);

  const subscriber = client.duplicate();
  subscriber.on('error', (err) => console.error(`redis (devices): ${err.message}`));
  subscriber.subscribe(CHANNEL).catch((err) => console.error(`devices: cannot subscribe: ${err.message}`));
  subscriber.on('message', (channel, user) => {
    if (channel !== CHANNEL) return;
    for (const socket of io.of('/').sockets.values()) {
      const session = live.sessionOf(socket);
      if (session && session.user === user) socket.emit('devices:changed');
    }
  });

  /** Tells every server that `user`'s list of devices changed (best effort: the list is re-read anyway). */
  function changed(user) {
    if (typeof user === 'string') client.publish(CHANNEL, user).catch((err) => console.error(`devices: ${err.message}`));
  }

  /** The user's devices as the page shows them; `current` marks the session `sid`. */
  async function list(user, sid) {
    const sessions = await store.sessionsOf(user);
    return sessions.map((s) => ({
      handle: handleOf(s.id),
      label: (s.info && s.info.device) || 'Unknown device',
      createdAt: s.createdAt,
      lastActiveAt: s.lastActiveAt,
      expiresAt: s.expiresAt,
      current: s.id === sid,
    }));
  }

  io.on('connection', (socket) => {
    socket.on('devices:list', async (ack) => {
      if (typeof ack !== 'function') return;
      const session = live.sessionOf(socket);
      if (!session || typeof session.user !== 'string') return ack({ devices: null });
      try {
        ack({ devices: await list(session.user, socket.request.sessionID) });
      } catch (err) {
        ack({ devices: null, error: err.code || 'failed' });
      }
    });
  });

  const router = express.Router();
  const answer = (req, res, body) => (req.accepts(['html', 'json']) === 'json' ? res.json(body) : res.redirect(303, '/'));

  router.get('/devices', async (req, res, next) => {
    const user = req.session.user;
    if (typeof user !== 'string') return res.status(401).json({ devices: [] });
    try {
      res.set('cache-control', 'no-store').json({ devices: await list(user, req.sessionID) });
    } catch (err) {
      next(err);
    }
  });

  // Log out one device of this user (never one of someone else's: the store checks the owner).
  router.post('/devices/logout', async (req, res, next) => {
    const user = req.session.user;
    if (typeof user !== 'string') return answer(req, res, { revoked: 0 });
    try {
      const handle = String((req.body && req.body.device) || '');
      const target = (await store.sessionsOf(user)).find((s) => s.id !== req.sessionID && handleOf(s.id) === handle);
      const revoked = target ? await store.destroySessionsOf(user, { only: [target.id] }) : 0;
      if (revoked > 0) changed(user);
      answer(req, res, { revoked });
    } catch (err) {
      next(err);
    }
  });

  router.post('/devices/logout-others', async (req, res, next) => {
    const user = req.session.user;
    if (typeof user !== 'string') return answer(req, res, { revoked: 0 });
    try {
      const revoked = await store.destroySessionsOf(user, { except: req.sessionID });
      if (revoked > 0) changed(user);
      answer(req, res, { revoked });
    } catch (err) {
      next(err);
    }
  });

  const close = () => subscriber.quit().catch(() => subscriber.disconnect());
  return { router, changed, close };
}

module.exports = { createDevices, deviceLabel, storeOptions };
