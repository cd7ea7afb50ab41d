'use strict';
// metrics-server.js: a target that reports its own memory, for leakhound's `prometheus` and
// `json` memory sources (and, under supervisor.js, its restart detection).
//
//   GET /metrics  Prometheus text format: process_resident_memory_bytes,
//                 process_start_time_seconds, nodejs_heap_size_used_bytes,
//                 nodejs_heap_size_total_bytes, nodejs_external_memory_bytes,
//                 leak_retained_bytes, http_requests_total{route}
//   GET /memory   JSON {"memory": process.memoryUsage(), "retained": bytes, "pid": PID}
//                 (no forced GC: what a service would really report)
//   GET /leak     keeps a LEAK_BYTES Buffer (default 8192) forever: external memory and RSS
//                 grow with every request
//   GET /ok       stateless
// plus GET /health and the PID_FILE / parent-death handling of common.js.
// Env: BALLAST_MB=N allocates and touches N MiB at start (so this process is clearly the
// largest of a tree); CRASH_AFTER_MS=N exits with status 1 after N ms (a crash to restart).
// Run: PORT=3120 node metrics-server.js

const { serve, send } = require('./common');

const LEAK_BYTES = Number(process.env.LEAK_BYTES || 8192);
const started = Date.now() / 1000;
const kept = [];
let retained = 0;
const counts = { '/leak': 0, '/ok': 0 };

const ballastMb = Number(process.env.BALLAST_MB || 0);
const ballast = ballastMb > 0 ? Buffer.alloc(Math.min(ballastMb, 512) * 1024 * 1024, 1) : null;

function metrics() {
  const m = process.memoryUsage();
  const lines = [
    ['process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', m.rss],
    ['process_start_time_seconds', 'gauge', 'Start time since the epoch in seconds.', started],
    ['nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used in bytes.', m.heapUsed],
    ['nodejs_heap_size_total_bytes', 'gauge', 'V8 heap total in bytes.', m.heapTotal],
    ['nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JS.', m.external],
    ['leak_retained_bytes', 'gauge', 'Bytes kept by /leak.', retained],
  ];
  let out = '';
  for (const [name, type, help, value] of lines) {
    out += `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
  }
  out += '# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n';
  for (const [route, n] of Object.entries(counts)) {
    out += `http_requests_total{route="${route}"} ${n}\n`;
  }
  return out;
}

serve('metrics-server', (req, res, url) => {
  switch (url.pathname) {
    case '/metrics': {
      const body = metrics();
      res.writeHead(200, {
        'content-type': 'text/plain; version=0.0.4; charset=utf-8',
        'content-length': Buffer.byteLength(body),
      });
      return res.end(body);
    }
    case '/memory':
      return send(res, 200, {
        memory: process.memoryUsage(),
        retained,
        pid: process.pid,
        ballast: ballast ? ballast.length : 0,
      });
    case '/leak': {
      const b = Buffer.alloc(LEAK_BYTES, counts['/leak'] & 0xff);
      kept.push(b);
      retained += b.length;
      counts['/leak'] += 1;
      return send(res, 200, { ok: true, n: counts['/leak'] });
    }
    case '/ok':
      counts['/ok'] += 1;
      return send(res, 200, { ok: true });
    default:
      return send(res, 404, { error: 'not found' });
  }
});

const crashAfter = Number(process.env.CRASH_AFTER_MS || 0);
if (crashAfter > 0) {
  setTimeout(() => {
    console.error(`metrics-server: crashing after ${crashAfter} ms (CRASH_AFTER_MS)`);
    process.exit(1);
  }, crashAfter);
}
