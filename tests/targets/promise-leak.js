'use strict';
// promise-leak.js: promises that never settle, each holding its payload.
//
// Pattern: POST|GET /checkout sends the order (~1 KiB payload) to a fake fraud-check upstream
// that never answers (its promise never settles) and nothing times the call out. The call is
// tracked in an in-flight table with its payload until it settles, which it never does, so the
// entry is never deleted. The client gets 202 at once, so load never times out: memory just grows
// in proportion to requests.
// Endpoints: /checkout (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): ~1.9 KiB (RssAnon +1943
//   B/request, heap after GC +1883 B/request)
// Fixed twin: promise-fixed.js. Run: PORT=3103 node promise-leak.js

const { serve, send, uniqueString } = require('./common');

// A hung upstream: the call's promise never settles.
function fraudCheck(_payload) {
  return new Promise(() => {});
}

const inFlight = new Map();
let seq = 0;

serve(
  'promise-leak',
  (req, res, url, body) => {
    if (url.pathname !== '/checkout') return send(res, 404, { error: 'not found' });
    const id = ++seq;
    const payload = { id, body, order: uniqueString(`order-${id}`, 1024) };
    // BUG: no timeout; the promise never settles, so `finally` never deletes the entry.
    const call = fraudCheck(payload);
    inFlight.set(id, { payload, call, startedAt: Date.now() });
    call.catch(() => {}).finally(() => inFlight.delete(id));
    send(res, 202, { id, accepted: true });
  },
  () => ({ in_flight: inFlight.size }),
);
