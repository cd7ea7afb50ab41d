'use strict';
// faulty.js: a target that misbehaves on purpose, for leakhound's fault tests
// (tests/integration/faults.rs). One server, the fault chosen by MODE (or the first argument):
//
//   ok        answers every path with a small JSON body (like clean.js)
//   hang      never answers (the socket stays open); /health still works
//   stall     sends the head and 1 KiB of a 1 MiB body, then nothing more
//   slow      one request at a time, SERVICE_MS each (default 20): a queue whose capacity is
//             1000/SERVICE_MS requests/s, so latency grows when the rate is above it
//   reset     resets the connection (TCP RST) on every RESET_EVERY-th request (default 1)
//   storm     answers 500/502/503/504 in turn from STORM_AFTER_MS (default 0) for STORM_FOR_MS
//             (default: for ever), 200 otherwise
//   huge      answers with a BODY_MIB MiB body (default 256), streamed in 1 MiB chunks
//   endless   answers with a chunked body that never ends (64 KiB chunks, as fast as read)
//
// GET /health always answers 200, so leakhound's readiness probe passes in every mode.
// In any mode: BALLAST_MIB=N holds N MiB (so this is the largest process under a supervisor);
// DIE_AFTER_MS=T exits with status 1 after T ms; with DIE_ONCE_FILE=path it does so only when
// that file does not exist yet (and creates it), so under supervisor.js only the first dies.
// Plus common.js: PORT (required), PID_FILE, exit when the parent dies.
// Run: PORT=3199 MODE=hang node faulty.js

const { serve, send } = require('./common');

const MODES = ['ok', 'hang', 'stall', 'slow', 'reset', 'storm', 'huge', 'endless'];
const mode = process.env.MODE || process.argv[2] || 'ok';
if (!MODES.includes(mode)) {
  console.error(`faulty: MODE must be one of ${MODES.join(', ')} (got ${JSON.stringify(mode)})`);
  process.exit(2);
}

function numberEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`faulty: ${name} must be a number >= 0 (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return n;
}

const MIB = 1024 * 1024;
const started = Date.now();
let count = 0;

// Writes `total` bytes (Infinity: for ever) in `chunk`-sized pieces, waiting for 'drain' so a
// slow reader never makes this process buffer the body; stops when the client goes away.
function stream(res, total, chunk) {
  const piece = Buffer.alloc(chunk, 0x61);
  let left = total;
  const pump = () => {
    while (left > 0 && !res.destroyed) {
      const n = Math.min(chunk, left);
      left -= n;
      const more = res.write(n === chunk ? piece : piece.subarray(0, n));
      if (left <= 0) return res.end();
      if (!more) return res.once('drain', pump);
    }
  };
  pump();
}

// The `slow` queue: one request served at a time.
const queue = [];
let busy = false;
function serveNext(serviceMs) {
  if (busy || queue.length === 0) return;
  busy = true;
  const res = queue.shift();
  setTimeout(() => {
    busy = false;
    if (!res.destroyed) send(res, 200, { ok: true, queued: queue.length });
    serveNext(serviceMs);
  }, serviceMs);
}

const serviceMs = numberEnv('SERVICE_MS', 20);
const resetEvery = Math.max(1, numberEnv('RESET_EVERY', 1));
const stormAfter = numberEnv('STORM_AFTER_MS', 0);
const stormFor = numberEnv('STORM_FOR_MS', Infinity);
const bodyMib = numberEnv('BODY_MIB', 256);
const stormCodes = [500, 502, 503, 504];
const ballast = Buffer.alloc(numberEnv('BALLAST_MIB', 0) * MIB, 1);

if (process.env.DIE_AFTER_MS) {
  const once = process.env.DIE_ONCE_FILE;
  const fs = require('fs');
  if (!once || !fs.existsSync(once)) {
    if (once) fs.writeFileSync(once, `${process.pid}\n`);
    const after = numberEnv('DIE_AFTER_MS', 0);
    setTimeout(() => {
      console.error(`faulty: exiting after ${after} ms (DIE_AFTER_MS)`);
      process.exit(1);
    }, after);
  }
}

serve(`faulty (${mode})`, (req, res, url) => {
  count += 1;
  switch (mode) {
    case 'hang':
      // Keep the request (and its socket) open; nothing is ever sent.
      return;
    case 'stall':
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': MIB });
      res.write(Buffer.alloc(1024, 0x62));
      return;
    case 'slow':
      queue.push(res);
      return serveNext(serviceMs);
    case 'reset':
      if (count % resetEvery === 0) return req.socket.resetAndDestroy();
      return send(res, 200, { ok: true });
    case 'storm': {
      const t = Date.now() - started;
      if (t >= stormAfter && t < stormAfter + stormFor) {
        return send(res, stormCodes[count % stormCodes.length], { error: 'storm' });
      }
      return send(res, 200, { ok: true });
    }
    case 'huge':
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': bodyMib * MIB,
      });
      return stream(res, bodyMib * MIB, MIB);
    case 'endless':
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      return stream(res, Infinity, 64 * 1024);
    default:
      return send(res, 200, { ok: true, path: url.pathname, ballast: ballast.length });
  }
});
