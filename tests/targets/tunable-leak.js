'use strict';
// tunable-leak.js: keeps exactly LEAK_BYTES of string data per request (for the detection-power
// benchmark, scripts/detection-power.sh). LEAK_BYTES=0 makes it a clean control.
//
// Pattern: a module-level array gets one fresh one-byte string of LEAK_BYTES characters per
// request to /work (any method); nothing ever removes them.
// Endpoints: /work, /health, /stats.
// Retained per request (measured, see README.md): a little more than LEAK_BYTES (string header,
// array slot, heap slack): LEAK_BYTES=256 -> 381 and 318 B/request RssAnon over two runs of
// 10000 (measure-tree.js, --max-semi-space-size=1); LEAK_BYTES=0 -> -28 and 7 B/request.
// Run: PORT=3111 LEAK_BYTES=256 node tunable-leak.js

const { serve, send, uniqueString } = require('./common');

const LEAK_BYTES = Number(process.env.LEAK_BYTES || 0);
if (!Number.isInteger(LEAK_BYTES) || LEAK_BYTES < 0 || LEAK_BYTES > 1 << 20) {
  console.error(`tunable-leak.js: LEAK_BYTES must be 0..1048576 (got ${process.env.LEAK_BYTES})`);
  process.exit(2);
}
const kept = [];
let seq = 0;

serve(
  'tunable-leak',
  (req, res, url) => {
    if (url.pathname !== '/work') return send(res, 404, { error: 'not found' });
    seq++;
    if (LEAK_BYTES > 0) kept.push(uniqueString(String(seq), LEAK_BYTES));
    send(res, 200, { seq });
  },
  () => ({ kept: kept.length, leak_bytes: LEAK_BYTES }),
);
