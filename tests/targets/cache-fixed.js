'use strict';
// cache-fixed.js: the fixed twin of cache-leak.js.
//
// Fix: a small LRU with a maximum size (1000 entries) and a time to live (30 s). A Map keeps
// insertion order, so the first key is the least recently used: a hit re-inserts its key, an
// insert beyond the maximum evicts the first key. Memory fills to ~1000 x 1 KiB and stays there
// (a bounded cache: leakhound should see a plateau, not a leak).
// Endpoints: /users/:id (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): bounded: heap after GC
//   +6 B/request. RssAnon climbs ~550 B/request for the first ~10 s (evicted entries are
//   old-generation garbage until V8 runs a full GC), then stays flat; leakhound says "bounded"
// Run: PORT=3102 node cache-fixed.js

const { serve, send, uniqueString } = require('./common');

class LruCache {
  constructor(max, ttlMs) {
    this.max = max;
    this.ttlMs = ttlMs;
    this.map = new Map();
  }

  get(key) {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    if (Date.now() - e.at > this.ttlMs) return undefined; // expired: dropped
    this.map.set(key, e); // most recently used goes last
    return e.value;
  }

  set(key, value) {
    this.map.delete(key);
    this.map.set(key, { value, at: Date.now() });
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value);
  }

  get size() {
    return this.map.size;
  }
}

const cache = new LruCache(1000, 30_000);
let hits = 0;

function loadProfile(key) {
  return { key, loadedAt: Date.now(), profile: uniqueString(`profile-${key}`, 1024) };
}

serve(
  'cache-fixed',
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
