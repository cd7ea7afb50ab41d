//! Analysis: turns a timeline into figures and a verdict.
//!
//! [`analyze`] is the one entry point; reports only read its [`Analysis`]. The leak verdict
//! lives in [`verdict`]: the judged series ([`series`]), growth with time ([`time`]), the
//! per-request model ([`model`]: one slope or two joined at a knee), robust slopes and trend
//! tests ([`robust`]), per-endpoint attribution, and the sentence that explains it ([`reason`]).

mod attribute;
pub mod generator;
pub mod linfit;
mod model;
mod reason;
pub mod robust;
pub mod series;
/// The synthetic evaluation corpus (tests and scripts/synth-eval.sh only).
#[cfg(test)]
pub(crate) mod synth;
pub mod thresholds;
mod time;
pub mod verdict;

use serde::{Deserialize, Serialize};

use crate::scenario::{Model, Plan};
use crate::timeline::{LatencyHist, Timeline};

pub use generator::GeneratorUse;
pub use thresholds::ThresholdResult;
pub use verdict::{Estimate, LeakReport, Verdict, DEFAULT_TIME_LIMIT_BYTES_PER_S};

/// Default `leak_per_request` limit when the scenario sets none: a detected leak still fails.
pub const DEFAULT_LEAK_LIMIT_BYTES: f64 = 128.0;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RequestCounts {
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Open model: arrivals not sent because `max_in_flight` requests were already in flight.
    pub overflow: u64,
    /// Open model: arrivals skipped because the generator fell behind its schedule.
    pub missed: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencySummary {
    pub fn from_hist(h: &LatencyHist) -> LatencySummary {
        let q = |v: f64| h.quantile_ms(v).unwrap_or(0.0);
        LatencySummary {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: h.max_ms().unwrap_or(0.0),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MemorySummary {
    pub metric: String,
    pub start_bytes: u64,
    pub end_bytes: u64,
    pub peak_bytes: u64,
    /// Samples that held the metric.
    pub samples: usize,
}

/// Per-endpoint traffic figures (the leak attribution is in [`LeakReport::endpoints`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EndpointSummary {
    pub name: String,
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub latency_ms: LatencySummary,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Analysis {
    pub requests: RequestCounts,
    pub latency_ms: LatencySummary,
    pub endpoints: Vec<EndpointSummary>,
    pub memory: MemorySummary,
    pub leak: LeakReport,
    pub thresholds: Vec<ThresholdResult>,
    /// Achieved request rate over the non-idle phases, requests per second.
    pub achieved_rate: f64,
    /// leakhound's own CPU and memory, and whether it kept up.
    pub generator: GeneratorUse,
}

impl Analysis {
    /// True when any threshold failed (a leak is a failed threshold).
    pub fn failed(&self) -> bool {
        self.thresholds.iter().any(|t| !t.passed)
    }
}

/// Analyses a (possibly partial) timeline against its plan.
pub fn analyze(plan: &Plan, timeline: &Timeline) -> Analysis {
    let last = timeline.last();
    let requests = last
        .map(|t| RequestCounts {
            sent: t.sent,
            completed: t.completed,
            errors: t.errors,
            timeouts: t.timeouts,
            overflow: t.overflow,
            missed: t.missed,
        })
        .unwrap_or_default();

    let busy = |phase: usize| {
        plan.load
            .phases
            .get(phase)
            .is_some_and(|p| !p.is_idle(plan.load.model))
    };
    let latency_ms = LatencySummary::from_hist(&timeline.merged_latency(|_| true));
    let endpoints = timeline
        .endpoints
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let e = last
                .and_then(|t| t.endpoints.get(i))
                .cloned()
                .unwrap_or_default();
            EndpointSummary {
                name: name.clone(),
                completed: e.completed,
                errors: e.errors,
                timeouts: e.timeouts,
                latency_ms: LatencySummary::from_hist(&timeline.endpoint_latency(i, |_| true)),
            }
        })
        .collect();

    let memory = memory_summary(&plan.memory.metric, timeline);
    let limit = plan
        .thresholds
        .leak_per_request
        .as_ref()
        .map_or(DEFAULT_LEAK_LIMIT_BYTES, |l| l.value);
    let (leak, findings) = verdict::judge(plan, timeline, limit);
    let thresholds = thresholds::evaluate(plan, timeline, &latency_ms, &requests, &leak, &findings);
    let achieved_rate = achieved_rate(plan.load.model, timeline, busy);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let generator = generator::assess(plan, timeline, achieved_rate, cpus);
    let mut leak = leak;
    if let Some(w) = &generator.saturated {
        leak.reason.push_str(&format!("; warning: {w}"));
    }

    Analysis {
        requests,
        latency_ms,
        endpoints,
        memory,
        leak,
        thresholds,
        achieved_rate,
        generator,
    }
}

fn memory_summary(metric: &str, timeline: &Timeline) -> MemorySummary {
    let values: Vec<u64> = timeline
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref()?.get(metric))
        .collect();
    MemorySummary {
        metric: metric.to_string(),
        start_bytes: values.first().copied().unwrap_or(0),
        end_bytes: values.last().copied().unwrap_or(0),
        peak_bytes: values.iter().copied().max().unwrap_or(0),
        samples: values.len(),
    }
}

/// Requests completed per second of busy (non-idle) time.
fn achieved_rate(_model: Model, timeline: &Timeline, busy: impl Fn(usize) -> bool) -> f64 {
    let mut prev_t = 0.0;
    let mut prev_n = 0;
    let (mut secs, mut n) = (0.0, 0u64);
    for t in &timeline.ticks {
        if busy(t.phase) {
            secs += t.t_s - prev_t;
            n += t.completed.saturating_sub(prev_n);
        }
        prev_t = t.t_s;
        prev_n = t.completed;
    }
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests;
