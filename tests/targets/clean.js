'use strict';
// clean.js: a stateless server, the control: nothing is kept between requests.
//
// Answers every path (any method) with a small JSON body, so any scenario's requests can be
// pointed at it. Endpoints: /<anything>, /health, /stats.
// Retained per request (measured with measure.js, see README.md): flat (RssAnon +0 B/request over
//   20000 requests, heap after GC -2)
// Run: PORT=3106 node clean.js

const { serve, send } = require('./common');

serve('clean', (req, res, url, body) => {
  send(res, 200, { ok: true, path: url.pathname, body_bytes: Buffer.byteLength(body) });
});
