//! The leak verdict: does the judged memory metric grow with traffic, with time, up to a bound,
//! or not at all — each with a number and a 95% confidence interval.
//!
//! The steps: per-window minima after the planned warm-up ([`super::segment::points`]);
//! segmentation into steady stretches; on the last one (widened as [`super::stretch`] says),
//! the traffic-vs-time model memory = a + b·requests + c·seconds (trusted only when the run
//! varied its rate, see [`VIF_MAX`]); the robust Theil–Sen slope of (time-corrected) memory against requests with
//! Sen's interval and a Mann–Kendall trend test; per-endpoint attribution when the mix varied.
//! The wording of the verdict lives in [`super::reason`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::linfit;
use super::reason;
use super::regression::t_quantile;
use super::robust::{autocorr_inflation, lag1, mann_kendall, median, theil_sen, theil_sen_grouped};
use super::segment::{self, Point};
use super::stretch::{
    extend_consistent, first_level, flat_tail, judged_span, plateau_in, stretch_growth, FlatTail,
    HEAP_STEP,
};
use crate::scenario::Plan;
use crate::timeline::Timeline;

/// Fewer judged points (window minima) than this cannot support a verdict.
pub(crate) const MIN_POINTS: usize = 5;
/// Fewer requests in the judged stretch than this cannot support a verdict.
pub(crate) const MIN_REQUESTS: u64 = 200;
/// Growth with time above this many bytes per second (lower 95% bound) is `time_growth`:
/// 4 KiB/s is ~14 MiB an hour, far above an idle runtime's drift and 25x below the
/// 100 KB/s hoarding timer of the zoo.
pub const DEFAULT_TIME_LIMIT_BYTES_PER_S: f64 = 4096.0;
/// Above this variance inflation factor requests and seconds rose together too closely
/// (correlation > 0.99975) for their effects to be told apart. Both are cumulative, so even a
/// well-varied run (busy, idle and half-rate phases) has a VIF of ~300; a constant-rate run,
/// where only the rate's jitter separates them, has one in the tens of thousands.
pub(crate) const VIF_MAX: f64 = 2000.0;
/// Memory is counted in 4 KiB pages.
pub(super) const PAGE: f64 = 4096.0;
/// Noise below a page is not noise worth modelling.
const NOISE_FLOOR: f64 = PAGE * PAGE;
/// Growth smaller than this is not material: it must be exceeded by the stretch before a plateau
/// to call the run `bounded`, and by the judged stretch itself to call it `leak` or
/// `time_growth`. V8 and malloc grow RSS in steps of 0.25-0.5 MiB, so a step or two in a short
/// run would otherwise read as a slope (seen: a stateless server judged 473 B/request over
/// 1,125 requests).
pub(crate) const MATERIAL_GROWTH: f64 = 1024.0 * 1024.0;
/// Growth with time is judged on the idle stretches too, where no heap step from traffic can
/// happen, so half as much suffices (a 100 KB/s timer passes it in ~5 s).
pub(crate) const MATERIAL_TIME_GROWTH: f64 = MATERIAL_GROWTH / 2.0;

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

impl From<super::regression::SlopeFit> for Estimate {
    fn from(f: super::regression::SlopeFit) -> Self {
        Estimate {
            estimate: f.slope,
            low: f.low,
            high: f.high,
        }
    }
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
    /// The judged stretch: after the warm-up and any step or fill the segmentation found.
    pub window: Window,
}

/// Everything the judgement found, for the reason sentence and the thresholds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// True when requests and time were separated (the rate varied enough).
    pub separable: bool,
    /// Mann–Kendall p-value of the (time-corrected) memory trend in the judged stretch.
    pub trend_p: f64,
    /// Where the planned warm-up ended (s).
    pub warmup_end_s: f64,
    /// Segments found after the warm-up.
    pub segments: usize,
    /// Median level of the judged stretch (bytes).
    pub plateau_bytes: f64,
    /// Growth before the judged stretch (bytes), from the first post-warm-up points.
    pub growth_before: f64,
    /// Requests completed before the judged stretch (after warm-up).
    pub requests_before: f64,
    pub time_limit: f64,
    /// Growth of the judged stretch's minima (bytes); below 1 MiB nothing is called a leak.
    pub judged_growth: f64,
    /// Growth with time the judged stretch shows (bytes): the larger of `judged_growth` and the
    /// time slope's lower bound times the stretch's seconds. RSS follows a steady timer in
    /// page and heap steps, and the floors of a few seconds can fall short of what every
    /// point together shows (seen: a 100 KB/s timer judged over 7.75 s, floors 468 KiB
    /// apart, slope 98-103 KB/s: `inconclusive`).
    pub time_growth: f64,
    /// When the target last restarted (or lost memory to the OOM killer or a cliff), if it did:
    /// judging starts a warm-up's length after it.
    pub reset_at_s: Option<f64>,
    /// The last segment was flat but too short to judge alone, so it was judged with the
    /// faster growth before it: no `leak` can be read from that ([`super::stretch::flat_tail`]).
    pub flat_tail: Option<FlatTail>,
}

/// Judges whether the plan's metric grows with requests, against `limit` bytes per request.
pub fn judge_leak(plan: &Plan, timeline: &Timeline, limit: f64) -> LeakReport {
    judge(plan, timeline, limit).0
}

/// [`judge_leak`] with its findings.
pub fn judge(plan: &Plan, timeline: &Timeline, limit: f64) -> (LeakReport, Findings) {
    let metric = plan.memory.metric.as_str();
    let (warmup_end, reset) = judged_from_s(timeline, warmup_end_s(plan, timeline));
    let samples = timeline
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref())
        .filter(|s| s.t_s >= warmup_end && s.get(metric).is_some())
        .count();
    let pts = segment::points(timeline, metric, warmup_end, segment::window_ticks(samples));
    let mut findings = Findings {
        warmup_end_s: warmup_end,
        time_limit: DEFAULT_TIME_LIMIT_BYTES_PER_S,
        trend_p: 1.0,
        reset_at_s: reset,
        ..Findings::default()
    };
    let mut report = LeakReport {
        verdict: Verdict::Inconclusive,
        metric: metric.to_string(),
        bytes_per_request: Estimate::default(),
        bytes_per_second: Estimate::default(),
        endpoints: BTreeMap::new(),
        reason: String::new(),
        intercept_bytes: None,
        limit_bytes_per_request: limit,
        window: window_of(&pts, samples),
    };
    if pts.len() < MIN_POINTS || report.window.requests < MIN_REQUESTS {
        report.reason = reason::after_reset(
            &findings,
            reason::too_short(&report, MIN_REQUESTS, MIN_POINTS),
        );
        return (report, findings);
    }

    let spans = segment::segments(&pts, NOISE_FLOOR);
    // The per-request slope of a stretch, as the verdict would fit it.
    let per_request = |p: &[Point]| match (p.first(), p.last()) {
        (Some(a), Some(z)) => fit_stretch(p, load_varied(timeline, a.t, z.t)).per_request,
        _ => Estimate::default(),
    };
    let mut last = extend_consistent(&spans, &pts, judged_span(&spans, &pts), limit, per_request);
    // Segments before the judged one (a merged tail counts as one), and a knee they missed.
    findings.segments = 1 + spans.iter().filter(|s| s.end <= last.start).count();
    match plateau_in(&pts, last, limit, per_request) {
        Some(k) => {
            last.start = k;
            findings.segments += 1;
        }
        None => findings.flat_tail = flat_tail(&spans, &pts, last, limit, per_request),
    }
    let judged = &pts[last.start..last.end];
    let (r0, m0) = (pts[0].r, first_level(&pts));
    findings.requests_before = judged[0].r - r0;
    let ms: Vec<f64> = judged.iter().map(|p| p.m).collect();
    findings.plateau_bytes = median(&ms);
    findings.growth_before = findings.plateau_bytes - m0;
    let judged_samples = timeline
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref())
        .filter(|s| s.t_s >= judged[0].t && s.get(metric).is_some())
        .count();
    report.window = window_of(judged, judged_samples);
    if report.window.requests < MIN_REQUESTS {
        report.reason = reason::after_reset(
            &findings,
            reason::too_short(&report, MIN_REQUESTS, MIN_POINTS),
        );
        return (report, findings);
    }

    let designed = load_varied(timeline, judged[0].t, judged[judged.len() - 1].t);
    let fit = fit_stretch(judged, designed);
    findings.separable = fit.separable;
    findings.trend_p = fit.trend_p;
    report.bytes_per_request = fit.per_request;
    report.bytes_per_second = fit.per_second;
    report.intercept_bytes = Some(fit.intercept);
    let endpoints = super::attribute::attribute(
        timeline,
        judged,
        fit.separable && fit.per_second.significant(),
        limit,
    );

    let b = fit.per_request;
    let c = fit.per_second;
    let tlimit = findings.time_limit;
    let trend = fit.trend_p < 0.05;
    let endpoint_leak = endpoints
        .values()
        .any(|e| e.attributed && e.verdict == Verdict::Leak);
    findings.judged_growth = stretch_growth(judged);
    let material = findings.judged_growth >= MATERIAL_GROWTH;
    let seconds = judged[judged.len() - 1].t - judged[0].t;
    findings.time_growth = findings.judged_growth.max(c.low * seconds);
    let material_time = findings.time_growth >= MATERIAL_TIME_GROWTH;
    let settled = findings.flat_tail.is_none();
    report.verdict = if ((b.low > limit && trend) || endpoint_leak) && material && settled {
        Verdict::Leak
    } else if fit.separable && c.low > tlimit && material_time {
        Verdict::TimeGrowth
    } else if (b.high <= limit || growth_rules_out_limit(&findings, &report.window, limit))
        && (!fit.separable || c.high <= tlimit)
    {
        // Without separation only the per-request figure can be judged; the reason says so.
        let earlier = findings.requests_before > 0.0
            && findings.growth_before > MATERIAL_GROWTH
            && findings.growth_before / findings.requests_before > limit;
        if findings.segments > 1 && earlier {
            report.intercept_bytes = Some(findings.plateau_bytes - b.estimate * median_r(judged));
            Verdict::Bounded
        } else {
            Verdict::None
        }
    } else {
        Verdict::Inconclusive
    };
    report.endpoints = endpoints;
    if let [only] = timeline.endpoints.as_slice() {
        let verdict = match report.verdict {
            Verdict::TimeGrowth if b.high <= limit => Verdict::None,
            Verdict::TimeGrowth => Verdict::Inconclusive,
            v => v,
        };
        report.endpoints.insert(
            only.clone(),
            EndpointLeak {
                verdict,
                bytes_per_request: b,
                attributed: true,
            },
        );
    }
    report.reason = reason::after_reset(
        &findings,
        reason::sentence(&report, &findings, &timeline.endpoints),
    );
    // Milli-byte resolution: re-analysing a saved run (whose times went through JSON) must give
    // the same figures, not ones a last bit apart.
    report.bytes_per_request = report.bytes_per_request.rounded();
    report.bytes_per_second = report.bytes_per_second.rounded();
    report.intercept_bytes = report
        .intercept_bytes
        .map(|v| (v * 1000.0).round() / 1000.0);
    for e in report.endpoints.values_mut() {
        e.bytes_per_request = e.bytes_per_request.rounded();
    }
    (report, findings)
}

/// True when the judged stretch grew too little for a leak at `limit`: that many requests would
/// have raised its floor by `limit` × requests, and it rose by less than that minus a heap step
/// (the most one step of noise can hide). A slope fitted to one late step of RSS can straddle
/// the limit (seen: a flat server, a 0.47 MiB step near the end of 4,840 requests, CI 3-353
/// B/request against a 256 B limit) while the growth itself rules such a leak out.
fn growth_rules_out_limit(findings: &Findings, window: &Window, limit: f64) -> bool {
    findings.judged_growth + HEAP_STEP <= limit * window.requests as f64
}

fn median_r(pts: &[Point]) -> f64 {
    median(&pts.iter().map(|p| p.r).collect::<Vec<_>>())
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

/// What the judged stretch says about traffic and time.
#[derive(Debug, Clone, Copy)]
pub(super) struct StretchFit {
    pub(super) per_request: Estimate,
    per_second: Estimate,
    intercept: f64,
    separable: bool,
    trend_p: f64,
}

/// The 95% interval of a least-squares coefficient, widened for autocorrelated residuals.
pub(super) fn ols_estimate(coef: f64, se: f64, df: f64, inflation: f64) -> Estimate {
    let half = t_quantile(0.975, df.max(1.0)) * se * inflation.sqrt();
    Estimate {
        estimate: coef,
        low: coef - half,
        high: coef + half,
    }
}

/// Theil–Sen of y on x with Sen's interval widened for the residuals' autocorrelation.
fn robust_slope(x: &[f64], y: &[f64]) -> Option<(Estimate, f64, f64)> {
    let ts = theil_sen(x, y, 0.95, 1.0)?;
    let resid: Vec<f64> = (0..x.len())
        .map(|i| y[i] - ts.intercept - ts.slope * x[i])
        .collect();
    let infl = autocorr_inflation(lag1(&resid));
    let ci = theil_sen(x, y, 0.95, infl).unwrap_or(ts);
    Some((
        Estimate {
            estimate: ts.slope,
            low: ci.low,
            high: ci.high,
        },
        ts.intercept,
        infl,
    ))
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

/// True when the phases planned between `from_s` and `to_s` ran at clearly different load
/// levels (one at least 1.5 times another, or idle next to busy). Only such a design separates
/// traffic from time: a generator that falls behind for a few seconds also varies the rate,
/// but by accident and too little, and a joint fit on that jitter gave a steady 2.3 KiB/request
/// Buffer leak a time slope of 775 KB/s and an interval of -931 B to 2.6 KiB per request.
fn load_varied(timeline: &Timeline, from_s: f64, to_s: f64) -> bool {
    if timeline.phases.is_empty() {
        return true; // no plan recorded: the fit's own VIF decides
    }
    let levels: Vec<f64> = timeline
        .phases
        .iter()
        .filter(|p| p.end_s > from_s && p.start_s < to_s)
        .flat_map(|p| match p.concurrency {
            Some(c) => vec![c as f64],
            None => std::iter::once(p.rate).chain(p.ramp_to).collect(),
        })
        .collect();
    let hi = levels.iter().copied().fold(0.0, f64::max);
    let lo = levels.iter().copied().fold(f64::INFINITY, f64::min);
    hi > 0.0 && lo * 1.5 <= hi
}

pub(super) fn fit_stretch(pts: &[Point], designed: bool) -> StretchFit {
    let r: Vec<f64> = pts.iter().map(|p| p.r).collect();
    let t: Vec<f64> = pts.iter().map(|p| p.t).collect();
    let m: Vec<f64> = pts.iter().map(|p| p.m).collect();
    let n = m.len();
    // Traffic vs time, when the load was designed to vary and the joint model's VIF says the
    // run really told them apart.
    let joint =
        linfit::fit(&[&r, &t], &m).filter(|f| designed && f.vif.iter().all(|&v| v <= VIF_MAX));
    let Some(f) = joint else {
        // One rate: only memory against requests can be judged; per second, the same growth.
        let per_second = robust_slope(&t, &m).map_or(Estimate::default(), |x| x.0);
        let (per_request, intercept, infl) =
            robust_slope(&r, &m).unwrap_or((Estimate::default(), median(&m), 1.0));
        let trend_p = mann_kendall(&m, infl).map_or(1.0, |mk| mk.p);
        return StretchFit {
            per_request,
            per_second,
            intercept,
            separable: false,
            trend_p,
        };
    };
    // Growth with time, robustly, from the idle stretches (requests unchanged): there it is
    // the only thing that can move memory. Without idle stretches, from the joint model.
    let mut groups: Vec<(&[f64], &[f64])> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || r[i] != r[start] {
            if i - start >= 4 {
                groups.push((&t[start..i], &m[start..i]));
            }
            start = i;
        }
    }
    let idle_points: usize = groups.iter().map(|g| g.0.len()).sum();
    let ps = if idle_points >= 8 {
        theil_sen_grouped(&groups, 0.95, 1.0).map(|g| {
            let resid: Vec<f64> = groups
                .iter()
                .flat_map(|(x, y)| {
                    let level = median(
                        &(0..x.len())
                            .map(|i| y[i] - g.slope * x[i])
                            .collect::<Vec<_>>(),
                    );
                    (0..x.len()).map(move |i| y[i] - g.slope * x[i] - level)
                })
                .collect();
            let infl = autocorr_inflation(lag1(&resid));
            let ci = theil_sen_grouped(&groups, 0.95, infl).unwrap_or(g);
            Estimate {
                estimate: g.slope,
                low: ci.low,
                high: ci.high,
            }
        })
    } else {
        None
    };
    // The joint model also measures it (from every point, less robustly): keep the tighter.
    let ols = ols_estimate(f.coef[1], f.se[1], f.df, autocorr_inflation(lag1(&f.resid)));
    let ps = match ps {
        Some(g) if g.high - g.low <= ols.high - ols.low => g,
        _ => ols,
    };
    let c = ps.estimate;
    let t0 = t[0];
    let madj: Vec<f64> = (0..n).map(|i| m[i] - c * (t[i] - t0)).collect();
    let Some((pr, _, infl)) = robust_slope(&r, &madj) else {
        return StretchFit {
            per_request: Estimate::default(),
            per_second: ps,
            intercept: median(&m),
            separable: true,
            trend_p: 1.0,
        };
    };
    let b = pr.estimate;
    // Each interval also carries the other slope's uncertainty, converted through the mean
    // rate (requests per second) of the stretch.
    let rate = linfit::fit(&[&t], &r).map_or(0.0, |g| g.coef[0].max(0.0));
    let half = |e: &Estimate| (e.high - e.low) / 2.0;
    let per_request = widen(pr, if rate > 0.0 { half(&ps) / rate } else { 0.0 });
    let per_second = ps;
    // The line drawn against requests passes through the middle of the raw samples.
    let intercept = median(&(0..n).map(|i| m[i] - b * r[i]).collect::<Vec<_>>());
    let trend_p = mann_kendall(&madj, infl).map_or(1.0, |mk| mk.p);
    StretchFit {
        per_request,
        per_second,
        intercept,
        separable: true,
        trend_p,
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

/// Seconds at which the planned warm-up ends: the end of the first phase when there are
/// several, else 20% into the run. Steps and fills after it are found by segmentation.
pub(crate) fn warmup_end_s(plan: &Plan, timeline: &Timeline) -> f64 {
    if plan.load.phases.len() > 1 {
        plan.load.phases[0].duration.as_secs_f64()
    } else {
        let end = timeline.ticks.last().map_or(0.0, |t| t.t_s);
        end * 0.2
    }
}
