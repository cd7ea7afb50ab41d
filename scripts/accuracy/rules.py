"""What counts as a correct verdict in the real-run evaluation (scripts/accuracy.sh).

One function, `acceptable`, decides it from the target's truth and what the run could show.
Its parameters are the module constants below: change them here, and only here.

The sensitivity rule (when a verdict is decidable at all):
  leak         decidable when bytes_per_request x post-warm-up requests >= LEAK_MIN_BYTES
               (8 MiB when the run was judged on an RSS-like metric, 2 MiB when judged on
               heap_after_gc; summary.json leak.metric tells) AND bytes_per_request >=
               LIMIT_FACTOR (2) x the run's leak limit (thresholds.leak_per_request, default
               128 B). Decidable: only `leak` is right. Not decidable: `leak` or `inconclusive`
               (and `none` too when the leak is below the limit itself).
  none         decidable with >= NONE_MIN_REQUESTS (5,000) post-warm-up requests: only `none`;
               below that `none` or `inconclusive`.
  time_growth  decidable when the plan separates time from traffic after warm-up (an idle
               phase, or rates >= 1.5x apart: README.md's condition) AND bytes_per_second x
               post-warm-up seconds >= TIME_MIN_BYTES (2 MiB RSS, 1 MiB heap). When the plan
               cannot separate them, the growth is real but indistinguishable from a traffic
               leak: `time_growth`, `leak` or `inconclusive` are all right.
  bounded      a cache of `fill` entries filled by one unique key per request. Its effective
               truth depends on where the run stopped:
               - the run ended before the cache was full (total requests < fill): memory grew
                 all run long at the entry size, so the effective truth is `leak` (rules above);
               - it filled during warm-up: `bounded` or `none` (the judged stretch is flat);
               - else `bounded`; `none` is also right when the growth after warm-up (entry
                 bytes x the entries added after it) is under LEAK_MIN_BYTES (not material),
                 and `inconclusive` when fewer than NONE_MIN_REQUESTS requests followed the
                 fill (too little plateau to call it flat).
A run that did not finish (no summary.json, completed false, the target died) is `error` and
always wrong.
"""

MIB = 1 << 20
LEAK_MIN_BYTES = {"rss": 8 * MIB, "heap_after_gc": 2 * MIB}
TIME_MIN_BYTES = {"rss": 2 * MIB, "heap_after_gc": 1 * MIB}
LIMIT_FACTOR = 2.0
NONE_MIN_REQUESTS = 5000
DEFAULT_LIMIT = 128


def metric_kind(metric):
    return "heap_after_gc" if metric == "heap_after_gc" else "rss"


def acceptable(truth, *, bpr=0.0, bps=0.0, fill=0, post_requests=0, warmup_requests=0,
               post_seconds=0.0, metric="rss_anon", limit=DEFAULT_LIMIT, separable=False):
    """-> (effective truth, set of acceptable verdicts, decidable, why)."""
    kind = metric_kind(metric)
    limit = limit or DEFAULT_LIMIT
    if truth == "bounded":
        total = warmup_requests + post_requests
        if total < fill:
            eff, ok, dec, why = acceptable("leak", bpr=bpr, post_requests=post_requests, metric=metric,
                                           limit=limit)
            return "leak", ok, dec, f"cache still filling at the end ({total:,} < {fill:,} entries); " + why
        if warmup_requests >= fill:
            ok = {"bounded", "none"}
            dec = post_requests >= NONE_MIN_REQUESTS
            if not dec:
                ok.add("inconclusive")
            return "bounded", ok, dec, "filled during warm-up"
        added_after = fill - warmup_requests
        plateau = total - fill
        ok = {"bounded"}
        why = [f"{added_after:,} entries after warm-up (~{added_after * bpr / MIB:.1f} MiB), plateau {plateau:,} requests"]
        if added_after * bpr < LEAK_MIN_BYTES[kind]:
            ok.add("none")
            why.append("fill not material")
        dec = plateau >= NONE_MIN_REQUESTS
        if not dec:
            ok.add("inconclusive")
        return "bounded", ok, dec, "; ".join(why)
    if truth == "leak":
        grown = bpr * post_requests
        big = grown >= LEAK_MIN_BYTES[kind]
        above = bpr >= LIMIT_FACTOR * limit
        dec = big and above
        why = f"{bpr:.0f} B x {post_requests:,} = {grown / MIB:.1f} MiB (need {LEAK_MIN_BYTES[kind] / MIB:.0f}), limit {limit:.0f} B"
        if dec:
            return "leak", {"leak"}, True, why
        ok = {"leak", "inconclusive"}
        if bpr < limit:
            ok.add("none")
        return "leak", ok, False, why
    if truth == "none":
        dec = post_requests >= NONE_MIN_REQUESTS
        return "none", ({"none"} if dec else {"none", "inconclusive"}), dec, f"{post_requests:,} post-warm-up requests"
    if truth == "time_growth":
        grown = bps * post_seconds
        why = f"{bps / 1000:.0f} KB/s x {post_seconds:.0f} s = {grown / MIB:.1f} MiB"
        if not separable:
            return "time_growth", {"time_growth", "leak", "inconclusive"}, False, why + "; time not separable"
        if grown >= TIME_MIN_BYTES[kind]:
            return "time_growth", {"time_growth"}, True, why
        return "time_growth", {"time_growth", "inconclusive"}, False, why
    raise ValueError(truth)


def false_alarm(truth_eff, verdict):
    """A failing verdict on a target that does not leak."""
    return truth_eff in ("none", "bounded") and verdict in ("leak", "time_growth")


def missed(truth_eff, verdict, decidable):
    """A decidable leak called harmless."""
    return truth_eff in ("leak", "time_growth") and decidable and verdict in ("none", "bounded")


def _self_test():
    _, ok, dec, _ = acceptable("leak", bpr=1024, post_requests=10000)
    assert dec and ok == {"leak"}
    _, ok, dec, _ = acceptable("leak", bpr=1024, post_requests=2000)
    assert not dec and ok == {"leak", "inconclusive"}
    _, ok, dec, _ = acceptable("leak", bpr=1024, post_requests=2100, metric="heap_after_gc")
    assert dec
    _, ok, dec, _ = acceptable("leak", bpr=350, post_requests=100000, limit=256)
    assert not dec and "inconclusive" in ok
    _, ok, dec, _ = acceptable("none", post_requests=4999)
    assert ok == {"none", "inconclusive"}
    eff, ok, _, _ = acceptable("bounded", bpr=1000, fill=10000, warmup_requests=100, post_requests=5000)
    assert eff == "leak"
    eff, ok, dec, _ = acceptable("bounded", bpr=1000, fill=1000, warmup_requests=2000, post_requests=9000)
    assert ok == {"bounded", "none"} and dec
    eff, ok, dec, _ = acceptable("bounded", bpr=1150, fill=10000, warmup_requests=1000, post_requests=30000)
    assert ok == {"bounded"} and dec
    _, ok, _, _ = acceptable("time_growth", bps=116000, post_seconds=30, separable=False)
    assert "leak" in ok
    _, ok, dec, _ = acceptable("time_growth", bps=116000, post_seconds=30, separable=True)
    assert dec and ok == {"time_growth"}


_self_test()
