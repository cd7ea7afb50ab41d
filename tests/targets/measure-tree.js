'use strict';
// measure-tree.js: bytes retained per request by any target (Node, a Node cluster, Python),
// with RssAnon summed over the target's whole process tree. measure.js's companion for the
// targets it has no entry for.
//
//   [WARMUP=2000] [METHOD=POST] [BODY=...] [ENV_X=...] \
//     node measure-tree.js PATH N CONC -- COMMAND [ARGS...]
//
// Starts COMMAND with PORT set to a free loopback port (cwd: this folder), waits for /health,
// sends WARMUP requests to PATH, idles 2 s, sums RssAnon over the tree, sends N requests with
// drive.js ({{seq}} in PATH or BODY is unique per request), idles 2 s, sums again and prints
// one JSON line with the growth per request. Then it sends N more and reports the second
// half's growth too (a bounded cache shows growth in the first half only). Bounded: N is at
// most 200000, every request times out (drive.js), the target is killed at the end.

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const { drive } = require('./drive');

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

function healthy(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

// RssAnon summed over `pid` and its descendants (via /proc/PID/task/*/children).
function treeRssAnon(pid) {
  let total = 0;
  const todo = [pid];
  const seen = new Set();
  while (todo.length && seen.size < 1000) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const m = /^RssAnon:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) total += Number(m[1]) * 1024;
      for (const t of fs.readdirSync(`/proc/${p}/task`)) {
        const kids = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
        if (kids) todo.push(...kids.split(/\s+/).map(Number));
      }
    } catch {
      // the process ended between listing and reading
    }
  }
  return { bytes: total, processes: seen.size };
}

async function main() {
  const argv = process.argv.slice(2);
  const dash = argv.indexOf('--');
  if (dash < 3 || dash === argv.length - 1) {
    console.error('usage: node measure-tree.js PATH N CONC -- COMMAND [ARGS...]');
    process.exit(2);
  }
  const [p, nRaw, concRaw] = argv;
  const n = Number(nRaw);
  if (!Number.isInteger(n) || n < 1 || n > 200000) throw new Error('N must be 1..200000');
  const conc = Number(concRaw);
  const [cmd, ...args] = argv.slice(dash + 1);
  const port = await freePort();
  const child = spawn(cmd, args, {
    cwd: __dirname,
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; !(await healthy(port)); i++) {
      if (i > 100) throw new Error('target did not become ready in 10 s');
      await sleep(100);
    }
    const url = (tag) => `http://127.0.0.1:${port}${p.replace(/\{\{seq\}\}/g, `${tag}{{seq}}`)}`;
    const opts = { method: process.env.METHOD || 'GET', body: process.env.BODY };
    await drive(url('w'), Number(process.env.WARMUP || 2000), conc, opts);
    await sleep(2000);
    const r0 = treeRssAnon(child.pid);
    const load1 = await drive(url('a'), n, conc, opts);
    await sleep(2000);
    const r1 = treeRssAnon(child.pid);
    const load2 = await drive(url('b'), n, conc, opts);
    await sleep(2000);
    const r2 = treeRssAnon(child.pid);
    console.log(
      JSON.stringify({
        command: [cmd, ...args].join(' '),
        path: p,
        n,
        processes: r0.processes,
        rps: [load1.rps, load2.rps],
        errors: load1.errors + load2.errors,
        rss_anon_mib: [r0.bytes, r1.bytes, r2.bytes].map((b) => Math.round((b / 1048576) * 10) / 10),
        rss_anon_per_request_first_n: Math.round((r1.bytes - r0.bytes) / n),
        rss_anon_per_request_second_n: Math.round((r2.bytes - r1.bytes) / n),
      }),
    );
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(`measure-tree: ${e.message}`);
  process.exit(1);
});
