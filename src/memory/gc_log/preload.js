// leakhound's preload for a node target it launches (NODE_OPTIONS=--require this file). It
// changes nothing the program does; it only turns on what the gc_log source reads.
// - LEAKHOUND_GC_TRACE=1: V8's --trace-gc-nvp, for node started by npm, npx, ... (Node refuses
//   that flag in NODE_OPTIONS), unless a --trace-gc flag is already given.
// - LEAKHOUND_FORCE_GC_MS=N: a full collection when V8 has run none for N ms, so a short run
//   still has post-GC heap readings. The timer is unref'd: it never keeps the process alive.
'use strict';
(() => {
  const v8 = require('v8');
  const given = process.execArgv.concat((process.env.NODE_OPTIONS || '').split(/\s+/));
  if (process.env.LEAKHOUND_GC_TRACE === '1' && !given.some((a) => /^--trace[-_]gc/.test(a))) {
    v8.setFlagsFromString('--trace-gc-nvp');
  }
  const every = Number(process.env.LEAKHOUND_FORCE_GC_MS);
  if (!(every > 0)) return;
  v8.setFlagsFromString('--expose-gc');
  // A new context sees the flag just set; the program's own global stays as it was.
  const gc = require('vm').runInNewContext('gc');
  const { PerformanceObserver, constants } = require('perf_hooks');
  let last = Date.now();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) last = Date.now();
    }
  }).observe({ entryTypes: ['gc'] });
  setInterval(() => {
    if (Date.now() - last >= every) {
      last = Date.now();
      gc();
    }
  }, Math.min(every, 250)).unref();
})();
