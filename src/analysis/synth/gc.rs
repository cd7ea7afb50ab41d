//! Garbage-collected heaps: V8 (Node), a JVM's G1 and Go. Each turns a tick's requests into
//! allocation, collects when its runtime would, reports the collections as its GC log does,
//! and returns the anonymous memory the process holds.

use rand::rngs::SmallRng;
use rand::Rng;

use super::runtime::Step;
use super::{log_uniform, normal, KIB, MIB};
use crate::timeline::GcSample;

/// Minor collections kept per tick: a busy young generation can collect dozens of times a
/// second, and only majors feed the judged metric.
const MINORS_PER_TICK: usize = 8;

fn sample(s: &Step, f: f64, major: bool, after: f64, before: f64, pause_ms: f64) -> GcSample {
    GcSample {
        t_s: s.at(f),
        requests: (s.completed)(f),
        major,
        heap_after: after.max(0.0) as u64,
        heap_before: Some(before.max(after).max(0.0) as u64),
        pause_ms,
        external: None,
    }
}

/// One V8 heap: a scavenged young generation, an old space collected by mark-compact, and a
/// committed capacity that grows in steps under allocation pressure and is handed back by the
/// memory reducer when the process idles. A share of what the program retains may be held in
/// Buffers, outside the heap: V8's own trace does not count it; leakhound's preload reads it
/// after each collection it forces (`GcSample::external`).
#[derive(Debug, Clone)]
pub(crate) struct V8 {
    base_anon: f64,
    pub(crate) live0: f64,
    /// Share of the retained bytes held in Buffers.
    off_heap: f64,
    /// Buffers the process holds at rest, and their scatter at a forced collection (requests
    /// in flight hold some).
    buffers0: f64,
    buffers_sd: f64,
    /// What the preload last read of them: V8's own collections carry it.
    last_buffers: Option<u64>,
    young: f64,
    young_used: f64,
    alloc: f64,
    idle_alloc: f64,
    promote: f64,
    gap: f64,
    old_garbage: f64,
    capacity: f64,
    step: f64,
    /// Headroom the heap grows early under load, reached after `pressure_s` busy seconds.
    pressure: f64,
    pressure_s: f64,
    busy_s: f64,
    idle_s: f64,
    reducer_delay: f64,
    reduced: bool,
    heap_sd: f64,
    frag: f64,
    frag_cap: f64,
    /// Busy seconds between compactions (which drop the fragmentation); infinite = none.
    compact_every: f64,
    next_compact: f64,
}

impl V8 {
    /// A heap for `nominal` requests per second; `scale` shrinks a cluster worker's;
    /// `off_heap` of what the program retains is held in Buffers.
    pub(crate) fn draw(rng: &mut SmallRng, nominal: f64, scale: f64, off_heap: f64) -> V8 {
        let young = log_uniform(rng, 1.0, 16.0) * MIB;
        let alloc = log_uniform(rng, 4.0, 64.0) * KIB;
        let promote = rng.random_range(0.01..0.06);
        let promoted_per_s = nominal.max(50.0) * alloc * promote;
        let live0 = log_uniform(rng, 4.0, 60.0) * MIB * scale;
        let compact_every = if rng.random_bool(0.3) {
            rng.random_range(30.0..120.0)
        } else {
            f64::INFINITY
        };
        V8 {
            base_anon: log_uniform(rng, 8.0, 200.0) * MIB * scale,
            live0,
            off_heap,
            buffers0: 0.0,
            buffers_sd: 0.0,
            last_buffers: None,
            young,
            young_used: rng.random_range(0.0..young),
            alloc,
            idle_alloc: log_uniform(rng, 1.0, 64.0) * KIB,
            promote,
            // A mark-compact every 2-8 s under the nominal load.
            gap: promoted_per_s * rng.random_range(2.0..8.0),
            old_garbage: 0.0,
            capacity: live0 * rng.random_range(1.05..1.3),
            step: rng.random_range(0.25..2.0) * MIB,
            pressure: log_uniform(rng, 1.0, 16.0) * MIB * scale,
            pressure_s: rng.random_range(5.0..30.0),
            busy_s: 0.0,
            idle_s: 0.0,
            reducer_delay: rng.random_range(4.0..10.0),
            reduced: false,
            heap_sd: log_uniform(rng, 16.0, 512.0) * KIB,
            frag: 0.0,
            frag_cap: rng.random_range(0.25..1.5) * MIB,
            compact_every,
            next_compact: compact_every * rng.random_range(0.5..1.5),
        }
    }

    pub(crate) fn heap_noise(&self) -> f64 {
        let frag = if self.compact_every.is_finite() {
            self.frag_cap
        } else {
            0.0
        };
        self.heap_sd.max(frag).max(self.buffers_sd)
    }

    /// Draws the Buffers held at rest, from their own stream so that every other draw of the
    /// series is what it was before Buffers were modelled.
    pub(crate) fn draw_buffers(&mut self, rng: &mut SmallRng) {
        self.buffers0 = log_uniform(rng, 64.0, 4096.0) * KIB;
        self.buffers_sd = log_uniform(rng, 4.0, 64.0) * KIB;
    }

    /// One capacity step of RSS.
    pub(crate) fn rss_step(&self) -> f64 {
        self.step
    }

    /// How far RSS moves on its own after `warm_s` busy seconds: the early headroom still to
    /// come, a compaction's return, and the memory reducer's when the design idles.
    pub(crate) fn rss_moves(&self, warm_s: f64, idle: bool) -> f64 {
        let headroom = self.pressure * (1.0 - warm_s / self.pressure_s).max(0.0);
        let compaction = if self.compact_every.is_finite() {
            4.0 * MIB
        } else {
            0.0
        };
        let reducer = if idle { 11.0 * MIB } else { 0.0 };
        headroom + compaction.max(reducer)
    }

    /// A major collection at fraction `f` of the tick; `buffers` when leakhound forced it and
    /// its preload read the Buffers that survived.
    fn major(&mut self, rng: &mut SmallRng, s: &Step, f: f64, gc: &mut Vec<GcSample>) -> usize {
        let live = (s.live)(f);
        let in_buffers = self.off_heap * (live - self.live0);
        let before = live - in_buffers + self.old_garbage + self.frag;
        if self.busy_s >= self.next_compact && self.compact_every.is_finite() {
            // A compacting collection: fragmentation goes, and so does some capacity.
            self.frag = 0.0;
            self.capacity -= rng.random_range(1.0..4.0) * MIB;
            self.next_compact = self.busy_s + self.compact_every * rng.random_range(0.5..1.5);
        }
        let after = live - in_buffers + self.frag + self.heap_sd * normal(rng).abs();
        gc.push(sample(
            s,
            f,
            true,
            after,
            before,
            rng.random_range(2.0..30.0),
        ));
        self.old_garbage = 0.0;
        let i = gc.len() - 1;
        gc[i].external = self.last_buffers;
        i
    }

    /// A full collection leakhound forced at the end of the tick (`gc_log.force_gc`), with
    /// the Buffers its preload reads right after.
    pub(crate) fn force(&mut self, rng: &mut SmallRng, s: &Step, gc: &mut Vec<GcSample>) {
        let i = self.major(rng, s, 1.0, gc);
        let in_buffers = self.off_heap * ((s.live)(1.0) - self.live0);
        let held = self.buffers0 + in_buffers + self.buffers_sd * normal(rng).abs();
        self.last_buffers = Some(held.max(0.0) as u64);
        gc[i].external = self.last_buffers;
    }

    pub(crate) fn step(&mut self, rng: &mut SmallRng, s: &Step, gc: &mut Vec<GcSample>) -> f64 {
        let dt = s.dt();
        let allocated = s.requests * self.alloc + dt * self.idle_alloc;
        let scavenges = ((self.young_used + allocated) / self.young).floor() as usize;
        let first = self.young - self.young_used;
        let mut minors = 0;
        for i in 0..scavenges {
            let f = ((first + i as f64 * self.young) / allocated).clamp(0.0, 1.0);
            self.old_garbage += self.promote * self.young;
            self.frag = (self.frag + 0.01 * self.promote * self.young).min(self.frag_cap);
            if self.old_garbage >= self.gap {
                self.major(rng, s, f, gc);
            } else if minors < MINORS_PER_TICK {
                minors += 1;
                let after = (s.live)(f) + self.old_garbage + self.frag;
                gc.push(sample(s, f, false, after, after + self.young, 1.0));
            }
        }
        self.young_used = (self.young_used + allocated) % self.young;
        if s.requests > 0.0 {
            self.busy_s += dt;
            self.idle_s = 0.0;
            self.reduced = false;
        } else {
            self.idle_s += dt;
            if self.idle_s >= self.reducer_delay && !self.reduced {
                // The memory reducer: a full collection, then capacity handed back.
                self.reduced = true;
                self.major(rng, s, 1.0, gc);
                self.capacity -= rng.random_range(5.0..11.0) * MIB;
            }
        }
        let used = (s.live)(1.0) + self.old_garbage + self.frag;
        self.capacity = self.capacity.max(used + self.step * 0.5);
        let headroom = if s.requests > 0.0 {
            self.pressure * (self.busy_s / self.pressure_s).min(1.0)
        } else {
            0.0
        };
        let need = used + headroom;
        if need > self.capacity {
            self.capacity += self.step * ((need - self.capacity) / self.step).ceil();
        }
        self.base_anon + self.capacity + 2.0 * self.young
    }
}

/// A JVM with G1: the committed heap expands in big steps early in a run, eden fills and is
/// collected (young GCs), and a concurrent cycle or full GC now and then says what is live.
#[derive(Debug, Clone)]
pub(crate) struct Jvm {
    base_anon: f64,
    pub(crate) live0: f64,
    committed: f64,
    max_heap: f64,
    expand_step: f64,
    expand_until: f64,
    /// Expansions left that allocation pressure alone may make early in the run.
    early_expansions: usize,
    eden_frac: f64,
    eden_used: f64,
    alloc: f64,
    promote: f64,
    gap: f64,
    old_garbage: f64,
    touched: f64,
    heap_sd: f64,
    busy_s: f64,
}

impl Jvm {
    pub(crate) fn draw(rng: &mut SmallRng, nominal: f64) -> Jvm {
        let live0 = log_uniform(rng, 20.0, 200.0) * MIB;
        let committed = (log_uniform(rng, 64.0, 256.0) * MIB).max(live0 * 1.5);
        let alloc = log_uniform(rng, 10.0, 100.0) * KIB;
        let promote = rng.random_range(0.005..0.03);
        Jvm {
            base_anon: log_uniform(rng, 60.0, 250.0) * MIB,
            live0,
            committed,
            max_heap: committed * rng.random_range(2.0..6.0),
            expand_step: rng.random_range(16.0..64.0) * MIB,
            expand_until: rng.random_range(5.0..40.0),
            early_expansions: rng.random_range(1..=4),
            eden_frac: rng.random_range(0.25..0.4),
            eden_used: 0.0,
            alloc,
            promote,
            // A concurrent cycle every 3-20 s under the nominal load.
            gap: nominal.max(50.0) * alloc * promote * rng.random_range(3.0..20.0),
            old_garbage: 0.0,
            touched: live0 + 8.0 * MIB,
            heap_sd: log_uniform(rng, 64.0, 2048.0) * KIB,
            busy_s: 0.0,
        }
    }

    pub(crate) fn heap_noise(&self) -> f64 {
        self.heap_sd
    }

    pub(crate) fn rss_noise(&self) -> f64 {
        self.expand_step
    }

    /// A full collection leakhound forced at the end of the tick (`jcmd GC.run`): what is
    /// live, the old garbage gone.
    pub(crate) fn force(&mut self, rng: &mut SmallRng, s: &Step, gc: &mut Vec<GcSample>) {
        let live = (s.live)(1.0);
        let before = live + self.old_garbage + self.eden_used;
        let after = live + self.heap_sd * normal(rng).abs();
        gc.push(sample(
            s,
            1.0,
            true,
            after,
            before,
            rng.random_range(5.0..40.0),
        ));
        self.old_garbage = 0.0;
    }

    pub(crate) fn step(&mut self, rng: &mut SmallRng, s: &Step, gc: &mut Vec<GcSample>) -> f64 {
        let allocated = s.requests * self.alloc;
        if s.requests > 0.0 {
            self.busy_s += s.dt();
        }
        let mut left = allocated;
        let mut done = 0.0;
        let mut minors = 0;
        loop {
            let eden = self.committed * self.eden_frac;
            if self.eden_used + left < eden {
                self.eden_used += left;
                break;
            }
            let take = eden - self.eden_used;
            left -= take;
            done += take;
            self.eden_used = 0.0;
            let f = if allocated > 0.0 {
                done / allocated
            } else {
                1.0
            };
            let live = (s.live)(f);
            self.old_garbage += self.promote * eden;
            self.touched = self
                .touched
                .max((eden + live + self.old_garbage).min(self.committed));
            let old = live + self.old_garbage;
            let early = self.busy_s < self.expand_until
                && self.early_expansions > 0
                && rng.random_bool(0.5);
            self.early_expansions -= usize::from(early);
            if (early || old > 0.7 * self.committed) && self.committed < self.max_heap {
                self.committed = (self.committed + self.expand_step).min(self.max_heap);
            }
            if self.old_garbage >= self.gap {
                let after = live + self.heap_sd * normal(rng).abs();
                gc.push(sample(
                    s,
                    f,
                    true,
                    after,
                    old + eden,
                    rng.random_range(5.0..80.0),
                ));
                self.old_garbage = 0.0;
            } else if minors < MINORS_PER_TICK {
                minors += 1;
                gc.push(sample(
                    s,
                    f,
                    false,
                    old,
                    old + eden,
                    rng.random_range(2.0..15.0),
                ));
            }
        }
        let live = (s.live)(1.0);
        let used = live + self.old_garbage + self.eden_used;
        self.touched = self.touched.max(used.min(self.committed)).max(live);
        self.base_anon + self.touched
    }
}

/// Go: a GC cycle whenever the heap reaches its goal (live × (1 + GOGC/100), at least 4 MiB),
/// gctrace's live heap in whole MB, a heap mapped up to the goal and released slowly by the
/// background scavenger, and a forced cycle after two idle minutes.
#[derive(Debug, Clone)]
pub(crate) struct Go {
    base_anon: f64,
    pub(crate) live0: f64,
    gogc: f64,
    heap: f64,
    goal: f64,
    mapped: f64,
    alloc: f64,
    idle_alloc: f64,
    release_per_s: f64,
    float_sd: f64,
    last_gc_s: f64,
    last_live: f64,
}

/// The smallest heap goal.
const GO_MIN_GOAL: f64 = 4.0 * MIB;
/// gctrace's unit: it prints whole megabytes (2^20 bytes), truncated.
const GO_TRACE_UNIT: f64 = MIB;

impl Go {
    pub(crate) fn draw(rng: &mut SmallRng, _nominal: f64) -> Go {
        let live0 = log_uniform(rng, 2.0, 50.0) * MIB;
        let gogc = [0.5, 1.0, 1.0, 1.0, 2.0][rng.random_range(0..5)];
        let goal = (live0 * (1.0 + gogc)).max(GO_MIN_GOAL);
        Go {
            base_anon: log_uniform(rng, 3.0, 40.0) * MIB,
            live0,
            gogc,
            heap: live0,
            goal,
            mapped: goal,
            alloc: log_uniform(rng, 8.0, 128.0) * KIB,
            idle_alloc: log_uniform(rng, 0.5, 16.0) * KIB,
            release_per_s: log_uniform(rng, 0.25, 4.0) * MIB,
            float_sd: log_uniform(rng, 16.0, 256.0) * KIB,
            last_gc_s: 0.0,
            last_live: live0,
        }
    }

    pub(crate) fn heap_noise(&self) -> f64 {
        self.float_sd.max(GO_TRACE_UNIT)
    }

    pub(crate) fn rss_noise(&self) -> f64 {
        // The mapped heap follows the goal, which moves by whole cycles' worth of garbage.
        GO_MIN_GOAL * self.gogc
    }

    fn cycle(&mut self, rng: &mut SmallRng, s: &Step, f: f64, gc: &mut Vec<GcSample>) {
        let live = (s.live)(f);
        let after = live + self.float_sd * normal(rng).abs();
        let trunc = |b: f64| (b / GO_TRACE_UNIT).floor() * GO_TRACE_UNIT;
        gc.push(GcSample {
            t_s: s.at(f),
            requests: (s.completed)(f),
            major: true,
            heap_after: trunc(after) as u64,
            heap_before: Some(trunc(self.heap) as u64),
            pause_ms: rng.random_range(0.05..1.0),
            external: None,
        });
        self.heap = after;
        self.goal = (after * (1.0 + self.gogc)).max(GO_MIN_GOAL);
        self.last_gc_s = s.at(f);
    }

    pub(crate) fn step(&mut self, rng: &mut SmallRng, s: &Step, gc: &mut Vec<GcSample>) -> f64 {
        let grown = (s.live)(1.0) - self.last_live;
        self.last_live = (s.live)(1.0);
        let allocated = s.requests * self.alloc + s.dt() * self.idle_alloc + grown.max(0.0);
        let mut done = 0.0;
        let first = gc.len();
        while allocated - done >= self.goal - self.heap {
            done += (self.goal - self.heap).max(0.0);
            self.heap = self.goal;
            self.mapped = self.mapped.max(self.goal);
            let f = (done / allocated).clamp(0.0, 1.0);
            self.cycle(rng, s, f, gc);
        }
        self.heap += allocated - done;
        if s.t1 - self.last_gc_s >= 120.0 {
            self.cycle(rng, s, 1.0, gc);
        }
        // A log read per tick holds every line; keep the last few for speed.
        let n = gc.len() - first;
        if n > 4 * MINORS_PER_TICK {
            gc.drain(first..gc.len() - 4 * MINORS_PER_TICK);
        }
        self.mapped = self.mapped.max(self.heap);
        let excess = (self.mapped - 1.1 * self.goal).max(0.0);
        self.mapped -= excess.min(self.release_per_s * s.dt());
        self.base_anon + self.mapped
    }
}
