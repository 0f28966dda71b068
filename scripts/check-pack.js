#!/usr/bin/env node
// Checks that the published packages install and run the way a user gets them (part of `npm test`):
//   1. `npm pack` of @live-session/core, socket.io, fastify, sse and ws (prepack builds them);
//   2. each tarball holds dist/, LICENSE, README.md, the sources its source maps name, and no
//      `workspace:` range where an installer reads one (dependencies, peer, optional);
//   3. a scratch app in a temp folder OUTSIDE the workspace installs the tarballs with plain npm
//      from the registry (with express, express-session, fastify, ioredis, socket.io, socket.io-client and ws);
//   4. the app runs once as CommonJS and once as an ES module against a private redis-server: an
//      HTTP request creates a session, a socket.io-client socket, an SSE stream and a ws WebSocket
//      with its cookie follow it, a direct store write reaches all three, and the store reads the
//      session back; then a Fastify app with @live-session/fastify logs in and reads the session
//      back, and the store has it.
// Needs npm (with the registry reachable) and redis-server on PATH. About 20-60 s.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const PACKAGES = ['packages/core', 'packages/socket.io', 'packages/fastify', 'packages/sse', 'packages/ws'];
const DEADLINE = Date.now() + 150_000; // a bound for the whole check, whatever hangs
const started = Date.now();

function fail(message) {
  console.error(`check-pack: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

function npm(args, cwd) {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: Math.max(1000, DEADLINE - Date.now()) });
}

/** Packs one package into `dest` and checks what the tarball holds; returns the tarball's path. */
function pack(dir, dest) {
  const [info] = JSON.parse(npm(['pack', '--json', '--pack-destination', dest], path.join(ROOT, dir)));
  const files = new Set(info.files.map((f) => f.path));
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, dir, 'package.json'), 'utf8'));
  for (const needed of ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts']) {
    if (!files.has(needed)) fail(`${info.name}: the tarball has no ${needed}`);
  }
  // A source map is only useful with the sources it names: every one of them must be in the tarball.
  for (const file of files) {
    if (!file.endsWith('.map')) continue;
    const map = JSON.parse(fs.readFileSync(path.join(ROOT, dir, file), 'utf8'));
    for (const source of map.sources) {
      const shipped = path.posix.normalize(path.posix.join(path.posix.dirname(file), source));
      if (!files.has(shipped)) fail(`${info.name}: ${file} names ${shipped}, which the tarball does not hold`);
    }
  }
  // npm pack copies package.json as it is: a `workspace:` range there is uninstallable. npm never
  // installs an installed package's devDependencies, so the workspace links may stay there.
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) fail(`${info.name}: ${field}.${name} is "${range}": npm cannot install it`);
    }
  }
  return path.join(dest, info.filename);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function pong(port) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const done = (ok) => (socket.destroy(), resolve(ok));
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

async function startRedis(dir) {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  child.on('error', (err) => fail(`redis-server: ${err.message}`));
  while (!(await pong(port))) {
    if (Date.now() > DEADLINE || child.exitCode !== null) fail('the private redis-server did not answer');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

// The scratch app, written once and emitted as CommonJS (require) and as an ES module (import).
const APP = (imports) => `${imports}
const port = Number(process.env.PORT);
const client = new Redis(process.env.REDIS_URL);
client.on('error', (err) => console.error('redis:', err.message));
const store = new LiveSessionStore({ client });
const sessionMiddleware = session({ store, secret: 'pack check', resave: false, saveUninitialized: false });
const app = express();
app.use(sessionMiddleware);
app.post('/login', (req, res) => {
  req.session.user = 'ada';
  res.json({ sid: req.session.id });
});
const server = http.createServer(app);
const io = new Server(server, { destroyUpgrade: false }); // the ws upgrades on /live are ours
io.engine.use(sessionMiddleware);
const expose = (s) => ({ user: s.user ?? null, cart: s.cart ?? [] });
const live = createLiveSession(io, { store, expose });
io.use(live.middleware);
const sse = createLiveSse({ store, expose });
app.get('/live', sse.stream);
const wsLive = createLiveWs(new WebSocketServer({ noServer: true }), { store, secret: 'pack check', expose });
server.on('upgrade', (req, socket, head) => { if (req.url === '/live') wsLive.handleUpgrade(req, socket, head); });

const timer = setTimeout(() => { console.error('timed out'); process.exit(1); }, 20000);
server.listen(port, '127.0.0.1', async () => {
  const response = await fetch(\`http://127.0.0.1:\${port}/login\`, { method: 'POST' });
  const { sid } = await response.json();
  const cookie = response.headers.getSetCookie()[0].split(';')[0];
  const views = { socket: [], sse: [], ws: [] };
  let written = false;
  const seen = async (kind, view) => {
    views[kind].push(view);
    // Every transport joined: now a write, which all three must get.
    if (!written && Object.values(views).every((list) => list.length > 0)) {
      written = true;
      await store.putSession(sid, 'cart', ['apple']);
    }
    if (!Object.values(views).every((list) => list.at(-1)?.cart.length === 1)) return;
    const stored = await store.getSession(sid);
    if (stored.user !== 'ada' || stored.cart[0] !== 'apple') throw new Error('read back ' + JSON.stringify(stored));
    console.log('OK ' + JSON.stringify(views));
    clearTimeout(timer);
    socket.disconnect();
    ws.close();
    stream.destroy();
    await Promise.all([live.close(), sse.close(), wsLive.close()]);
    io.close();
    await client.quit();
  };
  const socket = ioClient(\`http://127.0.0.1:\${port}\`, { transports: ['websocket'], extraHeaders: { cookie } });
  socket.on('live_session:update', (view) => seen('socket', view));
  const ws = new WebSocket(\`ws://127.0.0.1:\${port}/live\`, { headers: { cookie } });
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    if (message.type === 'update') seen('ws', message.data);
  });
  const stream = http.get(\`http://127.0.0.1:\${port}/live\`, { headers: { cookie } }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      for (const line of chunk.split('\\n')) if (line.startsWith('data: ')) seen('sse', JSON.parse(line.slice(6)));
    });
  });
});
`;
const CJS = APP(`const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { Redis } = require('ioredis');
const { Server } = require('socket.io');
const { io: ioClient } = require('socket.io-client');
const { LiveSessionStore } = require('@live-session/core');
const { createLiveSession } = require('@live-session/socket.io');
const { createLiveSse } = require('@live-session/sse');
const { createLiveWs } = require('@live-session/ws');
const { WebSocket, WebSocketServer } = require('ws');`);
const ESM = APP(`import http from 'node:http';
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io as ioClient } from 'socket.io-client';
import { LiveSessionStore } from '@live-session/core';
import { createLiveSession } from '@live-session/socket.io';
import { createLiveSse } from '@live-session/sse';
import { createLiveWs } from '@live-session/ws';
import { WebSocket, WebSocketServer } from 'ws';`);

// The Fastify scratch app: @live-session/fastify on the same kind of store, over real HTTP.
const FASTIFY_APP = (imports) => `${imports}
const client = new Redis(process.env.REDIS_URL);
client.on('error', (err) => console.error('redis:', err.message));
const store = new LiveSessionStore({ client });
const app = Fastify();
app.register(fastifyLiveSession, { store, secret: 'pack check' });
app.post('/login', async (request) => {
  await request.session.regenerate();
  request.session.user = 'ada';
  return { sid: request.session.id };
});
app.get('/me', async (request) => ({ user: request.session.user ?? null }));

const timer = setTimeout(() => { console.error('timed out'); process.exit(1); }, 20000);
const base = await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
const login = await fetch(base + '/login', { method: 'POST' });
const { sid } = await login.json();
const cookie = login.headers.getSetCookie()[0].split(';')[0];
const me = await (await fetch(base + '/me', { headers: { cookie } })).json();
const stored = await store.getSession(sid);
if (me.user !== 'ada' || stored.user !== 'ada' || !cookie.startsWith('connect.sid=s%3A')) throw new Error('read back ' + JSON.stringify({ me, stored, cookie }));
console.log('OK ' + JSON.stringify(me));
clearTimeout(timer);
await app.close();
await client.quit();
`;
// Top-level await: the CommonJS variant runs inside an async function.
const FASTIFY_CJS = `(async () => {\n${FASTIFY_APP(`const Fastify = require('fastify');
const { Redis } = require('ioredis');
const { LiveSessionStore } = require('@live-session/core');
const { fastifyLiveSession } = require('@live-session/fastify');`)}\n})().catch((err) => { console.error(err); process.exit(1); });\n`;
const FASTIFY_ESM = FASTIFY_APP(`import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { LiveSessionStore } from '@live-session/core';
import { fastifyLiveSession } from '@live-session/fastify';`);

function run(app, file, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: app, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), Math.max(1000, DEADLINE - Date.now()));
    child.on('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
}

const seconds = (from, to) => ((to - from) / 1000).toFixed(1);

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'live-session-pack-'));
  if (!path.relative(ROOT, dir).startsWith('..')) fail(`the temp folder ${dir} is inside the workspace`);
  let redis;
  try {
    const tarballs = PACKAGES.map((p) => pack(p, dir));
    const packed = Date.now();
    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    const dependencies = {
      '@live-session/core': `file:${tarballs[0]}`,
      '@live-session/socket.io': `file:${tarballs[1]}`,
      '@live-session/fastify': `file:${tarballs[2]}`,
      '@live-session/sse': `file:${tarballs[3]}`,
      '@live-session/ws': `file:${tarballs[4]}`,
      express: '^5.1.0',
      'express-session': '^1.19.0',
      fastify: '^5.0.0',
      ioredis: '^6.0.0',
      'socket.io': '^4.8.1',
      'socket.io-client': '^4.8.1',
      ws: '^8.18.0',
    };
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, dependencies }, null, 2));
    npm(['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
    const installed = Date.now();
    fs.writeFileSync(path.join(app, 'app.cjs'), CJS);
    fs.writeFileSync(path.join(app, 'app.mjs'), ESM);
    fs.writeFileSync(path.join(app, 'fastify-app.cjs'), FASTIFY_CJS);
    fs.writeFileSync(path.join(app, 'fastify-app.mjs'), FASTIFY_ESM);
    redis = await startRedis(dir);
    for (const file of ['app.cjs', 'app.mjs', 'fastify-app.cjs', 'fastify-app.mjs']) {
      const { code, out } = await run(app, file, { REDIS_URL: redis.url, PORT: String(await freePort()) });
      if (code !== 0 || !out.includes('OK ')) fail(`${file} against the installed tarballs exited with ${code}:\n${out}`);
    }
    console.log(`check-pack: the ${tarballs.length} tarballs install with npm outside the workspace and run as CommonJS and ESM against Redis (${seconds(started, Date.now())} s: pack and build ${seconds(started, packed)} s, npm install ${seconds(packed, installed)} s)`);
  } finally {
    redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  if (!process.exitCode) console.error(`check-pack: ${err.stack ?? err}`);
  process.exitCode = 1;
});
