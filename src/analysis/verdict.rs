//! The leak verdict: does the judged memory metric grow with traffic, with time, up to a bound,
//! or not at all — each with a number and a 95% confidence interval.
//!
//! One explicit model, in three steps, on the judged series ([`super::series`]: the heap after
//! each major GC, or the floors of RSS) after the warm-up and after the last restart:
//! 1. growth with time, c, when the load design separates it from growth with requests
//!    ([`super::time`]); memory is corrected for it when it is significantly positive;
//! 2. over the busy points, memory against requests: one slope, or two joined at a knee
//!    ([`super::model`]); the verdict reads the slope of the last stretch, b, as a robust
//!    Theil–Sen slope with Sen's interval widened for autocorrelation;
//! 3. the decision table in [`decide`], where growth must also exceed what the judged metric
//!    moves by without any leak ([`material_growth`]: a runtime's heap steps and warm-up).
//!
//! The wording of the verdict lives in [`super::reason`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{self, Shape};
use super::reason;
use super::robust::{autocorr_inflation, lag1, mann_kendall, median, theil_sen};
use super::series::{self, Point, HEAP_AFTER_GC};
use super::time;
use crate::scenario::Plan;
use crate::timeline::Timeline;

/// Fewer judged busy points than this cannot support a verdict.
pub(crate) const MIN_POINTS: usize = 5;
/// Fewer requests in the judged stretch than this cannot support a verdict.
pub(crate) const MIN_REQUESTS: u64 = 200;
/// The last stretch after a knee holds at least this share of the judged requests: flatness
/// is measured over requests, and a plateau shorter than this is not yet a plateau.
const MIN_TAIL_SHARE: f64 = 1.0 / 3.0;
/// Growth with time above this many bytes per second (lower 95% bound) is `time_growth`:
/// 4 KiB/s is ~14 MiB an hour, far above an idle runtime's drift and 25x below the
/// 100 KB/s hoarding timer of the zoo.
pub const DEFAULT_TIME_LIMIT_BYTES_PER_S: f64 = 4096.0;
const MIB: f64 = 1024.0 * 1024.0;
/// Fewer effective rises than this in RSS-like memory is capacity growing in steps, not yet
/// evidence of a leak ([`steps`]).
const MIN_STEPS: f64 = 6.0;

/// Growth the judged metric shows without any leak, which a verdict must exceed: the heap
/// after a major GC moves by well under 1 MiB once a runtime has warmed up; RSS moves by heap
/// chunks and arenas (0.25-2 MiB each), so 4 MiB; and RSS judged in place of `heap_after_gc`
/// (a garbage-collected runtime that ran too few major collections) also by the heap capacity
/// the runtime grows under load, tens of MiB in its first minute (seen: a Node LRU of 1,000
/// entries, RSS +7 MiB over 4,362 requests of a 20 s run; a stateless Node server +1.6 MiB
/// over its first 1,250), so 16 MiB. A user who names an RSS metric for such a runtime is
/// taken to have made its RSS follow live data (a small young generation, a fixed heap).
pub fn material_growth(metric: &str, gc_runtime: bool) -> f64 {
    if metric == HEAP_AFTER_GC || metric.starts_with("heap") {
        MIB
    } else if gc_runtime {
        16.0 * MIB
    } else {
        4.0 * MIB
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Memory grows with traffic.
    Leak,
    /// Memory grows with time, whatever the traffic.
    TimeGrowth,
    /// Memory grew and then stopped at a level (a cache that filled).
    Bounded,
    /// No growth above the limit.
    None,
    /// The data cannot tell; the reason says what to change.
    Inconclusive,
}

impl std::fmt::Display for Verdict {
    /// The same word as in summary.json.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Leak => "leak",
            Verdict::TimeGrowth => "time_growth",
            Verdict::Bounded => "bounded",
            Verdict::None => "none",
            Verdict::Inconclusive => "inconclusive",
        })
    }
}

/// A figure with its 95% confidence interval.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Estimate {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// Rounded to a thousandth of a byte.
    pub fn rounded(self) -> Estimate {
        let r = |v: f64| (v * 1000.0).round() / 1000.0;
        Estimate {
            estimate: r(self.estimate),
            low: r(self.low),
            high: r(self.high),
        }
    }

    /// True when the interval excludes zero.
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointLeak {
    pub verdict: Verdict,
    /// Bytes retained per request to this endpoint.
    pub bytes_per_request: Estimate,
    /// False when the mix never varied, so this endpoint's share could not be separated from
    /// the others' (the estimate is then 0 and the verdict `inconclusive`).
    #[serde(default = "yes")]
    pub attributed: bool,
}

fn yes() -> bool {
    true
}

/// The part of the analysis judged: which samples, how many requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Window {
    pub from_s: f64,
    pub to_s: f64,
    pub samples: usize,
    pub requests: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeakReport {
    pub verdict: Verdict,
    pub metric: String,
    pub bytes_per_request: Estimate,
    pub bytes_per_second: Estimate,
    pub endpoints: BTreeMap<String, EndpointLeak>,
    pub reason: String,
    /// The fitted line's value at 0 requests (bytes), for drawing it: metric = intercept +
    /// bytes_per_request * requests over the judged window. For `bounded` it is the plateau
    /// level (the slope is ~0). None when no line was fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept_bytes: Option<f64>,
    /// The bytes-per-request limit the verdict was judged against.
    pub limit_bytes_per_request: f64,
    /// The judged stretch: after the warm-up, and after the model's knee when it found one.
    pub window: Window,
}

/// Everything the judgement found, for the reason sentence and the thresholds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// True when requests and time were separated (the design varied the load enough).
    pub separable: bool,
    /// Mann–Kendall p-value of the (time-corrected) memory trend in the judged stretch.
    pub trend_p: f64,
    /// Where judging started (s): the planned warm-up's end, or as long after a restart.
    pub warmup_end_s: f64,
    /// Median level of the judged stretch (bytes).
    pub plateau_bytes: f64,
    /// Growth before the judged stretch (bytes): the first stretch's slope times its requests.
    pub growth_before: f64,
    /// Requests completed before the judged stretch (after warm-up).
    pub requests_before: f64,
    pub time_limit: f64,
    /// Growth of the judged stretch by its slope (bytes): b × its requests.
    pub judged_growth: f64,
    /// Growth with time over the judged stretch (bytes): c × its seconds.
    pub time_growth: f64,
    /// Seconds the judged points span.
    pub seconds: f64,
    /// How much the level of memory rose across the judged stretch, every point in time order
    /// (the lowest of its last few points less the lowest of its first few): what grew by
    /// requests and by time together, whatever a step in between did to the slopes.
    pub rise: f64,
    /// Growth the metric shows without a leak, which a verdict must exceed (bytes).
    pub material: f64,
    /// When the target last restarted (or lost memory to the OOM killer or a cliff), if it did:
    /// judging starts a warm-up's length after it.
    pub reset_at_s: Option<f64>,
    /// The model prefers a knee but too few requests follow it: what grew may have stopped.
    pub flat_tail: Option<FlatTail>,
    /// Why the plan's metric was not the one judged.
    pub fallback: Option<String>,
    /// How many increments carry the judged stretch's growth ([`steps`]); None for a metric
    /// read after garbage collection, whose every sample measures what is retained.
    pub steps: Option<f64>,
}

/// A knee the model prefers, with too few requests after it to judge the slope there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatTail {
    /// Requests after the knee.
    pub requests: f64,
    /// More requests at the same level that would let it be judged alone.
    pub more: f64,
}

/// The slopes the model read.
struct Read {
    shape: Shape,
    /// Index (into the busy points) where the judged stretch starts.
    at: usize,
    /// Per-request slope of the judged stretch, and before it when there is a knee.
    b: Estimate,
    before: Option<Estimate>,
    intercept: f64,
    trend_p: f64,
}

/// Judges whether the plan's metric grows with requests, against `limit` bytes per request.
pub fn judge(plan: &Plan, timeline: &Timeline, limit: f64) -> (LeakReport, Findings) {
    let (from, reset) = judged_from_s(timeline, warmup_end_s(plan, timeline));
    let series = series::select(plan, timeline, from);
    let mut findings = Findings {
        warmup_end_s: from,
        time_limit: DEFAULT_TIME_LIMIT_BYTES_PER_S,
        trend_p: 1.0,
        reset_at_s: reset,
        material: material_growth(&series.metric, series.gc_runtime),
        fallback: series.fallback.clone(),
        ..Findings::default()
    };
    let pts = &series.points;
    let busy: Vec<Point> = pts.iter().filter(|p| p.busy).cloned().collect();
    let mut report = LeakReport {
        verdict: Verdict::Inconclusive,
        metric: series.metric.clone(),
        bytes_per_request: Estimate::default(),
        bytes_per_second: Estimate::default(),
        endpoints: BTreeMap::new(),
        reason: String::new(),
        intercept_bytes: None,
        limit_bytes_per_request: limit,
        window: window_of(&busy, series.samples),
    };
    if busy.len() < MIN_POINTS || report.window.requests < MIN_REQUESTS {
        report.reason = reason::with_context(
            &findings,
            reason::too_short(&report, MIN_REQUESTS, MIN_POINTS),
        );
        return (report, findings);
    }

    let (ts, ys) = time_step(timeline, pts, &busy, limit);
    let c = ts.per_second;
    findings.separable = ts.separable;
    findings.seconds = pts[pts.len() - 1].t - pts[0].t;
    findings.time_growth = c.estimate * findings.seconds;

    // 2. Memory against requests: one slope or two.
    let mut read = read_slopes(&busy, &ys, limit);
    if ts.separable && c.low > 0.0 && ts.rate > 0.0 {
        // Memory was corrected for c: b carries c's uncertainty too.
        read.b = widen(read.b, (c.high - c.low) / 2.0 / ts.rate);
    }
    let last = &busy[read.at..];
    describe_stretch(
        &mut findings,
        &busy,
        pts,
        &read,
        series.metric != HEAP_AFTER_GC,
    );
    report.window = window_of(last, series.samples * last.len() / busy.len());
    findings.judged_growth = read.b.estimate * report.window.requests as f64;
    report.bytes_per_request = read.b;
    report.bytes_per_second = c;
    report.intercept_bytes = Some(read.intercept);
    report.endpoints =
        super::attribute::attribute(timeline, last, ts.separable && c.significant(), limit);

    // 3. The decision table.
    report.verdict = decide(&report, &findings, &read);
    if let [only] = timeline.endpoints.as_slice() {
        report
            .endpoints
            .insert(only.clone(), single_endpoint(&report));
    }
    report.reason = reason::with_context(
        &findings,
        reason::sentence(&report, &findings, &timeline.endpoints),
    );
    round(&mut report);
    (report, findings)
}

/// Step 1: growth with time over every judged point (idle ones are what measure it), with the
/// per-request shape the uncorrected busy points choose; and the busy points' memory, corrected
/// for it when it is significantly positive (memory that shrinks with time is a runtime
/// returning capacity, not a cause to correct).
fn time_step(
    timeline: &Timeline,
    pts: &[Point],
    busy: &[Point],
    limit: f64,
) -> (time::TimeSlope, Vec<f64>) {
    let t0 = pts[0].t;
    let designed = time::load_varied(timeline, t0, pts[pts.len() - 1].t);
    let raw: Vec<f64> = busy.iter().map(|p| p.m).collect();
    let ts = time::slope(pts, designed, knee_at(busy, &raw, limit));
    let c = ts.per_second;
    if !(ts.separable && c.low > 0.0) {
        return (ts, raw);
    }
    let ys = busy.iter().map(|p| p.m - c.estimate * (p.t - t0)).collect();
    (ts, ys)
}

/// What the judged stretch looks like, for the decision table and the reason.
fn describe_stretch(f: &mut Findings, busy: &[Point], pts: &[Point], read: &Read, rss: bool) {
    let last = &busy[read.at..];
    f.requests_before = last[0].r - busy[0].r;
    f.growth_before = read.before.map_or(0.0, |e| e.estimate) * f.requests_before;
    f.plateau_bytes = median(&last.iter().map(|p| p.m).collect::<Vec<_>>());
    f.trend_p = read.trend_p;
    if let Shape::ShortTail { at } = read.shape {
        f.flat_tail = Some(short_tail(busy, at));
    }
    let from_t = last[0].t;
    let levels: Vec<f64> = pts.iter().filter(|p| p.t >= from_t).map(|p| p.m).collect();
    f.rise = rise(&levels);
    if rss {
        f.steps = Some(steps(last));
    }
}

/// The one endpoint's entry: the overall verdict, except that growth with time is no verdict
/// on an endpoint.
fn single_endpoint(report: &LeakReport) -> EndpointLeak {
    let b = report.bytes_per_request;
    let verdict = match report.verdict {
        Verdict::TimeGrowth if b.high <= report.limit_bytes_per_request => Verdict::None,
        Verdict::TimeGrowth => Verdict::Inconclusive,
        v => v,
    };
    EndpointLeak {
        verdict,
        bytes_per_request: b,
        attributed: true,
    }
}

/// The verdict from the slopes read, as README's table of decision rules states it.
fn decide(report: &LeakReport, f: &Findings, read: &Read) -> Verdict {
    let limit = report.limit_bytes_per_request;
    let (b, c) = (report.bytes_per_request, report.bytes_per_second);
    let endpoint_leak = report
        .endpoints
        .values()
        .any(|e| e.attributed && e.verdict == Verdict::Leak);
    let grows = (b.low > limit && read.trend_p < 0.05) || endpoint_leak;
    // RSS rises in steps of heap capacity; a leak raises it again and again.
    let steady = f.steps.is_none_or(|n| n >= MIN_STEPS);
    let material = f.judged_growth >= f.material && steady;
    // A preferred knee that slows, with too few requests after it, may be a fill that stopped.
    let settling = f.flat_tail.is_some();
    // Flat with time when the design measured it so, or when memory did not rise a material
    // amount at all; a design that cannot separate time leaves only the per-request figure.
    // Growth with time needs the rise too: where time and traffic are nearly collinear (a
    // ramp), the fit can trade a negative per-request slope for a time slope that no level
    // shows.
    let still = f.rise < f.material / 2.0;
    let time_ok = !f.separable || time_bounded(c, f) || still;
    // Flat per request by the interval, or because memory rose less than a leak at the limit
    // would have raised it (less one step's worth): one step of RSS mid-run widens the slope's
    // interval but cannot hide what the levels at both ends show.
    let within = b.high <= limit
        || (b.estimate <= limit
            && f.rise + f.material / 2.0 <= limit * report.window.requests as f64);
    let filled = read.before.is_some_and(|e| e.low > limit) && f.growth_before >= f.material;
    if grows && material && !settling {
        Verdict::Leak
    } else if f.separable && c.low > f.time_limit && f.time_growth >= f.material / 2.0 && !still {
        Verdict::TimeGrowth
    } else if within && time_ok && !settling {
        if filled {
            Verdict::Bounded
        } else {
            Verdict::None
        }
    } else {
        Verdict::Inconclusive
    }
}

/// The request count of the knee the busy points prefer, if any (however short its tail).
fn knee_at(busy: &[Point], ys: &[f64], limit: f64) -> Option<f64> {
    match model::choose(busy, ys, requests_needed(busy), limit) {
        Shape::Knee { at } | Shape::ShortTail { at } => Some(busy[at].r),
        Shape::Linear => None,
    }
}

/// The rise of a series' level: the lowest of its last three values less the lowest of its
/// first three.
fn rise(m: &[f64]) -> f64 {
    let level =
        |it: &mut dyn Iterator<Item = &f64>| it.take(3).copied().fold(f64::INFINITY, f64::min);
    if m.is_empty() {
        return 0.0;
    }
    level(&mut m.iter().rev()) - level(&mut m.iter())
}

/// True when growth with time is ruled out: below the limit per second, or too slow to have
/// added a material amount over the judged seconds (a 4 KiB/s bound cannot be reached through
/// MiB of RSS noise in a minute, and need not be: what could have grown is immaterial).
pub(super) fn time_bounded(c: Estimate, f: &Findings) -> bool {
    c.high <= f.time_limit || c.high * f.seconds < f.material / 2.0
}

/// Chooses the model and reads the judged stretch's slope off it.
fn read_slopes(busy: &[Point], ys: &[f64], limit: f64) -> Read {
    let need = requests_needed(busy);
    let mut shape = model::choose(busy, ys, need, limit);
    let slope = |from: usize, to: usize| {
        let x: Vec<f64> = busy[from..to].iter().map(|p| p.r).collect();
        robust_slope(&x, &ys[from..to])
    };
    // A short tail that rises faster than before is no fill that stopped: judge it whole.
    if let Shape::ShortTail { at } = shape {
        let (before, after) = (slope(0, at + 1), slope(at, busy.len()));
        if after.0.estimate >= before.0.estimate {
            shape = Shape::Linear;
        }
    }
    let at = match shape {
        Shape::Knee { at } => at,
        Shape::Linear | Shape::ShortTail { .. } => 0,
    };
    let (b, _, infl) = slope(at, busy.len());
    let before = (at > 0).then(|| slope(0, at + 1).0);
    let trend_p = mann_kendall(&ys[at..], infl).map_or(1.0, |mk| mk.p);
    let intercept = median(
        &busy[at..]
            .iter()
            .map(|p| p.m - b.estimate * p.r)
            .collect::<Vec<_>>(),
    );
    Read {
        shape,
        at,
        b,
        before,
        intercept,
        trend_p,
    }
}

/// The effective number of rises that carry a series' growth: the participation ratio
/// (Σd)² / Σd² of its positive increments d. A steady climb sampled n times gives about n;
/// a heap that grew its capacity in three jumps and sat flat between them gives about 3, however
/// many samples lie between (seen in a short JVM run: RSS +26 MiB over 5,000 requests in four
/// jumps of heap expansion, with no leak).
fn steps(pts: &[Point]) -> f64 {
    let rises: Vec<f64> = pts
        .windows(2)
        .map(|w| w[1].m - w[0].m)
        .filter(|d| *d > 0.0)
        .collect();
    let sum: f64 = rises.iter().sum();
    let sq: f64 = rises.iter().map(|d| d * d).sum();
    if sq > 0.0 {
        sum * sum / sq
    } else {
        0.0
    }
}

/// Requests the last stretch must hold to be judged alone: [`MIN_TAIL_SHARE`] of the judged
/// requests, and never fewer than [`MIN_REQUESTS`].
fn requests_needed(busy: &[Point]) -> f64 {
    let total = busy[busy.len() - 1].r - busy[0].r;
    (total * MIN_TAIL_SHARE).max(MIN_REQUESTS as f64)
}

/// The short tail after the knee at `at`, and how many more requests would let it be judged.
fn short_tail(busy: &[Point], at: usize) -> FlatTail {
    let requests = busy[busy.len() - 1].r - busy[at].r;
    // The tail is judged alone once requests + x >= (total + x) / 3.
    let more = ((requests_needed(busy) - requests) / (1.0 - MIN_TAIL_SHARE))
        .ceil()
        .max(MIN_REQUESTS as f64);
    FlatTail { requests, more }
}

/// Theil–Sen of y on x with Sen's interval widened for the residuals' autocorrelation; the
/// intercept, and the inflation used.
fn robust_slope(x: &[f64], y: &[f64]) -> (Estimate, f64, f64) {
    let Some(ts) = theil_sen(x, y, 0.95, 1.0) else {
        return (Estimate::default(), median(y), 1.0);
    };
    let resid: Vec<f64> = (0..x.len())
        .map(|i| y[i] - ts.intercept - ts.slope * x[i])
        .collect();
    let infl = autocorr_inflation(lag1(&resid));
    let ci = theil_sen(x, y, 0.95, infl).unwrap_or(ts);
    let e = Estimate {
        estimate: ts.slope,
        low: ci.low,
        high: ci.high,
    };
    (e, ts.intercept, infl)
}

/// Widens both sides of `e` by `extra` in quadrature (another estimate's uncertainty).
pub(super) fn widen(e: Estimate, extra: f64) -> Estimate {
    let lo = (e.estimate - e.low).hypot(extra);
    let hi = (e.high - e.estimate).hypot(extra);
    Estimate {
        estimate: e.estimate,
        low: e.estimate - lo,
        high: e.estimate + hi,
    }
}

/// Milli-byte resolution: re-analysing a saved run (whose times went through JSON) must give
/// the same figures, not ones a last bit apart.
fn round(report: &mut LeakReport) {
    report.bytes_per_request = report.bytes_per_request.rounded();
    report.bytes_per_second = report.bytes_per_second.rounded();
    report.intercept_bytes = report
        .intercept_bytes
        .map(|v| (v * 1000.0).round() / 1000.0);
    for e in report.endpoints.values_mut() {
        e.bytes_per_request = e.bytes_per_request.rounded();
    }
}

fn window_of(pts: &[Point], samples: usize) -> Window {
    match (pts.first(), pts.last()) {
        (Some(a), Some(z)) => Window {
            from_s: a.t,
            to_s: z.t,
            samples,
            requests: (z.r - a.r).max(0.0) as u64,
        },
        _ => Window::default(),
    }
}

/// Events after which the target's memory starts again from a fresh process's baseline.
const RESET_EVENTS: [&str; 3] = ["restart", "oom_kill", "memory_cliff"];

/// Where judging starts, and the last reset if any: after the planned warm-up, or, when the
/// target restarted later, as long after the last restart as the warm-up lasted. Memory from
/// before a restart belongs to another process (a fitted line across the drop says nothing),
/// and the new process warms up again.
fn judged_from_s(timeline: &Timeline, warmup_end: f64) -> (f64, Option<f64>) {
    let last = timeline
        .events
        .iter()
        .filter(|e| RESET_EVENTS.contains(&e.kind.as_str()))
        .map(|e| e.t_s)
        .reduce(f64::max);
    match last {
        Some(t) => (warmup_end.max(t + warmup_end), Some(t)),
        None => (warmup_end, None),
    }
}

/// Seconds at which the planned warm-up ends ([`LoadPlan::warmup_s`] of the run's length). A
/// warm-up that lasts longer is the model's knee.
///
/// [`LoadPlan::warmup_s`]: crate::scenario::plan::LoadPlan::warmup_s
pub(crate) fn warmup_end_s(plan: &Plan, timeline: &Timeline) -> f64 {
    let end = timeline.ticks.last().map_or(0.0, |t| t.t_s);
    plan.load.warmup_s(end)
}
