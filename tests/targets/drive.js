'use strict';
// drive.js: a small bounded load client for measuring the targets by hand (loopback only).
//
//   [RATE=R] node drive.js URL N CONC [METHOD] [BODY]
//
// Sends N requests (at most 1,000,000) over CONC keep-alive connections (at most 256) to URL,
// which must point at 127.0.0.1, ::1 or localhost. `{{seq}}` in URL or BODY becomes the request's
// index (0..N-1), so each request can carry a unique key. Every request times out after 10 s and
// the whole run stops after 10 minutes. With RATE set, requests are paced to R per second.
// Prints one JSON line: {sent, ok, errors, seconds, rps}.
// Also a module: require('./drive').drive(url, n, conc, {method, body, rate}) -> Promise<summary>.

const http = require('http');

const MAX_N = 1_000_000;
const MAX_CONC = 256;
const REQUEST_TIMEOUT_MS = 10_000;
const RUN_DEADLINE_MS = 10 * 60_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function parseTarget(raw) {
  const u = new URL(raw.replace(/\{\{seq\}\}/g, '0'));
  if (u.protocol !== 'http:') throw new Error(`only http:// URLs are supported, got ${u.protocol}`);
  if (!LOOPBACK.has(u.hostname)) throw new Error(`refusing non-loopback host ${u.hostname}`);
  return u;
}

function once(agent, u, pathTemplate, i, method, bodyTemplate) {
  return new Promise((resolve) => {
    const path = pathTemplate.replace(/\{\{seq\}\}/g, String(i));
    const body = bodyTemplate == null ? null : bodyTemplate.replace(/\{\{seq\}\}/g, String(i));
    const headers =
      body == null
        ? {}
        : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = http.request(
      {
        agent,
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || 80,
        path,
        method,
        headers,
        timeout: REQUEST_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode < 400));
        res.on('error', () => resolve(false));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    if (body != null) req.write(body);
    req.end();
  });
}

async function drive(rawUrl, n, conc, opts = {}) {
  if (!Number.isInteger(n) || n < 0 || n > MAX_N) throw new Error(`N must be 0..${MAX_N}`);
  if (!Number.isInteger(conc) || conc < 1 || conc > MAX_CONC)
    throw new Error(`CONC must be 1..${MAX_CONC}`);
  const u = parseTarget(rawUrl);
  // Keep the {{seq}} placeholders: take the path+query from the raw text, not the parsed URL.
  const pathTemplate = rawUrl.slice(rawUrl.indexOf('/', rawUrl.indexOf('//') + 2)) || '/';
  const method = (opts.method || 'GET').toUpperCase();
  const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
  const started = Date.now();
  // Optional pacing: request i is not sent before started + i / rate seconds.
  const rate = opts.rate > 0 ? opts.rate : 0;
  let next = 0;
  let ok = 0;
  let errors = 0;
  async function worker() {
    while (next < n && Date.now() - started < RUN_DEADLINE_MS) {
      const i = next++;
      if (rate) {
        const wait = started + (i * 1000) / rate - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      if (await once(agent, u, pathTemplate, i, method, opts.body)) ok++;
      else errors++;
    }
  }
  await Promise.all(Array.from({ length: Math.min(conc, Math.max(n, 1)) }, worker));
  agent.destroy();
  const seconds = (Date.now() - started) / 1000;
  return {
    sent: ok + errors,
    ok,
    errors,
    seconds,
    rps: Math.round((ok + errors) / Math.max(seconds, 1e-3)),
  };
}

module.exports = { drive };

if (require.main === module) {
  const [url, n, conc, method, body] = process.argv.slice(2);
  if (!url || !n || !conc) {
    console.error('usage: node drive.js URL N CONC [METHOD] [BODY]');
    process.exit(2);
  }
  drive(url, Number(n), Number(conc), { method, body, rate: Number(process.env.RATE || 0) }).then(
    (s) => console.log(JSON.stringify(s)),
    (e) => {
      console.error(`drive: ${e.message}`);
      process.exit(2);
    },
  );
}
