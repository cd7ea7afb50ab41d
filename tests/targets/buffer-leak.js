'use strict';
// buffer-leak.js: a leak held in Buffers, outside the V8 JS heap.
//
// Pattern: each upload's raw bytes are copied into a fresh 2 KiB Buffer and kept in a
// per-session Map that is never cleared. Buffer contents live in native (malloc'd) memory,
// "external" to V8: heapUsed barely moves (a small JS wrapper per entry) while RssAnon grows by
// the Buffer size. A heap-snapshot-only tool would miss most of it; leakhound judges RssAnon.
// Endpoints: /upload (any method), /health, /stats.
// Retained per request (measured, see README.md): ~2.4 KiB RssAnon (2490 and 2442 B/request over
// two runs of 10000; measure-tree.js, --max-semi-space-size=1); the 2 KiB Buffer is most of it.
// Run: PORT=3110 node buffer-leak.js

const { serve, send } = require('./common');

const CHUNK_BYTES = 2048;
// BUG: every upload's bytes are kept forever.
const sessions = new Map();
let seq = 0;

serve(
  'buffer-leak',
  (req, res, url, body) => {
    if (url.pathname !== '/upload') return send(res, 404, { error: 'not found' });
    const id = url.searchParams.get('id') || String(seq);
    seq++;
    // Buffer.alloc (not allocUnsafe) gets its own backing store, not a slice of a shared pool.
    const chunk = Buffer.alloc(CHUNK_BYTES, seq % 251);
    chunk.write(body.slice(0, CHUNK_BYTES));
    sessions.set(id, chunk);
    send(res, 200, { id, kept: sessions.size });
  },
  () => ({ sessions: sessions.size }),
);
