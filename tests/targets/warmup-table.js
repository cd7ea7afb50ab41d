'use strict';
// warmup-table.js: a lazily built lookup table: a step at the start, then flat (not a leak).
//
// Pattern: /price/:sku looks the price up in a per-region table; each of the 16 regions'
// tables (~512 KiB each, 8 MiB in all) is built the first time a request for that region
// arrives and kept for the life of the process, as lazy caches of static data are. With
// requests spread over the regions all tables exist after the first ~100 requests, so memory
// steps up once during warm-up and is flat after it: leakhound should say `none`.
// Endpoints: /price/:sku (any method), /health, /stats.
// Retained per request (measured with measure-tree.js, no warm-up requests): +13.2 MiB RssAnon
// over the first 10000 requests (the 8 MiB of tables plus V8's own warm-up), then 11 B/request
// over the next 10000.
// Run: PORT=3108 node warmup-table.js

const { serve, send } = require('./common');

const REGIONS = 16;
const TABLE_ENTRIES = 64 * 1024; // Float64Array: 512 KiB per region
const tables = new Map();

function table(region) {
  let t = tables.get(region);
  if (!t) {
    t = new Float64Array(TABLE_ENTRIES);
    for (let i = 0; i < t.length; i++) t[i] = ((i * 2654435761) % 100000) / 100 + region;
    tables.set(region, t);
  }
  return t;
}

serve(
  'warmup-table',
  (req, res, url) => {
    const m = /^\/price\/([^/]+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found' });
    let h = 0;
    for (const c of m[1]) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const price = table(h % REGIONS)[h % TABLE_ENTRIES];
    send(res, 200, { sku: m[1], price });
  },
  () => ({ tables: tables.size }),
);
