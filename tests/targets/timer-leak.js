'use strict';
// timer-leak.js: a timer that appends to a store on every tick: growth with time, not traffic.
//
// Pattern: a setInterval (100 ms) snapshots ~10 KB of "feature flags" into a global history
// array on every tick, whatever the traffic (~100 KB/s). Requests are stateless.
// Endpoints: /flags (any method), /health, /stats.
// Growth (measured with measure.js, see README.md): ~110 KB/s whatever the traffic (RssAnon +116
//   KB/s idle, heap+external after GC +106 KB/s); requests add nothing
// Fixed twin: timer-fixed.js. Run: PORT=3105 node timer-leak.js

const { serve, send } = require('./common');

const SNAPSHOT_BYTES = 10 * 1024;
// BUG: one snapshot per tick, kept forever.
const history = [];
setInterval(() => {
  history.push({ at: Date.now(), flags: Buffer.alloc(SNAPSHOT_BYTES, history.length % 251) });
}, 100);

serve(
  'timer-leak',
  (req, res, url) => {
    if (url.pathname !== '/flags') return send(res, 404, { error: 'not found' });
    send(res, 200, { snapshots: history.length });
  },
  () => ({ snapshots: history.length }),
);
