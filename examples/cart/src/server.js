// One app server of the demo, as its own process.
// Env: REDIS_URL (default redis://127.0.0.1:6379), PORT (default 3000; 0 = any free port),
// SERVER_NAME (shown on the page), SESSION_SECRET (the same on every server; unset: a random one
// for this process alone), PEER_PORTS (comma-separated ports of the other servers, linked from the
// page), HOST (default 127.0.0.1, this machine only; 0.0.0.0 for every interface), SESSION_LIFETIME (ms an
// idle session lives: e.g. 60000 to see "expired" in the activity log within a minute; default two days).
// Prints `READY {"name":..,"port":..,"url":..}` once listening.
const { randomBytes } = require('node:crypto');
const { createApp } = require('./app');

const port = Number(process.env.PORT ?? 3000);
const name = process.env.SERVER_NAME || `:${port}`;
const secret = process.env.SESSION_SECRET || randomBytes(32).toString('hex');
if (!process.env.SESSION_SECRET) console.error('no SESSION_SECRET: a random one for this process (its sessions end with it; other servers cannot read them)');
const peerPorts = (process.env.PEER_PORTS || '').split(',').map(Number).filter((p) => p > 0);

const lifetime = Number(process.env.SESSION_LIFETIME) || undefined;
const { server, close } = createApp({ redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379', name, secret, peerPorts, lifetime });

server.on('error', (err) => {
  console.error(`cannot listen on port ${port}: ${err.message}`);
  process.exit(1);
});
server.listen(port, process.env.HOST || '127.0.0.1', () => {
  const actual = server.address().port;
  process.stdout.write(`READY ${JSON.stringify({ name, port: actual, url: `http://localhost:${actual}/` })}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 3000);
  force.unref();
  close().finally(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Never outlive the process that started us (a killed start script, a crashed test runner).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown();
}, 1000).unref();
