'use strict';
// one-of-three.js: three endpoints, only one leaks.
//
// Pattern: /catalog and /search are stateless; /orders (a POST in the scenario) appends
// an audit record (~4 KiB, keyed by the order) to a module-level array that is never trimmed.
// With all three in the load mix the total slope is diluted by the two clean endpoints; the
// leak-hunt profile varies the mix so leakhound can attribute the growth to `orders` alone.
// Endpoints: /catalog, /search, /orders (any method), /health, /stats.
// Retained per request (measured with measure-tree.js, 10000 requests to one endpoint at a
// time): /orders 4368 and 4464 B; /catalog 18 and 8 B; /search 54 and 8 B (RssAnon).
// Run: PORT=3109 node one-of-three.js

const { serve, send, uniqueString } = require('./common');

// BUG: the audit log only ever grows.
const audit = [];

serve(
  'one-of-three',
  (req, res, url, body) => {
    switch (url.pathname) {
      case '/catalog':
        return send(res, 200, { items: 3, page: Number(url.searchParams.get('page') || 0) });
      case '/search':
        return send(res, 200, { q: url.searchParams.get('q') || '', hits: 0 });
      case '/orders': {
        const id = url.searchParams.get('id') || String(audit.length);
        audit.push({ id, at: Date.now(), record: uniqueString(`order-${id}-${body.length}`, 4096) });
        return send(res, 201, { id });
      }
      default:
        return send(res, 404, { error: 'not found' });
    }
  },
  () => ({ audit_records: audit.length }),
);
