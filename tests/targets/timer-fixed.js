'use strict';
// timer-fixed.js: the fixed twin of timer-leak.js.
//
// Fix: the timer keeps only the last 50 snapshots (~500 KB, reached after 5 s), dropping the
// oldest on every tick: flat after the first seconds.
// Endpoints: /flags (any method), /health, /stats.
// Growth (measured, see README.md): MEASURED_TIMER_FIXED
// Run: PORT=3105 node timer-fixed.js

const { serve, send } = require('./common');

const SNAPSHOT_BYTES = 10 * 1024;
const KEEP = 50;
const history = [];
let ticks = 0;
setInterval(() => {
  history.push({ at: Date.now(), flags: Buffer.alloc(SNAPSHOT_BYTES, ticks++ % 251) });
  if (history.length > KEEP) history.splice(0, history.length - KEEP);
}, 100);

serve(
  'timer-fixed',
  (req, res, url) => {
    if (url.pathname !== '/flags') return send(res, 404, { error: 'not found' });
    send(res, 200, { snapshots: history.length });
  },
  () => ({ snapshots: history.length, ticks }),
);
