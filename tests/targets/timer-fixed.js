'use strict';
// timer-fixed.js: the fixed twin of timer-leak.js.
//
// Fix: the timer writes each ~10 KB snapshot into a ring of 20 buffers allocated once at start
// (~200 KB), overwriting the oldest slot. Keeping "only the last N" with fresh buffers would be
// bounded too, but every dropped buffer is garbage V8 frees only at its next full collection,
// and an idle process may not run one for minutes: its RSS would climb ~100 KB/s meanwhile.
// Endpoints: /flags (any method), /health, /stats.
// Growth (measured with measure.js, see README.md): flat (heap+external after GC +1 KB/s; RssAnon
//   +17 KB/s over the first 20 s while V8 settles)
// Run: PORT=3105 node timer-fixed.js

const { serve, send } = require('./common');

const SNAPSHOT_BYTES = 10 * 1024;
const KEEP = 20;
const ring = Array.from({ length: KEEP }, () => ({ at: 0, flags: Buffer.alloc(SNAPSHOT_BYTES) }));
let ticks = 0;
setInterval(() => {
  const slot = ring[ticks % KEEP];
  slot.at = Date.now();
  slot.flags.fill(ticks % 251);
  ticks++;
}, 100);

serve(
  'timer-fixed',
  (req, res, url) => {
    if (url.pathname !== '/flags') return send(res, 404, { error: 'not found' });
    send(res, 200, { snapshots: Math.min(ticks, KEEP) });
  },
  () => ({ snapshots: Math.min(ticks, KEEP), ticks }),
);
