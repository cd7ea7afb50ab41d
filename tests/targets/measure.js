'use strict';
// measure.js: measures how many bytes a target retains per request (or per second, for timers).
//
//   node measure.js TARGET.js [N=20000] [CONC=16]
//
// Starts `node --expose-gc TARGET.js` on a free loopback port, waits for /health, sends 2000
// warm-up requests, idles 2 s, then reads RssAnon from /proc/PID/status, sends N requests with
// drive.js, reads RssAnon again, idles 5 s and reads it a third time. It also asks /stats for the
// V8 heap after a forced GC before and after. Prints one JSON line with the deltas divided by N.
// With N=0 it only idles (15 s) and reports growth per second (for the timer targets).
//
//   node measure.js TARGET.js --soak RATE SECONDS WARMUP_SECONDS [WARMUP_RATE]
//
// Mimics a leakhound run instead: paced load for SECONDS, at WARMUP_RATE/s (default RATE) for
// the first WARMUP_SECONDS and at RATE/s after them,
// RssAnon sampled every 250 ms, and a least-squares slope of RssAnon against requests sent over
// the samples after WARMUP_SECONDS, in bytes per request.
// Extra node flags for the target (e.g. --max-semi-space-size=1) come from $TARGET_NODE_FLAGS.
// The request each target gets is in REQUESTS below (the same as its example scenario).

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { drive } = require('./drive');

const REQUESTS = {
  'listener-leak': { path: '/process?id={{seq}}' },
  'listener-fixed': { path: '/process?id={{seq}}' },
  'cache-leak': { path: '/users/{{seq}}?x={{seq}}' },
  'cache-fixed': { path: '/users/{{seq}}?x={{seq}}' },
  'promise-leak': {
    path: '/checkout',
    method: 'POST',
    body: '{"order": {{seq}}, "items": [1, 2, 3]}',
  },
  'promise-fixed': {
    path: '/checkout',
    method: 'POST',
    body: '{"order": {{seq}}, "items": [1, 2, 3]}',
  },
  'metrics-leak': { path: '/api/items/{{seq}}' },
  'metrics-fixed': { path: '/api/items/{{seq}}' },
  'timer-leak': { path: '/flags' },
  'timer-fixed': { path: '/flags' },
  clean: { path: '/process?id={{seq}}' },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function getJson(port, p) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, timeout: 5000 }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(data) });
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function rssAnon(pid) {
  const m = /^RssAnon:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

// Least-squares slope of ys against xs.
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

async function soak(child, url, opts, rate, seconds, warmup, warmupRate) {
  let sent = 0;
  const samples = [];
  const t0 = Date.now();
  const timer = setInterval(() => {
    samples.push({ t: (Date.now() - t0) / 1000, sent, rss: rssAnon(child.pid) });
  }, 250);
  // Batches of 1 s, so `sent` advances while the sampler runs; unique keys per batch.
  for (let s = 0; s < seconds; s++) {
    const r1 = s < warmup && warmupRate > 0 ? warmupRate : rate;
    const r = await drive(url.replace(/\{\{seq\}\}/g, `s${s}-{{seq}}`), r1, 32, {
      ...opts,
      rate: r1,
    });
    sent += r.sent;
  }
  clearInterval(timer);
  const after = samples.filter((x) => x.t >= warmup);
  const perRequest = slope(
    after.map((x) => x.sent),
    after.map((x) => x.rss),
  );
  const perSecond = slope(
    after.map((x) => x.t),
    after.map((x) => x.rss),
  );
  return {
    rate,
    seconds,
    warmup,
    sent,
    rss_anon_start: samples[0] && samples[0].rss,
    rss_anon_at_warmup_end: after[0] && after[0].rss,
    rss_anon_end: samples[samples.length - 1].rss,
    slope_bytes_per_request: Math.round(perRequest),
    slope_bytes_per_second: Math.round(perSecond),
    // Every 2 s: [seconds, requests sent, RssAnon MiB].
    series: samples
      .filter((_, i) => i % 8 === 0)
      .map((x) => [Math.round(x.t), x.sent, Math.round((x.rss / 1048576) * 10) / 10]),
  };
}

async function main() {
  const args = process.argv.slice(2);
  const soakAt = args.indexOf('--soak');
  let soakArgs = null;
  if (soakAt >= 0) {
    const rest = args.splice(soakAt);
    soakArgs = rest.slice(1, 5).map(Number);
    args.push(...rest.slice(5));
  }
  const [file, nRaw = '20000', concRaw = '16'] = args;
  if (!file) {
    console.error('usage: node measure.js TARGET.js [N] [CONC]');
    process.exit(2);
  }
  const name = path.basename(file, '.js');
  const spec = REQUESTS[name];
  if (!spec) throw new Error(`no request known for ${name}`);
  const n = Number(nRaw);
  const conc = Number(concRaw);
  const port = await freePort();
  const flags = (process.env.TARGET_NODE_FLAGS || '').split(/\s+/).filter(Boolean);
  const child = spawn(
    process.execPath,
    [...flags, '--expose-gc', path.resolve(__dirname, `${name}.js`)],
    {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  try {
    for (let i = 0; ; i++) {
      if (i > 100) throw new Error('target did not become ready in 10 s');
      try {
        if ((await getJson(port, '/health')).status === 200) break;
      } catch {}
      await sleep(100);
    }
    const url = `http://127.0.0.1:${port}${spec.path}`;
    const opts = { method: spec.method, body: spec.body };
    if (soakArgs) {
      const [rate, seconds, warmup, warmupRate] = soakArgs;
      const result = await soak(child, url, opts, rate, seconds, warmup, warmupRate || rate);
      console.log(JSON.stringify({ target: name, ...result }));
      return;
    }
    if (n > 0) await drive(url.replace(/\{\{seq\}\}/g, 'w{{seq}}'), 2000, conc, opts);
    await sleep(2000);
    const rss0 = rssAnon(child.pid);
    const stats0 = (await getJson(port, '/stats')).body;
    const t0 = Date.now();
    let load = null;
    if (n > 0) load = await drive(url, n, conc, opts);
    else await sleep(15_000);
    const rss1 = rssAnon(child.pid);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(5000);
    const rss2 = rssAnon(child.pid);
    const stats1 = (await getJson(port, '/stats')).body;
    const per = (d) => Math.round(d / Math.max(n, 1));
    const out = {
      target: name,
      n,
      load,
      rss_anon_before: rss0,
      rss_anon_after: rss1,
      rss_anon_after_idle: rss2,
      heap_after_gc_before: stats0.heap_used_bytes,
      heap_after_gc_after: stats1.heap_used_bytes,
      external_before: stats0.external_bytes,
      external_after: stats1.external_bytes,
    };
    if (n > 0) {
      out.rss_anon_per_request = per(rss1 - rss0);
      out.rss_anon_per_request_after_idle = per(rss2 - rss0);
      out.heap_after_gc_per_request = per(stats1.heap_used_bytes - stats0.heap_used_bytes);
    } else {
      const total = seconds + 5;
      out.seconds = total;
      out.rss_anon_per_second = Math.round((rss2 - rss0) / total);
      out.heap_plus_external_after_gc_per_second = Math.round(
        (stats1.heap_used_bytes +
          stats1.external_bytes -
          stats0.heap_used_bytes -
          stats0.external_bytes) /
          total,
      );
    }
    console.log(JSON.stringify(out));
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(`measure: ${e.message}`);
  process.exit(1);
});
