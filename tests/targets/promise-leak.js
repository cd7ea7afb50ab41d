'use strict';
// promise-leak.js: promises that never settle, each holding its payload.
//
// Pattern: POST|GET /checkout sends the order (~1 KiB payload) to a fake fraud-check upstream
// that never answers, with no timeout. The call's promise never settles, so its entry in the
// in-flight table (payload, promise, callbacks) is never deleted, and the upstream's "socket"
// keeps the pending call too. The client gets 202 at once, so load never times out: memory just
// grows in proportion to requests.
// Endpoints: /checkout (any method), /health, /stats.
// Retained per request (measured, see README.md): MEASURED_PROMISE_LEAK
// Fixed twin: promise-fixed.js. Run: PORT=3103 node promise-leak.js

const { serve, send, uniqueString } = require('./common');

// A hung upstream: like a connection to a service that stopped answering, it holds every call
// until the caller gives up (aborts). Without an abort signal it holds it forever.
const pendingAtUpstream = new Set();
function fraudCheck(payload, signal) {
  return new Promise((resolve, reject) => {
    const call = { payload, resolve, reject };
    pendingAtUpstream.add(call);
    if (signal) {
      signal.addEventListener(
        'abort',
        () => {
          pendingAtUpstream.delete(call);
          reject(signal.reason);
        },
        { once: true },
      );
    }
  });
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
    call
      .then(() => {})
      .catch(() => {})
      .finally(() => inFlight.delete(id));
    send(res, 202, { id, accepted: true });
  },
  () => ({ in_flight: inFlight.size, pending_at_upstream: pendingAtUpstream.size }),
);
