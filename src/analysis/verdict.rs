//! The leak verdict: does the judged memory metric grow with requests completed?
//!
//! First version (to be replaced by the fuller analysis): a least-squares slope of the metric
//! against cumulative requests, on the samples after warm-up (the first phase, or the first 20%
//! of the run when there is one phase), with a 95% confidence interval. The verdict compares the
//! interval with the `leak_per_request` limit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::regression::{ols, SlopeFit};
use crate::scenario::Plan;
use crate::timeline::Timeline;
use crate::units::{format_count, format_size};

/// Fewer samples than this after warm-up cannot support a verdict.
const MIN_SAMPLES: usize = 5;
/// Fewer requests than this after warm-up cannot support a verdict.
const MIN_REQUESTS: u64 = 200;

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

impl From<SlopeFit> for Estimate {
    fn from(f: SlopeFit) -> Self {
        Estimate { estimate: f.slope, low: f.low, high: f.high }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointLeak {
    pub verdict: Verdict,
    pub bytes_per_request: Estimate,
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
    /// bytes_per_request * requests. None when no line was fitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept_bytes: Option<f64>,
    /// The bytes-per-request limit the verdict was judged against.
    pub limit_bytes_per_request: f64,
    pub window: Window,
}

/// Judges whether the plan's metric grows with requests, against `limit` bytes per request.
pub fn judge_leak(plan: &Plan, timeline: &Timeline, limit: f64) -> LeakReport {
    let metric = plan.memory.metric.as_str();
    let warmup_end = warmup_end_s(plan, timeline);
    let (mut t, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    for s in timeline.ticks.iter().filter_map(|t| t.memory.as_ref()) {
        if s.t_s < warmup_end {
            continue;
        }
        if let Some(v) = s.get(metric) {
            t.push(s.t_s);
            x.push(s.requests as f64);
            y.push(v as f64);
        }
    }
    let window = Window {
        from_s: t.first().copied().unwrap_or(0.0),
        to_s: t.last().copied().unwrap_or(0.0),
        samples: x.len(),
        requests: (x.last().copied().unwrap_or(0.0) - x.first().copied().unwrap_or(0.0)) as u64,
    };
    let per_second = ols(&t, &y, 0.95).map(Estimate::from).unwrap_or_default();
    let mut report = LeakReport {
        verdict: Verdict::Inconclusive,
        metric: metric.to_string(),
        bytes_per_request: Estimate::default(),
        bytes_per_second: per_second,
        endpoints: BTreeMap::new(),
        reason: String::new(),
        intercept_bytes: None,
        limit_bytes_per_request: limit,
        window,
    };

    let fit = if report.window.samples < MIN_SAMPLES || report.window.requests < MIN_REQUESTS {
        None
    } else {
        ols(&x, &y, 0.95)
    };
    let Some(fit) = fit else {
        report.reason = format!(
            "cannot tell: only {} samples and {} requests after warm-up; run longer \
             (at least {MIN_REQUESTS} requests and {MIN_SAMPLES} samples after the first phase)",
            report.window.samples, report.window.requests
        );
        return report;
    };

    let est = Estimate::from(fit);
    report.bytes_per_request = est;
    report.intercept_bytes = Some(fit.intercept);
    let interval = format!("95% CI {} to {}", format_size(est.low), format_size(est.high));
    let over = format!("over {} requests after warm-up", format_count(report.window.requests as f64));
    let limit_text = format_size(limit);
    (report.verdict, report.reason) = if est.low > limit {
        (
            Verdict::Leak,
            format!(
                "memory ({metric}) grows {} per request ({interval}) {over}, above the \
                 {limit_text} limit",
                format_size(est.estimate)
            ),
        )
    } else if est.high <= limit {
        (
            Verdict::None,
            format!(
                "no leak: {metric} changes {} per request ({interval}) {over}, within the \
                 {limit_text} limit",
                format_size(est.estimate)
            ),
        )
    } else {
        let more = format_count(report.window.requests as f64 * 3.0);
        (
            Verdict::Inconclusive,
            format!(
                "cannot tell: {metric} changes {} per request but the interval ({interval}) \
                 straddles the {limit_text} limit {over}; run about {more} more requests",
                format_size(est.estimate)
            ),
        )
    };
    if let [only] = timeline.endpoints.as_slice() {
        report.endpoints.insert(
            only.clone(),
            EndpointLeak { verdict: report.verdict, bytes_per_request: est },
        );
    }
    report
}

/// Seconds at which warm-up ends: the end of the first phase when there are several,
/// else 20% into the run.
pub(crate) fn warmup_end_s(plan: &Plan, timeline: &Timeline) -> f64 {
    if plan.load.phases.len() > 1 {
        plan.load.phases[0].duration.as_secs_f64()
    } else {
        let end = timeline.ticks.last().map_or(0.0, |t| t.t_s);
        end * 0.2
    }
}
