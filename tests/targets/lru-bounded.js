'use strict';
// lru-bounded.js: a bounded cache that fills and then stays flat (not a leak).
//
// Pattern: profiles are cached per key in the real `lru-cache` package (npm, major 10), max
// 2000 entries ($LRU_MAX) of ~1 KiB each. Driven with unique keys ({{seq}}) the cache grows for
// the first 2000 requests, then every insert evicts the least recently used entry: memory
// climbs to a plateau and stays there. The evicted entries are garbage in V8's old space, so
// RssAnon keeps climbing until V8 runs a full collection: with default old-space flags it
// still climbed 27 MiB over 18000 requests (22 s at 800/s, leakhound: `leak`, 1.36 KiB/request),
// so the scenario runs node with a small old space (--max-old-space-size=32) and the plateau
// shows within ~15 s. leakhound should then say `bounded`.
// Needs `npm ci --prefix tests/targets` (.ci/run does it).
// Endpoints: /users/:id (any method), /health, /stats.
// Retained per request (measured with measure-tree.js, --max-semi-space-size=1
// --max-old-space-size=32, after 2000 warm-up requests): 705 B/request over the next 10000
// while V8 settles, then -77 B/request over 10000 more (flat at ~21.5 MiB RssAnon).
// Run: PORT=3107 node lru-bounded.js

const { LRUCache } = require('lru-cache');
const { serve, send, uniqueString } = require('./common');

const MAX_ENTRIES = Number(process.env.LRU_MAX || 2000);
const cache = new LRUCache({ max: MAX_ENTRIES });
let hits = 0;

serve(
  'lru-bounded',
  (req, res, url) => {
    const m = /^\/users\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found' });
    const key = `${m[1]}?${url.searchParams.get('x') || ''}`;
    let entry = cache.get(key);
    if (entry) hits++;
    else {
      entry = { key, loadedAt: Date.now(), profile: uniqueString(`profile-${key}`, 1024) };
      cache.set(key, entry);
    }
    send(res, 200, { user: m[1], cached: cache.size });
  },
  () => ({ entries: cache.size, max: MAX_ENTRIES, hits }),
);
