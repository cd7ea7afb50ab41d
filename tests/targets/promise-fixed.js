'use strict';
// promise-fixed.js: the fixed twin of promise-leak.js.
//
// Fix: every upstream call is raced against a 50 ms timeout, the timer is cleared when the race
// settles, and the in-flight entry is deleted in `finally`, so the table only holds the calls of
// the last ~50 ms. (A real client would also abort the request; the fake upstream holds nothing.)
// Endpoints: /checkout (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): flat (heap after GC +4
//   B/request; RssAnon +710 B/request at ~4000 requests/s while V8 settles, ~0 at 500/s)
// Run: PORT=3103 node promise-fixed.js

const { serve, send, uniqueString } = require('./common');

const UPSTREAM_TIMEOUT_MS = 50;

// The same hung upstream as in promise-leak.js: the call's promise never settles.
function fraudCheck(_payload) {
  return new Promise(() => {});
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`upstream timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const inFlight = new Map();
let seq = 0;
let timeouts = 0;

serve(
  'promise-fixed',
  (req, res, url, body) => {
    if (url.pathname !== '/checkout') return send(res, 404, { error: 'not found' });
    const id = ++seq;
    const payload = { id, body, order: uniqueString(`order-${id}`, 1024) };
    inFlight.set(id, { payload, startedAt: Date.now() });
    withTimeout(fraudCheck(payload), UPSTREAM_TIMEOUT_MS)
      .catch(() => {
        timeouts++;
      })
      .finally(() => inFlight.delete(id));
    send(res, 202, { id, accepted: true });
  },
  () => ({ in_flight: inFlight.size, timeouts }),
);
