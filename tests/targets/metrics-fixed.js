'use strict';
// metrics-fixed.js: the fixed twin of metrics-leak.js.
//
// Fix: records are aggregated into fixed counters per route (the route pattern, not the raw path,
// or the counter table would be the next leak) and only the last 256 records are kept, in a
// ring buffer that overwrites its oldest slot.
// Endpoints: /api/<anything> (any method), /health, /stats.
// Retained per request (measured, see README.md): MEASURED_METRICS_FIXED
// Run: PORT=3104 node metrics-fixed.js

const { serve, send, uniqueString } = require('./common');

const RING_SIZE = 256;
const ring = new Array(RING_SIZE).fill(null);
let next = 0;
const counters = new Map(); // route pattern -> {count, totalNs, maxNs}

// /api/items/123 -> /api/items/:id : a bounded set of keys whatever the traffic.
function routeOf(path) {
  return path.replace(/\/[^/]*\d[^/]*/g, '/:id');
}

serve(
  'metrics-fixed',
  (req, res, url) => {
    if (!url.pathname.startsWith('/api/')) return send(res, 404, { error: 'not found' });
    const started = process.hrtime.bigint();
    send(res, 200, { ok: true, path: url.pathname });
    const durationNs = Number(process.hrtime.bigint() - started);
    const route = routeOf(url.pathname);
    const c = counters.get(route) || { count: 0, totalNs: 0, maxNs: 0 };
    c.count++;
    c.totalNs += durationNs;
    c.maxNs = Math.max(c.maxNs, durationNs);
    counters.set(route, c);
    ring[next] = {
      at: Date.now(),
      method: req.method,
      path: url.pathname,
      userAgent: req.headers['user-agent'] || '',
      status: 200,
      durationNs,
      note: uniqueString(`debug-${next}`, 400),
    };
    next = (next + 1) % RING_SIZE;
  },
  () => ({ routes: counters.size, ring: RING_SIZE }),
);
