//! summary.json: the verdict and key figures, the interface CI scripts read.
//!
//! Field names follow the output contract in DESIGN.md; fields may be added, never renamed.

use serde::{Deserialize, Serialize};

use crate::analysis::{
    Analysis, EndpointSummary, LatencySummary, LeakReport, MemorySummary, RequestCounts,
    ThresholdResult,
};
use crate::inspect::HeapGrowth;
use crate::timeline::{Event, Timeline};

/// The event kind of a GC forced by the inspector source: one per sample or so, so
/// summary.json counts them ([`ForcedGc`]) instead of listing each (run.json keeps them all).
pub const FORCED_GC: &str = "forced_gc";

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

/// The verdict's reason for a run that ended before it sent a single request: "run at least
/// 200 more requests" would send the user after the wrong problem.
pub fn stopped_before_load(end: &RunEnd, requests: &RequestCounts) -> Option<String> {
    if requests.sent > 0 {
        return None;
    }
    let why = match end {
        RunEnd::Completed => return None,
        RunEnd::Interrupted { signal: 2 } => "it was interrupted (SIGINT)".to_string(),
        RunEnd::Interrupted { signal: 15 } => "it was stopped (SIGTERM)".to_string(),
        RunEnd::Interrupted { signal } => format!("it was stopped by signal {signal}"),
        RunEnd::TargetFailed { detail } => detail.clone(),
    };
    Some(format!(
        "cannot tell: the run stopped before any request was sent, so there is nothing to \
         judge; {why}"
    ))
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
    /// GCs forced by the inspector source, summed up (absent without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_gc: Option<ForcedGc>,
    /// The collections the `gc_log` source read (absent when it read none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<GcSummary>,
    /// What grew between the heap snapshots (absent without the inspector's snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_growth: Option<HeapGrowth>,
    /// leakhound's own CPU and memory, and whether it kept up with the plan.
    #[serde(default)]
    pub generator: crate::analysis::GeneratorUse,
}

/// The forced GCs of a run: how many, and how long they stalled the target.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ForcedGc {
    pub count: u64,
    pub total_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
}

impl ForcedGc {
    /// Sums up the `forced_gc` events (their detail says `... took 12.3 ms`).
    pub fn from_events(events: &[Event]) -> Option<ForcedGc> {
        let mut ms: Vec<f64> = events
            .iter()
            .filter(|e| e.kind == FORCED_GC)
            .map(|e| gc_ms(&e.detail).unwrap_or(0.0))
            .collect();
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        Some(ForcedGc {
            count: ms.len() as u64,
            total_ms: ms.iter().sum(),
            median_ms: ms[ms.len() / 2],
            max_ms: ms[ms.len() - 1],
        })
    }

    /// `412 forced GCs (median 3.1 ms, max 40.2 ms, 1.3 s in all)`.
    pub fn text(&self) -> String {
        format!(
            "{} forced GC{} (median {:.1} ms, max {:.1} ms, {:.2} s in all)",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.median_ms,
            self.max_ms,
            self.total_ms / 1000.0
        )
    }
}

/// The garbage collections the target's runtime reported (`gc_log` source).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GcSummary {
    /// Collections read (for JVM G1 also its Remark and Cleanup pauses).
    pub count: u64,
    /// Of which major: what survives them is what the program holds.
    pub major: u64,
    pub pause_ms: PauseSummary,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PauseSummary {
    pub p99: f64,
    pub max: f64,
}

impl GcSummary {
    /// Sums up `Tick::gc`; None when no collection was read.
    pub fn from_timeline(timeline: &Timeline) -> Option<GcSummary> {
        let all = timeline.ticks.iter().flat_map(|t| &t.gc);
        let mut pauses: Vec<f64> = all.clone().map(|g| g.pause_ms).collect();
        if pauses.is_empty() {
            return None;
        }
        pauses.sort_by(f64::total_cmp);
        // Nearest rank: the smallest pause at least 99% of them do not exceed.
        let rank = ((pauses.len() as f64 * 0.99).ceil() as usize).clamp(1, pauses.len());
        Some(GcSummary {
            count: pauses.len() as u64,
            major: all.filter(|g| g.major).count() as u64,
            pause_ms: PauseSummary {
                p99: pauses[rank - 1],
                max: pauses[pauses.len() - 1],
            },
        })
    }

    /// `412 collections (9 major); pause p99 4.1 ms, max 12.0 ms`.
    pub fn text(&self) -> String {
        format!(
            "{} collection{} ({} major); pause p99 {:.1} ms, max {:.1} ms",
            self.count,
            if self.count == 1 { "" } else { "s" },
            self.major,
            self.pause_ms.p99,
            self.pause_ms.max
        )
    }
}

/// The milliseconds in a forced_gc detail: the number before the last ` ms`.
fn gc_ms(detail: &str) -> Option<f64> {
    let head = &detail[..detail.rfind(" ms")?];
    head.rsplit(' ').next()?.parse().ok()
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
            events: events
                .iter()
                .filter(|e| e.kind != FORCED_GC)
                .cloned()
                .collect(),
            end: end.clone(),
            duration_s,
            achieved_rate: analysis.achieved_rate,
            endpoints: analysis.endpoints.clone(),
            leakhound_version: env!("CARGO_PKG_VERSION").to_string(),
            forced_gc: ForcedGc::from_events(events),
            gc: None,
            heap_growth: None,
            generator: analysis.generator.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, detail: &str) -> Event {
        Event {
            t_s: 1.0,
            kind: kind.into(),
            detail: detail.into(),
            requests: 10,
        }
    }

    #[test]
    fn forced_gcs_are_counted_not_listed() {
        let detail = |ms: f64| format!("full GC forced by the inspector source took {ms:.1} ms");
        let events = vec![
            ev(FORCED_GC, &detail(3.0)),
            ev("restart", "gone"),
            ev(FORCED_GC, &detail(40.5)),
            ev(FORCED_GC, &detail(2.0)),
        ];
        let gc = ForcedGc::from_events(&events).unwrap();
        assert_eq!(gc.count, 3);
        assert!((gc.total_ms - 45.5).abs() < 1e-9);
        assert_eq!((gc.median_ms, gc.max_ms), (3.0, 40.5));
        assert!(
            gc.text().starts_with("3 forced GCs (median 3.0 ms"),
            "{}",
            gc.text()
        );
        assert!(ForcedGc::from_events(&events[1..2]).is_none());
        assert_eq!(gc_ms("no number here"), None);
    }

    #[test]
    fn gc_pauses_are_summed_up_only_when_collections_were_read() {
        use crate::timeline::{GcSample, Tick};
        let gc = |major, pause_ms| GcSample {
            major,
            pause_ms,
            ..GcSample::default()
        };
        let mut tl = Timeline::default();
        tl.ticks.push(Tick::default());
        assert_eq!(GcSummary::from_timeline(&tl), None);
        tl.ticks[0].gc = (1..=199).map(|i| gc(i % 50 == 0, 1.0)).collect();
        tl.ticks.push(Tick {
            gc: vec![gc(true, 80.0)],
            ..Tick::default()
        });
        let s = GcSummary::from_timeline(&tl).unwrap();
        assert_eq!((s.count, s.major), (200, 4));
        // 200 pauses: the 198th smallest is p99; the one long pause is only the max.
        assert_eq!((s.pause_ms.p99, s.pause_ms.max), (1.0, 80.0));
        assert_eq!(
            s.text(),
            "200 collections (4 major); pause p99 1.0 ms, max 80.0 ms"
        );
    }

    #[test]
    fn a_run_that_sent_nothing_says_why_instead_of_asking_for_more_requests() {
        let none = RequestCounts::default();
        let failed = RunEnd::TargetFailed {
            detail: "the target exited with status 1 before its ready check passed".into(),
        };
        let r = stopped_before_load(&failed, &none).unwrap();
        assert!(r.contains("before any request was sent"), "{r}");
        assert!(
            r.ends_with("exited with status 1 before its ready check passed"),
            "{r}"
        );
        let r = stopped_before_load(&RunEnd::Interrupted { signal: 2 }, &none).unwrap();
        assert!(r.ends_with("interrupted (SIGINT)"), "{r}");
        // A run that sent requests, or completed, keeps the verdict's own reason.
        let some = RequestCounts {
            sent: 1,
            ..RequestCounts::default()
        };
        assert_eq!(stopped_before_load(&failed, &some), None);
        assert_eq!(stopped_before_load(&RunEnd::Completed, &none), None);
    }
}
