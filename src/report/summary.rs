//! summary.json: the verdict and key figures, the interface CI scripts read.
//!
//! Field names follow the output contract in DESIGN.md; fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::analysis::{
    Analysis, EndpointSummary, LatencySummary, LeakReport, MemorySummary, RequestCounts,
    ThresholdResult,
};
use crate::timeline::Event;

/// How a run ended, before analysis.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunEnd {
    /// Every phase ran.
    Completed,
    /// Stopped by a signal (SIGINT = 2, SIGTERM = 15).
    Interrupted { signal: i32 },
    /// The target would not start, died, or could not be measured.
    TargetFailed { detail: String },
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

/// Outcome and exit code: 0 pass, 1 a threshold failed, 3 target failed, 128+signal interrupted.
pub fn outcome(end: &RunEnd, analysis: &Analysis) -> (Outcome, i32) {
    match end {
        RunEnd::Completed if analysis.failed() => (Outcome::Fail, 1),
        RunEnd::Completed => (Outcome::Pass, 0),
        RunEnd::Interrupted { signal } => (Outcome::Error, 128 + signal),
        RunEnd::TargetFailed { .. } => (Outcome::Error, 3),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub scenario: String,
    pub completed: bool,
    pub outcome: Outcome,
    pub exit_code: i32,
    pub requests: RequestCounts,
    pub latency_ms: LatencySummary,
    pub memory: MemorySummary,
    pub leak: LeakReport,
    pub thresholds: Vec<ThresholdResult>,
    pub events: Vec<Event>,
    // Additions to the contract.
    pub end: RunEnd,
    pub duration_s: f64,
    pub achieved_rate: f64,
    pub endpoints: Vec<EndpointSummary>,
    pub leakhound_version: String,
}

impl Summary {
    pub fn new(
        scenario: &str,
        end: &RunEnd,
        analysis: &Analysis,
        events: &[Event],
        duration_s: f64,
    ) -> Summary {
        let (outcome, exit_code) = outcome(end, analysis);
        Summary {
            scenario: scenario.to_string(),
            completed: *end == RunEnd::Completed,
            outcome,
            exit_code,
            requests: analysis.requests.clone(),
            latency_ms: analysis.latency_ms.clone(),
            memory: analysis.memory.clone(),
            leak: analysis.leak.clone(),
            thresholds: analysis.thresholds.clone(),
            events: events.to_vec(),
            end: end.clone(),
            duration_s,
            achieved_rate: analysis.achieved_rate,
            endpoints: analysis.endpoints.clone(),
            leakhound_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}
