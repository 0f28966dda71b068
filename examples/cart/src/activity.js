// "Activity": what happened to the sessions of the logged-in user, fed by the store's session
// events (watchSessions of @live-session/core): "signed in", "signed out", "signed out on another
// device" (revoked), "expired" (no keyspace notification: the store's due checks find it). Every
// server runs the watcher; each event is handled by one of them, which keeps it in the user's list
// in Redis (the last 20) and tells the user's sockets on every server (devices.changed: the same
// list of sessions changed) that they may look again.
const { watchSessions } = require('@live-session/core');

const KEEP = 20;
const WHAT = { created: 'signed in', destroyed: 'signed out', revoked: 'signed out on another device', expired: 'expired' };

/** The Redis list of a user's activity, and the ids of the events it holds (one slot: a hash tag). */
const keyOf = (user) => `cart_demo:activity:{${user}}`;
const seenKeyOf = (user) => `cart_demo:activity-seen:{${user}}`;

/**
 * Adds an entry unless the event's id is already in (a second delivery: a server that died before
 * acknowledging), keeping the last KEEP. KEYS: the list, the set of ids. ARGV: id, entry, keep.
 */
const ADD_ONCE = `
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
redis.call('PEXPIRE', KEYS[1], 30 * 24 * 3600 * 1000)
redis.call('PEXPIRE', KEYS[2], 30 * 24 * 3600 * 1000)
return 1`;

/**
 * @param {object} deps
 * @param {import('@live-session/core').LiveSessionStore} deps.store  a store created with `events: true`
 * @param {import('ioredis').Redis} deps.client
 * @param {import('socket.io').Server} deps.io
 * @param {{ sessionOf(socket: unknown): { user?: unknown } | null }} deps.live
 * @param {(user: string) => void} deps.changed   tells every server that the user's sessions changed
 */
function createActivity({ store, client, io, live, changed }) {
  client.defineCommand('cartDemoAddActivity', { numberOfKeys: 2, lua: ADD_ONCE });
  const record = async (event) => {
    if (typeof event.user !== 'string') return; // a visitor's session: nobody's activity
    const device = (event.info && event.info.device) || 'an unknown device';
    const entry = JSON.stringify({ what: WHAT[event.type], type: event.type, device, at: event.at });
    if (await client.cartDemoAddActivity(keyOf(event.user), seenKeyOf(event.user), event.id, entry, KEEP)) changed(event.user);
  };
  const watcher = watchSessions(
    store,
    { created: record, destroyed: record, revoked: record, expired: record },
    { onError: (err) => console.error(`activity: ${err.message}`) },
  );

  /** The user's activity, newest first. */
  async function list(user) {
    return (await client.lrange(keyOf(user), 0, KEEP - 1)).map((entry) => JSON.parse(entry));
  }

  io.on('connection', (socket) => {
    socket.on('activity:list', async (ack) => {
      if (typeof ack !== 'function') return;
      const session = live.sessionOf(socket);
      if (!session || typeof session.user !== 'string') return ack({ activity: null });
      try {
        ack({ activity: await list(session.user) });
      } catch (err) {
        ack({ activity: null, error: err.code || 'failed' });
      }
    });
  });

  return { list, close: () => watcher.close() };
}

module.exports = { createActivity, WHAT };
