'use strict';
// promise-fixed.js: the fixed twin of promise-leak.js.
//
// Fix: every upstream call is raced against a 50 ms timeout (an AbortController aborted by a
// timer), the timer is cleared when the call settles, and the in-flight entry is deleted in
// `finally`, so the table holds only the calls of the last ~50 ms.
// Endpoints: /checkout (any method), /health, /stats.
// Retained per request (measured, see README.md): MEASURED_PROMISE_FIXED
// Run: PORT=3103 node promise-fixed.js

const { serve, send, uniqueString } = require('./common');

const UPSTREAM_TIMEOUT_MS = 50;

// The same hung upstream as in promise-leak.js: it holds each call until the caller aborts.
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

function withTimeout(fn, ms) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error(`upstream timed out after ${ms} ms`)), ms);
  return fn(ctl.signal).finally(() => clearTimeout(timer));
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
    withTimeout((signal) => fraudCheck(payload, signal), UPSTREAM_TIMEOUT_MS)
      .catch(() => {
        timeouts++;
      })
      .finally(() => inFlight.delete(id));
    send(res, 202, { id, accepted: true });
  },
  () => ({ in_flight: inFlight.size, pending_at_upstream: pendingAtUpstream.size, timeouts }),
);
