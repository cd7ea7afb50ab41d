'use strict';
// listener-leak.js: an event listener added on every request and never removed.
//
// Pattern: POST|GET /process?id=N subscribes to a long-lived EventEmitter ("config changed") and
// the listener's closure captures `req` (the IncomingMessage with its headers) and a ~1 KiB
// per-request trace string. Nothing ever removes the listener, so every request stays reachable
// from the emitter forever: memory grows in proportion to the number of requests.
// Endpoints: /process (any method), /health, /stats.
// Retained per request (measured with measure.js, see README.md): ~4.2 KiB (RssAnon +4213
//   B/request, V8 heap after GC +4124 B/request; the captured `req` keeps its `res`, headers and
//   listeners, far more than the 1 KiB string)
// Fixed twin: listener-fixed.js. Run: PORT=3101 node listener-leak.js

const { EventEmitter } = require('events');
const { serve, send, uniqueString } = require('./common');

const config = new EventEmitter();
// Unlimited listeners: the default limit only prints a warning, it does not stop the leak.
config.setMaxListeners(0);
let seq = 0;
let version = 0;

serve(
  'listener-leak',
  (req, res, url) => {
    if (url.pathname !== '/process') return send(res, 404, { error: 'not found' });
    const id = ++seq;
    const trace = uniqueString(`trace-${id}-${url.searchParams.get('id') || ''}`, 1024);
    // BUG: the closure holds `req` and `trace`, and the listener is never removed.
    config.on('changed', (v) => {
      req.headers['x-config-version'] = String(v);
      if (trace.length === 0) console.log(trace);
    });
    send(res, 200, { id, version });
  },
  () => ({ listeners: config.listenerCount('changed') }),
);
