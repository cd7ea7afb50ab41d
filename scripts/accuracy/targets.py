"""The targets of the real-run evaluation (scripts/accuracy.sh), each with its truth.

Every entry is a real server from tests/targets/ that leakhound starts itself (`target.command`)
on a free loopback port. Fields:

  name        unique; what the result tables show
  family      node-pattern (plain Node `http`, one leak pattern or its fixed twin),
              node-npm (real npm packages: express, express-session, lru-cache),
              python, jvm, native
  truth       leak | none | bounded | time_growth: what the target really does
  bpr         leak: bytes retained per request, in RSS (tests/targets/README.md's measured
              column where there is one, else the estimate in the note); bounded: bytes per
              cache entry while it fills
  fill        bounded only: entries the cache holds at most (it fills with one unique key per
              request, so it is full after `fill` requests counted from the start of the run)
  bps         time_growth only: bytes per second whatever the traffic
  rate_cap    the highest rate this target is driven at on the 2-core machine (designs draw
              100-3,000/s and are capped here: Python and the session app cannot take 3,000/s)
  command     argv; {root} is the repository, {build} the folder the runner builds into
  env         extra environment (PORT is added per run)
  requests    the scenario's `requests:` entries (YAML flow mappings, one per line)

Memory: a leak run is also capped so that it retains at most LEAK_BUDGET_BYTES (designs.py
lowers the rate), so no run takes more than ~1 GiB of the shared machine.
"""

NODE_FLAGS = "--max-semi-space-size=1"
# A small young generation and heap start make the JVM's RSS follow its live heap (the JVM's
# counterpart of the Node targets' --max-semi-space-size=1, tests/targets/README.md).
JAVA_FLAGS = ["-XX:+UseSerialGC", "-Xms32m", "-Xmn8m", "-Xmx1536m", "-Dsun.net.httpserver.nodelay=true"]


def node(script, truth, family="node-pattern", env=None, flags=NODE_FLAGS, **kw):
    e = {"NODE_OPTIONS": flags}
    e.update(env or {})
    return dict(command=["node", "{root}/tests/targets/" + script], env=e, truth=truth, family=family, **kw)


GET = lambda path, name="work": "{name: %s, path: '%s'}" % (name, path)  # noqa: E731
POST = lambda path, body, name="work": (  # noqa: E731
    "{name: %s, method: POST, path: '%s', headers: {content-type: application/json}, body: '%s'}"
    % (name, path, body)
)

TARGETS = [
    # --- node-pattern: tests/targets/README.md "How much each one retains (measured)" ---
    dict(name="listener-leak", bpr=4213, requests=[POST("/process?id={{seq}}", '{"user": "{{uuid}}"}')],
         rate_cap=3000, **node("listener-leak.js", "leak")),
    dict(name="listener-fixed", requests=[POST("/process?id={{seq}}", '{"user": "{{uuid}}"}')],
         rate_cap=3000, **node("listener-fixed.js", "none")),
    dict(name="cache-leak", bpr=1274, requests=[GET("/users/{{rand 1000}}?x={{seq}}", "user")],
         rate_cap=3000, **node("cache-leak.js", "leak")),
    dict(name="cache-fixed", bpr=1274, fill=1000, requests=[GET("/users/{{rand 1000}}?x={{seq}}", "user")],
         rate_cap=3000, note="LRU of 1,000 x ~1 KiB, TTL 30 s", **node("cache-fixed.js", "bounded")),
    dict(name="promise-leak", bpr=1943, requests=[POST("/checkout", '{"order": {{seq}}}', "checkout")],
         rate_cap=3000, **node("promise-leak.js", "leak")),
    dict(name="promise-fixed", requests=[POST("/checkout", '{"order": {{seq}}}', "checkout")],
         rate_cap=3000, **node("promise-fixed.js", "none")),
    dict(name="metrics-leak", bpr=715, requests=[GET("/api/items/{{rand 100000}}", "items")],
         rate_cap=3000, **node("metrics-leak.js", "leak")),
    dict(name="metrics-fixed", requests=[GET("/api/items/{{rand 100000}}", "items")],
         rate_cap=3000, **node("metrics-fixed.js", "none")),
    dict(name="timer-leak", bps=116_000, requests=[GET("/flags", "flags")],
         rate_cap=3000, **node("timer-leak.js", "time_growth")),
    dict(name="timer-fixed", requests=[GET("/flags", "flags")], rate_cap=3000, **node("timer-fixed.js", "none")),
    dict(name="clean", requests=[GET("/anything?id={{seq}}", "any")], rate_cap=3000, **node("clean.js", "none")),
    dict(name="buffer-leak", bpr=2490,
         requests=["{name: upload, method: POST, path: '/upload?id={{seq}}', "
                   "headers: {content-type: application/octet-stream}, body: 'blob-{{uuid}}'}"],
         rate_cap=3000, **node("buffer-leak.js", "leak")),
    dict(name="cluster-leak", bpr=1370, requests=[GET("/session?id={{seq}}", "session")],
         rate_cap=2000, note="primary + 2 workers, summed over the tree", **node("cluster-leak.js", "leak")),
    dict(name="tunable-256", bpr=350, requests=[GET("/work?id={{seq}}")], rate_cap=3000,
         note="LEAK_BYTES=256: 381 / 318 B measured", **node("tunable-leak.js", "leak", env={"LEAK_BYTES": "256"})),
    dict(name="one-of-three", bpr=1456,
         requests=[GET("/catalog?page={{rand 100}}", "catalog"), GET("/search?q={{uuid}}", "search"),
                   POST("/orders?id={{seq}}", '{"order": {{seq}}}', "orders")],
         rate_cap=3000, note="only /orders leaks (~4.4 KiB); a third of the mix, so ~1.45 KiB overall",
         **node("one-of-three.js", "leak")),
    dict(name="warmup-table", requests=[GET("/price/{{rand 100000}}", "price")], rate_cap=3000,
         note="16 x 512 KiB tables built in the first second, then flat", **node("warmup-table.js", "none")),
    # --- node-npm ---
    dict(name="lru-bounded", bpr=1300, fill=2000, requests=[GET("/users/{{seq}}?x={{uuid}}", "user")],
         rate_cap=3000, note="lru-cache max 2,000 x ~1 KiB",
         **node("lru-bounded.js", "bounded", family="node-npm",
                flags=NODE_FLAGS + " --max-old-space-size=32")),
    dict(name="session-leak", bpr=1814, requests=[GET("/page?id={{seq}}", "page")], rate_cap=1000,
         note="express-session MemoryStore, saveUninitialized true, maxAge 24 h",
         **node("session.js", "leak", family="node-npm", env={"SESSION": "leak"})),
    dict(name="session-fixed", requests=[GET("/page?id={{seq}}", "page")], rate_cap=1000,
         **node("session.js", "none", family="node-npm", env={"SESSION": "fixed"})),
    dict(name="stateless", requests=["{name: answer, path: '/api/answer?id={{seq}}', "
                                     "headers: {authorization: 'Bearer leakhound-token'}}"],
         rate_cap=2000, note="express, 200 short-lived objects per request",
         **node("stateless.js", "none", family="node-npm", env={"OBJECTS": "200"})),
    # --- python ---
    dict(name="python-leak", bpr=1344, family="python", truth="leak",
         command=["python3", "{root}/tests/targets/python-leak.py"], env={},
         requests=[POST("/events?id={{seq}}", '{"user": "{{uuid}}", "kind": "click"}', "events")], rate_cap=500),
    dict(name="python-clean", family="python", truth="none",
         command=["python3", "{root}/tests/targets/python-leak.py", "--clean"], env={},
         requests=[POST("/events?id={{seq}}", '{"user": "{{uuid}}", "kind": "click"}', "events")], rate_cap=500),
    # --- jvm (compiled by the runner into {build}/java) ---
    dict(name="java-leak", bpr=1060, family="jvm", truth="leak",
         command=["java", *JAVA_FLAGS, "-cp", "{build}/java", "Server"], env={"MODE": "leak", "LEAK_BYTES": "1024"},
         requests=[GET("/work?id={{seq}}")], rate_cap=3000,
         note="live heap ~1,060 B/request; RSS 2-3 KiB/request over the first 20,000 (measure-tree)"),
    dict(name="java-clean", family="jvm", truth="none",
         command=["java", *JAVA_FLAGS, "-cp", "{build}/java", "Server"], env={"MODE": "clean"},
         requests=[GET("/work?id={{seq}}")], rate_cap=3000),
    dict(name="java-bounded", bpr=1150, fill=10000, family="jvm", truth="bounded",
         command=["java", *JAVA_FLAGS, "-cp", "{build}/java", "Server"], env={"MODE": "bounded", "MAX": "10000"},
         requests=[GET("/work?id={{seq}}")], rate_cap=3000, note="LinkedHashMap LRU, 10,000 x 1 KiB"),
    dict(name="java-clean-g1", family="jvm", truth="none",
         command=["java", "-Xmx1536m", "-Dsun.net.httpserver.nodelay=true", "-cp", "{build}/java", "Server"],
         env={"MODE": "clean"}, requests=[GET("/work?id={{seq}}")], rate_cap=3000,
         note="the JVM's default flags (G1, heap sized by the machine): RSS grows while eden is first touched"),
    # --- native (built by the runner with cc -O2 into {build}/native) ---
    dict(name="native-leak", bpr=1040, family="native", truth="leak",
         command=["{build}/native"], env={"MODE": "leak", "LEAK_BYTES": "1024"},
         requests=[GET("/work?id={{seq}}")], rate_cap=3000),
    dict(name="native-clean", family="native", truth="none",
         command=["{build}/native"], env={"MODE": "clean"},
         requests=[GET("/work?id={{seq}}")], rate_cap=3000),
]

FAMILIES = ["node-pattern", "node-npm", "python", "jvm", "native"]
TRUTHS = ["leak", "time_growth", "bounded", "none"]

# At most this much retained memory per leak run (the rate is lowered to stay under it).
LEAK_BUDGET_BYTES = 1 << 30
# The RSS a leak costs can exceed its live bytes (the JVM's early growth): budget with this.
RSS_SLACK = 3.0


def check():
    names = [t["name"] for t in TARGETS]
    assert len(names) == len(set(names)), "duplicate target names"
    for t in TARGETS:
        assert t["family"] in FAMILIES, t["name"]
        assert t["truth"] in TRUTHS, t["name"]
        if t["truth"] == "leak":
            assert t.get("bpr", 0) > 0, t["name"]
        if t["truth"] == "bounded":
            assert t.get("bpr", 0) > 0 and t.get("fill", 0) > 0, t["name"]
        if t["truth"] == "time_growth":
            assert t.get("bps", 0) > 0, t["name"]


def by_name(name):
    for t in TARGETS:
        if t["name"] == name:
            return t
    raise KeyError(name)


check()
