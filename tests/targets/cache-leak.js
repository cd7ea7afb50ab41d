'use strict';
// cache-leak.js: an in-memory cache keyed by request data with no size bound and no expiry.
//
// Pattern: GET /users/:id?x=... memoises a ~1 KiB "profile" in a plain Map under the key
// `${id}?${x}`. Keys come from the request, so unique query strings (e.g. {{seq}}) add an entry
// on every request and nothing ever evicts one: memory grows in proportion to distinct requests.
// Endpoints: /users/:id (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): ~1.25 KiB (RssAnon +1274
//   B/request, heap after GC +1268 B/request)
// Fixed twin: cache-fixed.js. Run: PORT=3102 node cache-leak.js

const { serve, send, uniqueString } = require('./common');

// BUG: unbounded, never expires.
const cache = new Map();
let hits = 0;

function loadProfile(key) {
  return { key, loadedAt: Date.now(), profile: uniqueString(`profile-${key}`, 1024) };
}

serve(
  'cache-leak',
  (req, res, url) => {
    const m = /^\/users\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found' });
    const key = `${m[1]}?${url.searchParams.get('x') || ''}`;
    let entry = cache.get(key);
    if (entry) hits++;
    else {
      entry = loadProfile(key);
      cache.set(key, entry);
    }
    send(res, 200, { user: m[1], cached: cache.size });
  },
  () => ({ entries: cache.size, hits }),
);
