'use strict';
// dies-after.js: a target that fails, for leakhound's error-path tests.
//
// Serves like clean.js, then exits with status 1 after $DIE_AFTER_MS milliseconds (default 2000).
// DIE_AFTER_MS=0 exits at once, before listening ("would not start").
// LISTEN=0 never opens the port (readiness must time out); it still exits after DIE_AFTER_MS,
// or after 120 s at most, so a harness bug can never leave it running.
// Run: PORT=3199 DIE_AFTER_MS=2000 node dies-after.js

const { serve, send, exitWithParent } = require('./common');

const raw = process.env.DIE_AFTER_MS;
const dieAfter = raw === undefined || raw === '' ? 2000 : Number(raw);
if (!Number.isFinite(dieAfter) || dieAfter < 0) {
  console.error(
    `dies-after: DIE_AFTER_MS must be a number of milliseconds >= 0 (got ${JSON.stringify(raw)})`,
  );
  process.exit(2);
}
if (dieAfter === 0) {
  console.error('dies-after: exiting at once (DIE_AFTER_MS=0)');
  process.exit(1);
}

if (process.env.LISTEN === '0') {
  if (process.env.PID_FILE) require('fs').writeFileSync(process.env.PID_FILE, `${process.pid}\n`);
  exitWithParent();
  console.error('dies-after: not listening (LISTEN=0)');
  setTimeout(() => process.exit(1), Math.min(dieAfter, 120_000));
} else {
  serve('dies-after', (req, res, url) => send(res, 200, { ok: true, path: url.pathname }));
  setTimeout(() => {
    console.error(`dies-after: exiting after ${dieAfter} ms`);
    process.exit(1);
  }, dieAfter);
}
