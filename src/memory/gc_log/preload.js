// leakhound's preload for a node target it launches (NODE_OPTIONS=--require this file). It
// changes nothing the program does; it only turns on what the gc_log source reads.
// - LEAKHOUND_GC_TRACE=1: V8's --trace-gc-nvp, for node started by npm, npx, ... (Node refuses
//   that flag in NODE_OPTIONS), unless a --trace-gc flag is already given.
// - LEAKHOUND_FORCE_GC_MS=N: a full collection every N ms, so a short run still has post-GC
//   readings; right after each, one line `[leakhound-gc PID] array_buffers=N`: the ArrayBuffer
//   backing stores (Buffers) that survived it, which live outside the JS heap and so are not in
//   V8's own trace line, written just before during gc(). Read synchronously after gc(), it
//   counts the live Buffers and at most a few dead ones a sweeper has yet to free; read later,
//   it would count every Buffer made since. The timer is unref'd: it never keeps the process
//   alive.
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
  const fs = require('fs');
  setInterval(() => {
    gc();
    const buffers = process.memoryUsage().arrayBuffers;
    try {
      // One write of one whole line, on the fd V8's trace goes to.
      fs.writeSync(1, `[leakhound-gc ${process.pid}] array_buffers=${buffers}\n`);
    } catch (_) {
      // stdout closed: the reading is lost, the program goes on.
    }
  }, every).unref();
})();
