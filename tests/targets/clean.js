'use strict';
// clean.js: a stateless server, the control: nothing is kept between requests.
//
// Answers every path (any method) with a small JSON body, so any scenario's requests can be
// pointed at it. Endpoints: /<anything>, /health, /stats.
// Retained per request (measured, see README.md): MEASURED_CLEAN
// Run: PORT=3106 node clean.js

const { serve, send } = require('./common');

serve('clean', (req, res, url, body) => {
  send(res, 200, { ok: true, path: url.pathname, body_bytes: Buffer.byteLength(body) });
});
