#!/usr/bin/env python3
"""A small HTTP/1.1 target for scripts/perf-bench.sh (Python 3 standard library only).

It answers every request with `200 ok` and counts request arrivals in 100 ms buckets, so the
benchmark can see *when* a load generator sent its requests. Two options shape it:

  --stall-every S --stall-for D   every S seconds the target stalls for D seconds: requests that
                                  arrive in a stall are still read (their arrival is counted)
                                  but are answered only when the stall ends, like a service
                                  stuck on a lock or a long GC pause. A generator that keeps its
                                  schedule sends during the stall; one that waits for answers
                                  sends nothing and then bursts to catch up.
  --heap-mib N                    allocate and touch N MiB before serving (a large-heap target
                                  for the memory collector's overhead).

GET /__stats returns the arrival buckets and stall windows as JSON (seconds since start, not
counted); GET /__reset clears the buckets. Listens on 127.0.0.1 only.
"""

import argparse
import asyncio
import json
import signal
import time

BUCKET_S = 0.1
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class State:
    def __init__(self, every, dur):
        self.t0 = time.monotonic()
        self.every = every
        self.dur = dur
        self.buckets = {}
        self.stalls = []

    def now(self):
        return time.monotonic() - self.t0

    def stall_end(self, t):
        """The end of the stall `t` falls in, or None. Stalls are [k*every - dur, k*every)."""
        if self.every <= 0 or self.dur <= 0:
            return None
        k = int(t // self.every) + 1
        end = k * self.every
        return end if end - self.dur <= t else None

    def stats(self):
        t = self.now()
        stalls = []
        if self.every > 0 and self.dur > 0:
            k = 1
            while k * self.every - self.dur <= t:
                stalls.append([k * self.every - self.dur, k * self.every])
                k += 1
        return {
            "bucket_s": BUCKET_S,
            "now_s": t,
            "counts": {str(k): v for k, v in sorted(self.buckets.items())},
            "stalls": stalls,
        }


class Http(asyncio.Protocol):
    def __init__(self, state):
        self.state = state
        self.buf = b""
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            head = self.buf[:head_end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        self.transport.close()
                        return
            total = head_end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            self.handle(head.split(b" ", 2))

    def handle(self, request_line):
        path = request_line[1] if len(request_line) > 1 else b"/"
        st = self.state
        if path.startswith(b"/__stats"):
            self.reply_json(st.stats())
            return
        if path.startswith(b"/__reset"):
            st.buckets.clear()
            self.reply_json({"reset": True})
            return
        t = st.now()
        b = int(t / BUCKET_S)
        st.buckets[b] = st.buckets.get(b, 0) + 1
        end = st.stall_end(t)
        if end is None:
            self.transport.write(OK)
        else:
            # Answer when the stall ends; responses keep their order on this connection.
            asyncio.get_running_loop().call_at(st.t0 + end, self.write_late)

    def write_late(self):
        if not self.transport.is_closing():
            self.transport.write(OK)

    def reply_json(self, obj):
        body = json.dumps(obj).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stall-every", type=float, default=0.0)
    p.add_argument("--stall-for", type=float, default=0.0)
    p.add_argument("--heap-mib", type=int, default=0)
    a = p.parse_args()
    heap = b"\x01" * (a.heap_mib << 20)  # noqa: F841  kept alive until exit: resident memory
    state = State(a.stall_every, a.stall_for)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Http(state), "127.0.0.1", a.port, backlog=4096, reuse_address=True
    )
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    async with server:
        await stop
    del heap


if __name__ == "__main__":
    asyncio.run(main())
