'use strict';
// Supervisor: keeps SHOP_WORKERS (default 2) worker processes alive, restarting any that dies,
// like systemd or a container orchestrator would. SIGTERM stops the workers gracefully and
// exits once all of them have exited.

const { fork } = require('node:child_process');
const path = require('node:path');

const count = Number(process.env.SHOP_WORKERS || 2);
const children = new Map();
let stopping = false;

function start(n) {
  const child = fork(path.join(__dirname, 'worker.js'), [String(n)], { stdio: 'inherit' });
  children.set(n, child);
  child.on('exit', (code, signal) => {
    children.delete(n);
    if (stopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    console.log(`[supervisor] bullworker-${n} (pid ${child.pid}) exited with ${signal || code}; restarting`);
    start(n);
  });
}

for (let n = 1; n <= count; n += 1) start(n);

process.on('SIGTERM', () => {
  stopping = true;
  if (children.size === 0) process.exit(0);
  for (const child of children.values()) child.kill('SIGTERM');
});
