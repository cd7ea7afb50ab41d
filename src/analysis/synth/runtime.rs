//! The target's runtime: how what it retains shows in RSS and in its GC log. Each model adds
//! the truth's retained bytes to its live data and then does what that runtime does around
//! it — a collector's sawtooth, heap capacity that grows and is given back, a Go heap goal,
//! malloc arenas that grow in steps — plus page noise. The heaps themselves are in
//! [`super::gc`] and [`super::malloc`].

use rand::rngs::SmallRng;
use rand::Rng;

use super::design::{Design, Family, Load};
use super::gc::{Go, Jvm, V8};
use super::malloc::Malloc;
use super::{log_uniform, normal, Kind, MIB, PAGE};
use crate::timeline::GcSample;

/// Share of Node series whose program holds part of what it retains in Buffers, outside V8's
/// heap (seen: a timer or an upload store keeping Buffers).
const OFF_HEAP_SERIES: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Runtime {
    /// One Node process: a V8 heap, `--trace-gc` log.
    Node,
    /// A Node cluster: a primary and three workers, each with its own GC log; heap_after_gc
    /// is the sum of each worker's heap after its last major collection (as the gc_log source
    /// sums them).
    NodeCluster,
    /// A JVM (G1): big heap expansions early, young-GC sawtooth, rare full collections.
    Jvm,
    /// Go: the heap goal doubles the live heap; gctrace reports live heap in whole MB.
    Go,
    /// CPython: pymalloc arenas, RSS only.
    Python,
    /// A native server (glibc or jemalloc), RSS only.
    Native,
}

impl Runtime {
    pub(crate) const ALL: [Runtime; 6] = [
        Runtime::Node,
        Runtime::NodeCluster,
        Runtime::Jvm,
        Runtime::Go,
        Runtime::Python,
        Runtime::Native,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::NodeCluster => "node_cluster",
            Runtime::Jvm => "jvm",
            Runtime::Go => "go",
            Runtime::Python => "python",
            Runtime::Native => "native",
        }
    }

    /// True when the runtime writes a GC log the verdict is judged on (`heap_after_gc`).
    pub(crate) fn has_gc_log(self) -> bool {
        matches!(
            self,
            Runtime::Node | Runtime::NodeCluster | Runtime::Jvm | Runtime::Go
        )
    }

    /// True for garbage-collected runtimes (their RSS carries a heap's capacity).
    pub(crate) fn collected(self) -> bool {
        !matches!(self, Runtime::Python | Runtime::Native)
    }

    pub(crate) fn draw(rng: &mut SmallRng, kind: Kind) -> Runtime {
        if kind == Kind::Cluster3 {
            return Runtime::NodeCluster;
        }
        match rng.random_range(0..20) {
            0..=6 => Runtime::Node,
            7 => Runtime::NodeCluster,
            8..=10 => Runtime::Jvm,
            11..=13 => Runtime::Go,
            14..=16 => Runtime::Python,
            _ => Runtime::Native,
        }
    }
}

/// What the judged metric is, for the decidability floors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    HeapAfterGc,
    /// RSS of a garbage-collected runtime.
    RssGc,
    /// RSS of a runtime without a collector.
    RssNative,
}

/// One tick's memory.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    pub(crate) rss: u64,
    pub(crate) rss_anon: u64,
    pub(crate) gc: Vec<GcSample>,
    /// The gc_log source's reading: the sum over processes of each one's heap after its last
    /// major collection; None in a tick without a major collection.
    pub(crate) heap_after_gc: Option<u64>,
    pub(crate) processes: u32,
}

/// What a heap needs to know of one tick.
pub(crate) struct Step<'a> {
    pub(crate) t0: f64,
    pub(crate) t1: f64,
    /// Requests this heap served this tick.
    pub(crate) requests: f64,
    /// Its live bytes at fraction f of the tick (baseline plus its share of the retained).
    pub(crate) live: &'a dyn Fn(f64) -> f64,
    /// Cumulative completed requests (all processes) at fraction f of the tick.
    pub(crate) completed: &'a dyn Fn(f64) -> u64,
}

impl Step<'_> {
    pub(crate) fn dt(&self) -> f64 {
        self.t1 - self.t0
    }

    pub(crate) fn at(&self, f: f64) -> f64 {
        self.t0 + f * self.dt()
    }

    pub(crate) fn rate(&self) -> f64 {
        self.requests / self.dt()
    }
}

#[derive(Debug, Clone)]
enum Heaps {
    V8(Vec<V8>),
    Jvm(Jvm),
    Go(Go),
    Malloc(Malloc),
}

/// A runtime's memory model with its drawn parameters and state.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    heaps: Heaps,
    /// A fresh copy, for a restart.
    fresh: Heaps,
    pub(crate) runtime: Runtime,
    /// Anonymous memory outside every heap (a cluster's primary, the interpreter).
    other_anon: f64,
    /// File-backed resident memory (code, mapped libraries): rss - rss_anon.
    file: f64,
    /// Page noise of RSS, bytes (sd).
    page_sd: f64,
    /// True when the design has idle time after warm-up (V8 returns capacity then).
    idle_after_warmup: bool,
    /// Seconds without a major collection after which leakhound forces one (Node processes
    /// or a JVM; `gc_log.force_gc`), and per heap when its last major one was and what it
    /// left.
    force_every: Option<f64>,
    last_major_s: Vec<f64>,
    last_heap: Vec<Option<f64>>,
    /// Per heap: its forced collections came with their Buffers, so only those now count (as
    /// the gc_log source reads a Node preload's lines).
    buffered: Vec<bool>,
    /// Share of the retained bytes a V8 program holds in Buffers, outside the heap.
    off_heap: f64,
}

impl Model {
    /// `force_every`: the run's `force_gc` in seconds, None for off. `side` draws what was
    /// added to the model later (Buffers), so the rest of each series stays as it was.
    pub(crate) fn draw(
        rng: &mut SmallRng,
        side: &mut SmallRng,
        runtime: Runtime,
        design: &Design,
        force_every: Option<f64>,
    ) -> Model {
        // Requests per second while busy, about: what the heaps are sized for.
        let nominal = design.expected_requests() / design.total_s().max(1.0);
        let off_heap = if side.random_bool(OFF_HEAP_SERIES) {
            side.random_range(0.3..1.0)
        } else {
            0.0
        };
        let (mut heaps, other_anon, file) = match runtime {
            Runtime::Node => (
                Heaps::V8(vec![V8::draw(rng, nominal, 1.0, off_heap)]),
                0.0,
                log_uniform(rng, 30.0 * MIB, 45.0 * MIB),
            ),
            Runtime::NodeCluster => (
                Heaps::V8(
                    (0..3)
                        .map(|_| V8::draw(rng, nominal / 3.0, 0.6, off_heap))
                        .collect(),
                ),
                log_uniform(rng, 25.0 * MIB, 40.0 * MIB),
                4.0 * log_uniform(rng, 30.0 * MIB, 45.0 * MIB),
            ),
            Runtime::Jvm => (
                Heaps::Jvm(Jvm::draw(rng, nominal)),
                0.0,
                log_uniform(rng, 15.0 * MIB, 30.0 * MIB),
            ),
            Runtime::Go => (
                Heaps::Go(Go::draw(rng, nominal)),
                0.0,
                log_uniform(rng, 3.0 * MIB, 10.0 * MIB),
            ),
            Runtime::Python => (
                Heaps::Malloc(Malloc::draw(rng, true, design)),
                0.0,
                log_uniform(rng, 5.0 * MIB, 15.0 * MIB),
            ),
            Runtime::Native => (
                Heaps::Malloc(Malloc::draw(rng, false, design)),
                0.0,
                log_uniform(rng, 1.0 * MIB, 8.0 * MIB),
            ),
        };
        if let Heaps::V8(v8) = &mut heaps {
            v8.iter_mut().for_each(|h| h.draw_buffers(side));
        }
        let idle_after_warmup = matches!(
            design.family,
            Family::IdleFirst | Family::IdleMiddle | Family::IdleLast | Family::LeakHunt
        );
        Model {
            runtime,
            other_anon,
            file,
            page_sd: PAGE * log_uniform(rng, 1.0, 16.0),
            idle_after_warmup,
            force_every: force_every
                .filter(|_| matches!(runtime, Runtime::Node | Runtime::NodeCluster | Runtime::Jvm)),
            last_major_s: vec![0.0; heaps_len(&heaps)],
            last_heap: vec![None; heaps_len(&heaps)],
            buffered: vec![false; heaps_len(&heaps)],
            off_heap: if matches!(heaps, Heaps::V8(_)) {
                off_heap
            } else {
                0.0
            },
            fresh: heaps.clone(),
            heaps,
        }
    }

    /// The process restarted: every heap back to how it started.
    pub(crate) fn reset(&mut self, _rng: &mut SmallRng) {
        self.heaps = self.fresh.clone();
        self.last_heap.fill(None);
        self.buffered.fill(false);
    }

    /// The share of the retained bytes the judged signal sees: a Node program's Buffers are
    /// outside V8's heap, and only collections leakhound forces say what they hold.
    pub(crate) fn judged_share(&self) -> f64 {
        if self.signal() == Signal::HeapAfterGc && self.force_every.is_none() {
            1.0 - self.off_heap
        } else {
            1.0
        }
    }

    /// One tick: `retained(f)` is the truth's retention at fraction f of it.
    pub(crate) fn step(
        &mut self,
        rng: &mut SmallRng,
        load: &Load,
        retained: &dyn Fn(f64) -> f64,
    ) -> Reading {
        let completed =
            |f: f64| load.total_prev + (f * (load.total - load.total_prev) as f64).round() as u64;
        let requests = (load.total - load.total_prev) as f64;
        let mut gc = Vec::new();
        let mut processes = 1;
        let (every, last) = (self.force_every, &mut self.last_major_s);
        let mut read_major = false;
        let anon = match &mut self.heaps {
            Heaps::V8(heaps) => {
                let share = 1.0 / heaps.len() as f64;
                processes += u32::from(heaps.len() > 1) * heaps.len() as u32;
                let mut sum = self.other_anon;
                for (i, h) in heaps.iter_mut().enumerate() {
                    // Round-robin: each worker serves about its share, give or take a few.
                    let mine = requests * share * (1.0 + 0.02 * normal(rng));
                    let live0 = h.live0;
                    let live = move |f: f64| live0 + share * retained(f);
                    let s = step(load, mine.max(0.0), &live, &completed);
                    let mut own = Vec::new();
                    sum += h.step(rng, &s, &mut own);
                    // The preload forces on its own clock, whatever V8 ran: only its
                    // collections say what Buffers hold.
                    if force_due(every, &mut last[i], load, &[]) {
                        h.force(rng, &s, &mut own);
                    }
                    read_major |= remember(&mut self.last_heap[i], &mut self.buffered[i], &own);
                    gc.extend(own);
                }
                sum
            }
            Heaps::Jvm(h) => {
                let live0 = h.live0;
                let live = move |f: f64| live0 + retained(f);
                let s = step(load, requests, &live, &completed);
                let anon = h.step(rng, &s, &mut gc);
                if force_due(every, &mut last[0], load, &gc) {
                    h.force(rng, &s, &mut gc);
                }
                anon
            }
            Heaps::Go(h) => {
                let live0 = h.live0;
                let live = move |f: f64| live0 + retained(f);
                h.step(rng, &step(load, requests, &live, &completed), &mut gc)
            }
            Heaps::Malloc(h) => {
                let live0 = h.live0;
                let live = move |f: f64| live0 + retained(f);
                h.step(rng, &step(load, requests, &live, &completed))
            }
        };
        if !matches!(self.heaps, Heaps::V8(_)) {
            read_major = remember(&mut self.last_heap[0], &mut self.buffered[0], &gc);
        }
        gc.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        let rss_anon = pages(anon + self.page_sd * normal(rng));
        let heap_after_gc = read_major.then(|| self.last_heap.iter().flatten().sum::<f64>() as u64);
        Reading {
            rss: rss_anon + pages(self.file + PAGE * normal(rng)),
            rss_anon,
            gc,
            heap_after_gc,
            processes,
        }
    }

    /// The judged signal's kind.
    pub(crate) fn signal(&self) -> Signal {
        match (self.runtime.has_gc_log(), self.runtime.collected()) {
            (true, _) => Signal::HeapAfterGc,
            (false, true) => Signal::RssGc,
            (false, false) => Signal::RssNative,
        }
    }

    /// The noise scale of the judged signal, bytes: the largest movement it makes that is not
    /// retention — a sample's scatter or one step of whatever the runtime moves in. For RSS
    /// that includes the page noise; for V8's RSS the early headroom still to come after
    /// warm-up, a compaction's return and, when the design idles after warm-up, the capacity
    /// the memory reducer returns.
    /// `warm_s` is how long the warm-up lasts (moves within it are not judged).
    pub(crate) fn noise(&self, warm_s: f64) -> f64 {
        match (&self.fresh, self.signal()) {
            // A cluster's workers scatter independently: their scatter adds up.
            (Heaps::V8(h), Signal::HeapAfterGc) => h.iter().map(|v| v.heap_noise()).sum(),
            (Heaps::Jvm(h), Signal::HeapAfterGc) => h.heap_noise(),
            (Heaps::Go(h), Signal::HeapAfterGc) => h.heap_noise(),
            // A cluster's heaps move independently: their moves add up.
            (Heaps::V8(h), _) => h
                .iter()
                .map(|v| v.rss_step())
                .fold(self.page_sd, f64::max)
                .max(
                    h.iter()
                        .map(|v| v.rss_moves(warm_s, self.idle_after_warmup))
                        .sum(),
                ),
            (Heaps::Jvm(h), _) => h.rss_noise().max(self.page_sd),
            (Heaps::Go(h), _) => h.rss_noise().max(self.page_sd),
            (Heaps::Malloc(h), _) => h.rss_noise().max(self.page_sd),
        }
    }
}

fn step<'a>(
    load: &Load,
    requests: f64,
    live: &'a dyn Fn(f64) -> f64,
    completed: &'a dyn Fn(f64) -> u64,
) -> Step<'a> {
    Step {
        t0: load.t_prev_s,
        t1: load.t_s,
        requests,
        live,
        completed,
    }
}

/// How many heaps (processes with a collector) a model has.
fn heaps_len(heaps: &Heaps) -> usize {
    match heaps {
        Heaps::V8(h) => h.len(),
        _ => 1,
    }
}

/// Keeps what survived the last major collection among `gc` in `last`; true if there was one.
/// Once a collection came with its Buffers (`buffered`), only such collections count.
fn remember(last: &mut Option<f64>, buffered: &mut bool, gc: &[GcSample]) -> bool {
    *buffered |= gc.iter().any(|g| g.external.is_some());
    let major = gc
        .iter()
        .rev()
        .find(|g| g.major && (!*buffered || g.external.is_some()));
    if let Some(g) = major {
        *last = Some(g.retained() as f64);
    }
    major.is_some()
}

/// True when a forced collection is due at the end of this tick (none for `every` seconds),
/// given the tick's collections; `last` is when the last major one was.
fn force_due(every: Option<f64>, last: &mut f64, load: &Load, gc: &[GcSample]) -> bool {
    if let Some(major) = gc.iter().rev().find(|g| g.major) {
        *last = major.t_s;
    }
    let due = every.is_some_and(|every| load.t_s - *last >= every);
    if due {
        *last = load.t_s;
    }
    due
}

/// Bytes rounded to whole pages, never below one.
pub(crate) fn pages(bytes: f64) -> u64 {
    ((bytes / PAGE).round().max(1.0) * PAGE) as u64
}
