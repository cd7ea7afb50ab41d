'use strict';
// metrics-leak.js: a global buffer that only ever grows.
//
// Pattern: every request to /api/... appends a metrics record (~500 B: time, method, path, user
// agent, duration and a debug note) to a global array "for later export" that nothing ever
// drains: memory grows in proportion to requests.
// Endpoints: /api/<anything> (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): ~0.7 KiB (RssAnon +715
//   B/request, heap after GC +665 B/request)
// Fixed twin: metrics-fixed.js. Run: PORT=3104 node metrics-leak.js

const { serve, send, uniqueString } = require('./common');

// BUG: appended on every request, never trimmed or exported.
const records = [];

serve(
  'metrics-leak',
  (req, res, url) => {
    if (!url.pathname.startsWith('/api/')) return send(res, 404, { error: 'not found' });
    const started = process.hrtime.bigint();
    send(res, 200, { ok: true, path: url.pathname });
    records.push({
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      userAgent: req.headers['user-agent'] || '',
      status: 200,
      durationNs: Number(process.hrtime.bigint() - started),
      note: uniqueString(`debug-${records.length}`, 400),
    });
  },
  () => ({ records: records.length }),
);
