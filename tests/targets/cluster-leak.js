'use strict';
// cluster-leak.js: a leak in the workers of a Node `cluster` (a primary and 2 workers).
//
// Pattern: the primary forks 2 workers that share the listening port (the primary accepts and
// hands connections out round-robin); each worker keeps a ~1 KiB session record per request
// in a Map that is never trimmed. The primary itself stays flat, so a tool that watches only the
// PID it started sees nothing: memory must be summed over the process tree.
// Endpoints: /session (any method), /health, /stats (of whichever worker answers).
// Retained per request (measured, see README.md): ~1.2-1.5 KiB RssAnon summed over the 3
// processes (1554 and 1191 B/request over two runs of 10000; measure-tree.js).
// Run: PORT=3112 node cluster-leak.js

const cluster = require('cluster');
const fs = require('fs');
const { exitWithParent, requirePort } = require('./common');

const WORKERS = 2;

if (cluster.isPrimary) {
  requirePort();
  if (process.env.PID_FILE) fs.writeFileSync(process.env.PID_FILE, `${process.pid}\n`);
  exitWithParent();
  let stopping = false;
  const env = { ...process.env, PID_FILE: '' };
  for (let i = 0; i < WORKERS; i++) cluster.fork(env);
  // A worker that dies is a failure of the target: stop everything rather than limp along.
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    console.error(`cluster-leak: worker ${w.process.pid} exited (${signal || code}); stopping`);
    process.exit(1);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const { serve, send, uniqueString } = require('./common');
  // BUG: one session record per request, never expired.
  const sessions = new Map();
  let seq = 0;
  serve(
    `cluster-leak worker ${cluster.worker.id}`,
    (req, res, url) => {
      if (url.pathname !== '/session') return send(res, 404, { error: 'not found' });
      seq++;
      const id = url.searchParams.get('id') || `${process.pid}-${seq}`;
      sessions.set(id, { id, at: Date.now(), data: uniqueString(`s-${id}`, 1024) });
      send(res, 200, { worker: cluster.worker.id, sessions: sessions.size });
    },
    () => ({ worker: cluster.worker.id, sessions: sessions.size }),
  );
}
