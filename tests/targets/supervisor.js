'use strict';
// supervisor.js: a minimal process supervisor (like a PM2 / systemd Restart=always) that keeps a
// crashing child running, for leakhound's restart-detection test.
//
//   node supervisor.js CHILD.js [ARGS...]
//
// Starts `node CHILD.js ARGS...` with the same environment; whenever the child exits it starts a
// new one after RESTART_DELAY_MS (default 300), at most MAX_RESTARTS times (default 5), then
// exits 1. SIGTERM/SIGINT stop the child and the supervisor. The supervisor writes its own PID to
// PID_FILE (the child does not get PID_FILE), and exits when its own parent dies.

const { spawn } = require('child_process');
const fs = require('fs');
const { exitWithParent } = require('./common');

const [childScript, ...childArgs] = process.argv.slice(2);
if (!childScript) {
  console.error('supervisor: usage: node supervisor.js CHILD.js [ARGS...]');
  process.exit(2);
}
const delay = Number(process.env.RESTART_DELAY_MS || 300);
const maxRestarts = Number(process.env.MAX_RESTARTS || 5);
const env = { ...process.env };
delete env.PID_FILE;
if (process.env.PID_FILE) fs.writeFileSync(process.env.PID_FILE, `${process.pid}\n`);
exitWithParent();

let child = null;
let restarts = 0;
let stopping = false;

function start() {
  child = spawn(process.execPath, [childScript, ...childArgs], { env, stdio: 'inherit' });
  console.error(`supervisor: started child ${child.pid} (restart ${restarts})`);
  child.on('exit', (code, signal) => {
    child = null;
    if (stopping) return process.exit(0);
    console.error(`supervisor: child exited (code ${code}, signal ${signal})`);
    if (restarts >= maxRestarts) {
      console.error(`supervisor: giving up after ${restarts} restarts`);
      return process.exit(1);
    }
    restarts += 1;
    setTimeout(start, delay);
  });
}

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    stopping = true;
    if (child) child.kill('SIGTERM');
    else process.exit(0);
    // Never linger: the child gets 3 s to end.
    setTimeout(() => process.exit(0), 3000).unref();
  });
}

start();
