#!/usr/bin/env node
// `npm start`: sets up the workspace (`npm run setup`: install and build), then runs the cart demo
// (examples/cart/scripts/start.js) IN THIS PROCESS. npm runs a script through `sh -c`; with one
// plain command the shell execs node, so the SIGINT or SIGTERM that npm passes on (a process
// manager, `kill`) reaches this process, which stops the demo's servers and its private Redis.
// A chain such as `npm run setup && node ...` would leave a shell in between that passes nothing on.
//
//   npm start                      setup, then the demo on ports 3000 and 3001
//   npm start -- 4000 4001         other ports (or PORTS=4000,4001)
//   npm start -- --no-setup        skip the setup (already installed and built)
'use strict';
const { spawn } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const skip = process.argv.indexOf('--no-setup');
if (skip !== -1) process.argv.splice(skip, 1);

function setup() {
  return new Promise((resolve) => {
    const child = spawn('npm', ['run', 'setup'], { cwd: ROOT, stdio: 'inherit' });
    const stop = (signal) => child.kill(signal);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    child.on('error', (err) => {
      console.error(`npm start: cannot run npm run setup: ${err.message}`);
      process.exit(1);
    });
    child.on('exit', (code, signal) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (code !== 0) process.exit(signal ? 130 : code);
      resolve();
    });
  });
}

(skip === -1 ? setup() : Promise.resolve()).then(() => require(path.join(ROOT, 'examples', 'cart', 'scripts', 'start.js')));
