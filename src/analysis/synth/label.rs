//! What a series can be expected to say: the verdict its truth calls for over the judged part
//! (after warm-up), and whether that is decidable from the series at all. The rule is one
//! function, [`decidable`], and the model's sensitivity is aligned to it, not the other way:
//!
//! - Every verdict needs at least [`MIN_SAMPLES`] samples of the judged metric after warm-up.
//! - `leak`: the bytes retained over the post-warm-up requests exceed
//!   max(4 × the judged signal's noise scale, a floor: 2 MiB for `heap_after_gc`, 8 MiB for
//!   the RSS of a garbage-collected runtime, 4 MiB for the RSS of a native one), and the slope
//!   is at least twice the `leak_per_request` limit.
//! - `none`: at least 5,000 post-warm-up requests, busy samples spanning at least 10
//!   windows of [`WINDOW`] samples (the minima the verdict reads see through a GC tooth), and
//!   a noise scale below the signal's floor (else the runtime's own moves after warm-up, a
//!   V8 heap's headroom growing or the memory reducer's return, can pass for retention).
//! - `bounded`: the plateau after the fill holds at least a third of the post-warm-up requests
//!   and at least 3,000, and the post-warm-up part of the fill is decidable as a leak would be.
//! - `time_growth`: the growth over the judged seconds (idle and busy) passes the same floor,
//!   and the design separates time from traffic after warm-up (an idle stretch of at least a
//!   tenth of it, or planned rates 1.5× apart).
//!
//! Where the series is not decidable, `inconclusive` is also accepted. A leak below the limit
//! is expected to read `none` (decidable as `none` is, and only when its slope is at most
//! half the limit), and so is a cache that was full before judging started.

use super::design::Design;
use super::runtime::{Model, Signal};
use super::truth::{Since, Truth, TruthKind};
use super::MIB;
use crate::analysis::{Verdict, DEFAULT_LEAK_LIMIT_BYTES};
use crate::scenario::Plan;
use crate::timeline::{Tick, Timeline};

/// Fewer samples of the judged metric than this decide nothing.
pub(crate) const MIN_SAMPLES: usize = 10;
/// Samples in one window: a sample and two neighbours on each side.
pub(crate) const WINDOW: usize = 5;
const NONE_REQUESTS: f64 = 5000.0;
const NONE_WINDOWS: usize = 10;
const PLATEAU_REQUESTS: f64 = 3000.0;
/// How much bigger than the limit a slope must be to be told from it.
const SLOPE_MARGIN: f64 = 2.0;
const NOISE_MARGIN: f64 = 4.0;

/// The figures the rule reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub(crate) noise: f64,
    pub(crate) floor: f64,
    pub(crate) limit: f64,
    /// Requests after warm-up (after a restart's warm-up, if any).
    pub(crate) requests: f64,
    /// Bytes the truth retained over them.
    pub(crate) retained: f64,
    pub(crate) samples: usize,
    pub(crate) busy_samples: usize,
    /// Bounded: judged requests after the fill, and the judged part of the fill.
    pub(crate) plateau_requests: f64,
    pub(crate) fill_requests: f64,
    pub(crate) fill_retained: f64,
    /// The judged part of the design tells time from traffic.
    pub(crate) separable: bool,
}

impl Facts {
    /// Retained bytes that stand out: above the noise and the signal's floor.
    fn material(&self, bytes: f64) -> bool {
        bytes > (NOISE_MARGIN * self.noise).max(self.floor)
    }

    pub(crate) fn slope(&self) -> f64 {
        if self.requests > 0.0 {
            self.retained / self.requests
        } else {
            0.0
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Label {
    /// The verdict the truth calls for over the judged part.
    pub(crate) expected: Verdict,
    pub(crate) decidable: bool,
    pub(crate) facts: Facts,
}

impl Label {
    /// True when `v` is a right answer for this series.
    pub(crate) fn accepts(&self, v: Verdict) -> bool {
        v == self.expected || (!self.decidable && v == Verdict::Inconclusive)
    }
}

/// The decidability rule (see the module doc).
pub(crate) fn decidable(expected: Verdict, f: &Facts) -> bool {
    if f.samples < MIN_SAMPLES {
        return false;
    }
    let steep =
        |bytes: f64, requests: f64| requests > 0.0 && bytes / requests >= SLOPE_MARGIN * f.limit;
    match expected {
        Verdict::Leak => f.material(f.retained) && steep(f.retained, f.requests),
        Verdict::None => {
            f.requests >= NONE_REQUESTS
                && f.busy_samples >= NONE_WINDOWS * WINDOW
                && f.noise < f.floor
                && f.slope() * SLOPE_MARGIN <= f.limit
        }
        Verdict::Bounded => {
            f.plateau_requests * 3.0 >= f.requests
                && f.plateau_requests >= PLATEAU_REQUESTS
                && f.material(f.fill_retained)
                && steep(f.fill_retained, f.fill_requests)
        }
        Verdict::TimeGrowth => f.separable && f.material(f.retained),
        Verdict::Inconclusive => false,
    }
}

/// The floor of retained bytes for a signal (see the module doc).
pub(crate) fn floor(signal: Signal) -> f64 {
    match signal {
        Signal::HeapAfterGc => 2.0 * MIB,
        Signal::RssGc => 8.0 * MIB,
        Signal::RssNative => 4.0 * MIB,
    }
}

/// Labels a generated series; `since` is where its last process started.
pub(crate) fn label(
    truth: &Truth,
    design: &Design,
    plan: &Plan,
    timeline: &Timeline,
    model: &Model,
    restart_s: Option<f64>,
    since: &Since,
) -> Label {
    let warm = design.warmup_s();
    let from = restart_s.map_or(warm, |r| warm.max(r + warm));
    let metric = plan.memory.metric.as_str();
    let judged: Vec<&Tick> = timeline.ticks.iter().filter(|t| t.t_s >= from).collect();
    let busy = |t: &Tick| {
        plan.load
            .phases
            .get(t.phase)
            .is_some_and(|p| !p.is_idle(plan.load.model))
    };
    let has = |t: &&&Tick| t.memory.as_ref().and_then(|m| m.get(metric)).is_some();
    let mut f = Facts {
        noise: model.noise(warm),
        floor: floor(model.signal()),
        limit: plan
            .thresholds
            .leak_per_request
            .as_ref()
            .map_or(DEFAULT_LEAK_LIMIT_BYTES, |l| l.value),
        samples: judged.iter().filter(has).count(),
        busy_samples: judged.iter().filter(has).filter(|t| busy(t)).count(),
        separable: separable(plan, from),
        ..Facts::default()
    };
    let (Some(first), Some(last)) = (judged.first(), judged.last()) else {
        return Label {
            expected: truth.kind().verdict(),
            decidable: false,
            facts: f,
        };
    };
    let kept = |t: &Tick| {
        let eps: Vec<f64> = t
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| e.completed as f64 - since.endpoints.get(i).copied().unwrap_or(0) as f64)
            .collect();
        truth.retained((t.completed - since.total) as f64, &eps, t.t_s - since.t_s)
    };
    f.requests = (last.completed - first.completed) as f64;
    f.retained = kept(last) - kept(first);
    let expected = match truth.kind() {
        TruthKind::Leak if f.slope() < f.limit => Verdict::None,
        TruthKind::Bounded => {
            let full = since.total as f64 + truth.fill_requests().unwrap_or(0.0);
            let (r0, r1) = (first.completed as f64, last.completed as f64);
            f.plateau_requests = (r1 - full.max(r0)).max(0.0);
            f.fill_requests = (full.min(r1) - r0).max(0.0);
            // The fill is all the growth there is: what the judged part retained.
            f.fill_retained = f.retained;
            if full <= r0 {
                Verdict::None
            } else {
                Verdict::Bounded
            }
        }
        k => k.verdict(),
    };
    // The verdict is the truth's; whether the series can show it is up to what the judged
    // signal sees of the retained bytes.
    f.retained *= model.judged_share();
    f.fill_retained *= model.judged_share();
    Label {
        expected,
        decidable: decidable(expected, &f),
        facts: f,
    }
}

/// True when the plan's phases after `from` seconds include an idle stretch of at least a
/// tenth of that time, or rates at least 1.5× apart.
fn separable(plan: &Plan, from: f64) -> bool {
    let mut start = 0.0;
    let (mut idle, mut total) = (0.0, 0.0);
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for p in &plan.load.phases {
        let end = start + p.duration.as_secs_f64();
        let secs = (end - start.max(from)).max(0.0);
        if secs > 0.0 {
            total += secs;
            if p.is_idle(plan.load.model) {
                idle += secs;
            } else {
                for r in std::iter::once(p.rate).chain(p.ramp_to) {
                    lo = lo.min(r);
                    hi = hi.max(r);
                }
            }
        }
        start = end;
    }
    total > 0.0 && (idle >= 0.1 * total || (hi > 0.0 && lo * 1.5 <= hi))
}
