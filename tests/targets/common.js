'use strict';
// Shared plumbing for the leakhound test targets (plain `http`, no npm packages, Node >= 18).
//
// serve(name, handler, stats?) starts an HTTP server on 127.0.0.1:$PORT (PORT is required) that
//   - answers GET /health with 200 {"ok":true} (leakhound's readiness probe),
//   - answers GET /stats with {rss_anon_bytes, heap_used_bytes, external_bytes, ...stats()}; when
//     node runs with --expose-gc it collects garbage first, so heap figures are "after GC",
//   - writes its PID to $PID_FILE when set (tests use it to check the target was stopped),
//   - exits when its parent dies (re-parented), so a crashed harness never leaves servers behind,
//   - drains every request body (kept up to 64 KiB, the rest discarded) before calling
//     handler(req, res, url, body), so POST load never stalls on back-pressure.
// Everything else is the pattern file's job. Replies are small JSON bodies via send().

const fs = require('fs');
const http = require('http');
const path = require('path');

const MAX_KEPT_BODY = 64 * 1024;

function requirePort() {
  const raw = process.env.PORT;
  const n = Number(raw);
  if (!raw || !Number.isInteger(n) || n < 1 || n > 65535) {
    const me = path.basename(process.argv[1] || 'target');
    console.error(`${me}: set PORT to a port number (got ${JSON.stringify(raw)})`);
    process.exit(2);
  }
  return n;
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

// RssAnon from /proc/self/status in bytes (what leakhound judges by default), or null.
function rssAnon() {
  try {
    const m = /^RssAnon:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function serve(name, handler, stats) {
  const port = requirePort();
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      if (size < MAX_KEPT_BODY) chunks.push(c);
      size += c.length;
    });
    req.on('error', () => {});
    req.on('end', () => {
      let url;
      try {
        url = new URL(req.url, 'http://127.0.0.1');
      } catch {
        return send(res, 400, { error: 'bad url' });
      }
      if (req.method === 'GET' && url.pathname === '/health') return send(res, 200, { ok: true });
      if (req.method === 'GET' && url.pathname === '/stats') {
        // Collect twice, 50 ms apart: freed Buffers are released by a concurrent sweeper, so
        // `external` only drops after the first collection has finished sweeping.
        const gc = typeof global.gc === 'function' ? global.gc : () => {};
        gc();
        setTimeout(() => {
          gc();
          const m = process.memoryUsage();
          send(res, 200, {
            rss_anon_bytes: rssAnon(),
            heap_total_bytes: m.heapTotal,
            heap_used_bytes: m.heapUsed,
            external_bytes: m.external,
            array_buffers_bytes: m.arrayBuffers,
            ...(stats ? stats() : {}),
          });
        }, 50);
        return;
      }
      try {
        handler(req, res, url, Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        if (!res.headersSent) send(res, 500, { error: String(e && e.message) });
      }
    });
  });
  if (process.env.PID_FILE) fs.writeFileSync(process.env.PID_FILE, `${process.pid}\n`);
  exitWithParent();
  server.on('clientError', (_err, socket) => socket.destroy());
  server.listen(port, '127.0.0.1', () => {
    console.log(`${name} listening on http://127.0.0.1:${port} (pid ${process.pid})`);
  });
  return server;
}

// Polls the parent PID: once it changes the harness that started us is gone, so stop too.
function exitWithParent() {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
}

// A fresh string of `len` characters starting with `seed:`. Built from a new buffer each call, so
// it is a separate heap object (not an interned literal, not a slice of a shared string): holding
// it really holds ~`len` bytes (one-byte string).
function uniqueString(seed, len) {
  const head = `${seed}:`;
  const tail = Buffer.alloc(Math.max(0, len - head.length), 0x78).toString('latin1');
  return head + tail;
}

module.exports = { serve, send, rssAnon, uniqueString, requirePort, exitWithParent };
