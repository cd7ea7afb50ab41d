#!/usr/bin/env python3
"""python-leak.py: a non-Node target, a Python stdlib HTTP server that keeps data per request.

Pattern: a ThreadingHTTPServer whose /events handler appends each request's ~1 KiB event
record (a fresh bytes object plus a small dict) to a module-level list that is never trimmed.
Nothing here is Node: leakhound's /proc sampling works for any process.
Endpoints: /events (GET or POST), /health.
Retained per request (measured, see README.md): ~1.3 KiB RssAnon (1358 and 1330 B/request over
two runs of 10000; tests/targets/measure-tree.js).
Run: PORT=3113 python3 python-leak.py
`--clean` (or CLEAN=1) is the fixed twin, the clean control: each event record is built the
same way and then dropped (nothing kept), so the work per request is the same.
Like the Node targets: 127.0.0.1 only, PID written to $PID_FILE when set, exits when its
parent goes away.
"""

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECORD_BYTES = 1024
MAX_BODY = 64 * 1024
# BUG: every event is kept forever (unless --clean).
EVENTS = []
CLEAN = "--clean" in sys.argv[1:] or os.environ.get("CLEAN", "") == "1"
SEQ = 0
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the Node targets
    timeout = 30  # an idle keep-alive connection does not hold a thread forever
    # Headers and body in one segment: without these, Nagle plus delayed ACKs cap keep-alive
    # clients at ~25 requests per second per connection.
    disable_nagle_algorithm = True
    wbufsize = -1

    def log_message(self, fmt, *args):  # no access log: it would be most of the CPU
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        path = self.path.split("?", 1)[0]
        if path == "/health":
            return self.send_json(200, {"ok": True})
        if path != "/events":
            return self.send_json(404, {"error": "not found"})
        global SEQ
        with LOCK:
            seq = SEQ
            SEQ += 1
            head = f"{seq}:{self.path}:".encode()
            record = head + b"x" * max(0, RECORD_BYTES - len(head))
            event = {"seq": seq, "at": time.time(), "record": record, "body": body[:64]}
            if not CLEAN:
                EVENTS.append(event)
        return self.send_json(200, {"seq": seq})

    do_GET = handle_any
    do_POST = handle_any


def exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main():
    raw = os.environ.get("PORT", "")
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        print(f"python-leak.py: set PORT to a port number (got {raw!r})", file=sys.stderr)
        sys.exit(2)
    if os.environ.get("PID_FILE"):
        with open(os.environ["PID_FILE"], "w") as f:
            f.write(f"{os.getpid()}\n")
    threading.Thread(target=exit_with_parent, daemon=True).start()
    server = ThreadingHTTPServer(("127.0.0.1", int(raw)), Handler)
    server.daemon_threads = True
    print(f"python-{'clean' if CLEAN else 'leak'} listening on http://127.0.0.1:{raw} (pid {os.getpid()})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
