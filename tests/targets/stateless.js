'use strict';
// stateless.js: a stateless express API, the npm control (nothing is kept between requests).
//
// Pattern: an express app whose middleware checks `Authorization: Bearer $TOKEN` (default
// `leakhound-token`; 401 without it) and answers /api/answer with a constant JSON body. Each
// request allocates $OBJECTS small objects (default 200; a few fields and a short string
// each), folds them into a checksum and keeps none: garbage for V8's young generation, never
// retained. A clean target that still churns the heap, like a real API's parsing and mapping.
// Endpoints: /api/answer (any method, needs the token), /health, /stats.
// Retained per request: none by construction (not measured).
// Run: PORT=3131 node stateless.js   (needs `npm ci --prefix tests/targets`)

const express = require('express');
const { exitWithParent, requirePort, rssAnon } = require('./common');

const port = requirePort();
const token = process.env.TOKEN || 'leakhound-token';
const objects = Number(process.env.OBJECTS || 200);
if (!Number.isInteger(objects) || objects < 0 || objects > 100000) {
  console.error(`stateless.js: OBJECTS must be 0..100000 (got ${process.env.OBJECTS})`);
  process.exit(2);
}

const app = express();
app.disable('x-powered-by');
app.get('/health', (_req, res) => res.json({ ok: true }));
app.get('/stats', (_req, res) => {
  if (typeof global.gc === 'function') global.gc();
  const m = process.memoryUsage();
  res.json({ rss_anon_bytes: rssAnon(), heap_used_bytes: m.heapUsed, external_bytes: m.external });
});
app.use((req, res, next) => {
  if (req.get('authorization') !== `Bearer ${token}`) return res.status(401).json({ error: 'unauthorized' });
  next();
});
app.all('/api/answer', (req, res) => {
  // Short-lived garbage only: built, folded into a number, dropped.
  let sum = 0;
  for (let i = 0; i < objects; i++) {
    const o = { i, id: `${req.query.id || ''}-${i}`, at: Date.now(), tags: [i & 7, i & 3] };
    sum += o.id.length + o.tags[0];
  }
  res.json({ answer: 42, checksum: sum });
});
app.use((_req, res) => res.status(404).json({ error: 'not found' }));

exitWithParent();
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`stateless listening on http://127.0.0.1:${port} (pid ${process.pid})`);
});
server.on('clientError', (_err, socket) => socket.destroy());
