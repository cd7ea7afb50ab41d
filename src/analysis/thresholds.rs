//! Thresholds: each limit of the scenario checked against the run's figures.

use serde::{Deserialize, Serialize};

use super::verdict::{warmup_end_s, Findings, LeakReport, Verdict};
use super::{LatencySummary, RequestCounts, DEFAULT_LEAK_LIMIT_BYTES};
use crate::scenario::Plan;
use crate::timeline::Timeline;
use crate::units::{format_duration, format_size};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ThresholdResult {
    pub name: String,
    pub limit: String,
    pub actual: String,
    pub passed: bool,
}

/// Checks every threshold; `leak_per_request` is always checked (default limit when unset).
pub fn evaluate(
    plan: &Plan,
    timeline: &Timeline,
    latency: &LatencySummary,
    requests: &RequestCounts,
    leak: &LeakReport,
    findings: &Findings,
) -> Vec<ThresholdResult> {
    let th = &plan.thresholds;
    let mut out = Vec::new();

    let limit_text = th.leak_per_request.as_ref().map_or_else(
        || format!("{} (default)", format_size(DEFAULT_LEAK_LIMIT_BYTES)),
        |l| l.text.clone(),
    );
    let actual = if leak.verdict == Verdict::Inconclusive && leak.window.samples == 0 {
        "no samples".to_string()
    } else {
        let limit = leak.limit_bytes_per_request;
        // A lower bound above the limit that still passed needs its why next to it.
        let why = match leak.verdict {
            Verdict::Leak | Verdict::None => String::new(),
            _ if leak.bytes_per_request.low <= limit => String::new(),
            v => format!(", {v}"),
        };
        format!(
            "{} (low {}{why})",
            format_size(leak.bytes_per_request.estimate),
            format_size(leak.bytes_per_request.low)
        )
    };
    out.push(ThresholdResult {
        name: "leak_per_request".into(),
        limit: limit_text,
        actual,
        // Fails only when the leak's lower 95% bound is above the limit.
        passed: leak.verdict != Verdict::Leak,
    });

    // Growth with time fails the run too: a hoarding timer is a leak users want flagged. Only
    // judged when the run separated time from traffic (idle phases or varied rates).
    let s = &leak.bytes_per_second;
    let time_failed = findings.separable && s.low > findings.time_limit;
    if findings.separable || leak.verdict == Verdict::TimeGrowth {
        out.push(ThresholdResult {
            name: "time_growth".into(),
            limit: format!("{}/s (default)", format_size(findings.time_limit)),
            actual: format!(
                "{}/s (low {}/s)",
                format_size(s.estimate),
                format_size(s.low)
            ),
            passed: !time_failed && leak.verdict != Verdict::TimeGrowth,
        });
    }

    if let Some(limit) = &th.growth {
        let growth = growth_after_warmup(plan, timeline);
        out.push(ThresholdResult {
            name: "growth".into(),
            limit: limit.text.clone(),
            actual: format_size(growth as f64),
            passed: growth <= limit.value as i64,
        });
    }
    if let Some(limit) = &th.p99 {
        let limit_ms = limit.value.as_secs_f64() * 1000.0;
        out.push(ThresholdResult {
            name: "p99".into(),
            limit: limit.text.clone(),
            actual: format_duration(std::time::Duration::from_secs_f64(latency.p99 / 1000.0)),
            passed: latency.p99 <= limit_ms,
        });
    }
    if let Some(limit) = &th.error_rate {
        let rate = if requests.completed > 0 {
            requests.errors as f64 / requests.completed as f64
        } else {
            0.0
        };
        out.push(ThresholdResult {
            name: "error_rate".into(),
            limit: limit.text.clone(),
            actual: format!("{:.2}%", rate * 100.0),
            passed: rate <= limit.value,
        });
    }
    out
}

/// Growth of the judged metric from the first sample after warm-up to the last sample.
fn growth_after_warmup(plan: &Plan, timeline: &Timeline) -> i64 {
    let metric = plan.memory.metric.as_str();
    let from = warmup_end_s(plan, timeline);
    let samples: Vec<u64> = timeline
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref())
        .filter(|s| s.t_s >= from)
        .filter_map(|s| s.get(metric))
        .collect();
    match (samples.first(), samples.last()) {
        (Some(&a), Some(&b)) => b as i64 - a as i64,
        _ => 0,
    }
}
