'use strict';
// session.js: a real npm app, express + express-session with its default MemoryStore.
//
// Pattern: every request to /page is served by an express app with `express-session`
// middleware and the default in-memory store (what you get when you pass no `store`; the
// package itself warns it "will leak memory under most conditions"). express-session's default
// `saveUninitialized: true` saves a session for every request that arrives without a session
// cookie, and a load generator (like many API clients, health checkers and bots) never sends
// one back. With a long `cookie.maxAge` (here 24 h, $MAX_AGE_MS) no session expires within a
// soak, and MemoryStore only drops an expired session when that same session is read again
// (there is no sweeper), so every cookieless request adds one entry for good: a leak per
// request. The page handler itself never touches `req.session`.
//   SESSION=leak (default): saveUninitialized true, maxAge 24 h -> one stored session per
//     request (the session's JSON text, ~150 B, under a 32-character id, plus Map overhead).
//   SESSION=fixed: saveUninitialized false -> a session is only stored once a handler writes to
//     it (POST /login does, the load does not), so cookieless requests store nothing.
// Endpoints: /page (any method), /login (POST: writes the session), /health, /stats.
// Retained per request (measured with measure-tree.js, see README.md): SESSION=leak ~1.8 KiB
//   RssAnon (1825 and 1803 B/request over two runs of 10000, --max-semi-space-size=1: the
//   session object, its Cookie, the JSON text the store keeps and the Map entry);
//   SESSION=fixed: nothing by construction (not measured).
// Run: PORT=3130 node session.js   (needs `npm ci --prefix tests/targets`)

const express = require('express');
const session = require('express-session');
const { exitWithParent, requirePort, rssAnon } = require('./common');

const port = requirePort();
const mode = process.env.SESSION || 'leak';
if (mode !== 'leak' && mode !== 'fixed') {
  console.error(`session.js: SESSION must be leak or fixed (got ${JSON.stringify(mode)})`);
  process.exit(2);
}
const maxAge = Number(process.env.MAX_AGE_MS || 24 * 3600 * 1000);
const store = new session.MemoryStore();

const app = express();
app.disable('x-powered-by');
app.get('/health', (_req, res) => res.json({ ok: true }));
app.get('/stats', (_req, res) => {
  if (typeof global.gc === 'function') global.gc();
  store.length((_err, n) => {
    const m = process.memoryUsage();
    res.json({
      rss_anon_bytes: rssAnon(),
      heap_used_bytes: m.heapUsed,
      external_bytes: m.external,
      sessions: n || 0,
      mode,
    });
  });
});
app.use(
  session({
    secret: process.env.SESSION_SECRET || 'leakhound-test-secret',
    store,
    resave: false,
    // BUG (SESSION=leak): the default, true, stores a session for every cookieless request.
    saveUninitialized: mode === 'leak',
    cookie: { maxAge, httpOnly: true },
  }),
);
app.all('/page', (req, res) => {
  res.json({ ok: true, page: req.query.id || null, title: 'Welcome' });
});
app.post('/login', (req, res) => {
  req.session.user = String(req.query.user || 'anonymous');
  res.json({ ok: true, user: req.session.user });
});
app.use((_req, res) => res.status(404).json({ error: 'not found' }));

exitWithParent();
const server = app.listen(port, '127.0.0.1', () => {
  console.log(`session (${mode}) listening on http://127.0.0.1:${port} (pid ${process.pid})`);
});
server.on('clientError', (_err, socket) => socket.destroy());
