#!/usr/bin/env node
// `npm start` (after `npm run setup`): two app servers of the cart demo, as separate processes on
// two ports, sharing one Redis. Ctrl-C (SIGINT) or SIGTERM stops everything this script started.
//
// Ports: arguments (`npm start -- 4000 4001`), else PORTS="4000,4001", else 3000 and 3001.
// Redis: REDIS_URL if set; else a server answering PING on 127.0.0.1:6379; else a private
// `redis-server` from PATH on a free port, without persistence, stopped on exit; else exit with
// one line saying how to get Redis.
// Secret: SESSION_SECRET if set, else a random one for this start, the same for both servers (so
// the sessions of a start end with it). Address: 127.0.0.1; HOST=0.0.0.0 serves other machines too.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { createConnection, createServer } = require('node:net');
const path = require('node:path');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const NAMES = ['A', 'B'];
const SECRET = process.env.SESSION_SECRET || randomBytes(32).toString('hex');
const children = []; // { label, child }
let stopping = false;

function fail(message) {
  console.error(`cart demo: ${message}`);
  stop(1);
}

function ports() {
  const given = process.argv.slice(2).length > 0 ? process.argv.slice(2) : (process.env.PORTS || '3000,3001').split(',');
  const list = given.map((p) => Number(String(p).trim()));
  if (list.length !== 2 || list.some((p) => !Number.isInteger(p) || p < 1 || p > 65535) || list[0] === list[1]) {
    console.error('cart demo: give two different ports, e.g. `npm start -- 4000 4001` or PORTS=4000,4001');
    process.exit(2);
  }
  return list;
}

function ping(host, port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith("+PONG")));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function redis() {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, how: 'REDIS_URL' };
  if (await ping('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', how: 'the Redis already running on 127.0.0.1:6379' };
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    console.error(
      'cart demo: no Redis: set REDIS_URL, start one on 127.0.0.1:6379 (e.g. `docker run -p 6379:6379 redis:7`), or install redis-server (apt-get install redis-server / brew install redis)',
    );
    process.exit(1);
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true, // its own process group: Ctrl-C reaches this script, which stops it last
  });
  watch('redis', child);
  const deadline = Date.now() + 10_000;
  while (!(await ping('127.0.0.1', port))) {
    if (stopping) return null;
    if (Date.now() > deadline) return fail(`the private redis-server did not answer on port ${port}`), null;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, how: `a private redis-server on port ${port} (stopped on exit)` };
}

/** Any child that exits while we are not stopping takes everything down with it. */
function watch(label, child) {
  children.push({ label, child });
  child.on('error', (err) => fail(`${label}: ${err.message}`));
  child.on('exit', (code, signal) => {
    if (!stopping) fail(`${label} exited (${signal ?? `code ${code}`})`);
  });
}

function startServer(name, port, peerPort, redisUrl) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, REDIS_URL: redisUrl, PORT: String(port), SERVER_NAME: name, PEER_PORTS: String(peerPort), SESSION_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: Ctrl-C reaches this script, which stops the servers first
  });
  watch(`server ${name}`, child);
  const prefix = (stream, out) => {
    let rest = '';
    stream.on('data', (chunk) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop();
      for (const line of lines) if (!line.startsWith('READY ')) out.write(`[${name}] ${line}\n`);
    });
  };
  prefix(child.stderr, process.stderr);
  return new Promise((resolve) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const line = seen.split('\n').find((l) => l.startsWith('READY '));
      if (line) resolve(JSON.parse(line.slice('READY '.length)));
    });
    prefix(child.stdout, process.stdout);
  });
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  const alive = children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
  // App servers first (they close their Redis connections), then a private Redis.
  const servers = alive.filter(({ label }) => label !== 'redis');
  const redisChild = alive.find(({ label }) => label === 'redis');
  const exited = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve)));
  for (const { child } of servers) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const { child } of alive) child.kill('SIGKILL');
  }, 5000);
  Promise.all(servers.map(({ child }) => exited(child)))
    .then(() => {
      if (redisChild) redisChild.child.kill('SIGTERM');
      return redisChild && exited(redisChild.child);
    })
    .then(() => {
      clearTimeout(force);
      process.exit(code);
    });
}

// Last resort (an unexpected crash of this script): nothing it started may outlive it.
process.on('exit', () => {
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
process.on('uncaughtException', (err) => fail(err.stack || err.message));

process.on('SIGINT', () => {
  if (!stopping) console.log('\nstopping…');
  stop(0);
});
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));
// Started through `npm start`: if npm or its shell goes away without passing on a signal, stop too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop(0);
}, 1000).unref();

async function main() {
  const [portA, portB] = ports();
  const store = await redis();
  if (!store || stopping) return;
  const [a, b] = await Promise.all([startServer(NAMES[0], portA, portB, store.url), startServer(NAMES[1], portB, portA, store.url)]);
  if (stopping) return;
  console.log(
    [
      '',
      'live-session cart demo: two app servers, one Redis',
      `  server A  ${a.url}`,
      `  server B  ${b.url}`,
      `  Redis     ${store.how}`,
      '',
      'Open both addresses in two tabs of the same browser: one cookie, one session, one cart.',
      process.env.HOST ? `Listening on ${process.env.HOST}.` : 'Listening on 127.0.0.1 only (HOST=0.0.0.0 npm start serves other machines too).',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => fail(err.stack || err.message));
