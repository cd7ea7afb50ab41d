//! The load generator's own health: how much CPU and memory leakhound used, and whether it
//! kept up with the plan. A run whose generator was saturated measured leakhound as much as the
//! target: its latency and achieved rate are not the target's, so the verdict says so.

use serde::{Deserialize, Serialize};

use crate::scenario::{Model, Plan};
use crate::timeline::Timeline;

/// Mean CPU above this share of the machine's cores means the generator was the bottleneck.
const CPU_SATURATED: f64 = 0.9;
/// An open-model run that achieved less than this share of its planned rate fell behind.
const RATE_SHORTFALL: f64 = 0.9;
/// More skipped arrivals than this share of those sent is a generator that fell behind.
const MISSED_SHARE: f64 = 0.01;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct GeneratorUse {
    /// CPU seconds leakhound used during the run (None when not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    /// Mean CPU over the busy phases, percent of one core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<f64>,
    /// CPU microseconds per completed request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_us_per_request: Option<f64>,
    /// leakhound's own resident memory at the first and last tick and at its peak, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_start_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_end_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_peak_bytes: Option<u64>,
    /// Open model: the rate the busy phases planned, requests per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_rate: Option<f64>,
    /// Why the generator counts as saturated; None when it kept up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturated: Option<String>,
}

/// Assesses the generator from the timeline's own samples and the plan. `cpus` is the number
/// of cores leakhound could use; `achieved` the achieved rate over busy time.
pub fn assess(plan: &Plan, timeline: &Timeline, achieved: f64, cpus: usize) -> GeneratorUse {
    let busy = |phase: usize| {
        plan.load
            .phases
            .get(phase)
            .is_some_and(|p| !p.is_idle(plan.load.model))
    };
    let mut out = GeneratorUse::default();
    let samples: Vec<_> = timeline
        .ticks
        .iter()
        .filter_map(|t| t.generator.map(|g| (t, g)))
        .collect();
    if let (Some((_, first)), Some((last_tick, last))) = (samples.first(), samples.last()) {
        out.cpu_s = Some(last.cpu_s);
        out.rss_start_bytes = Some(first.rss_bytes);
        out.rss_end_bytes = Some(last.rss_bytes);
        out.rss_peak_bytes = samples.iter().map(|(_, g)| g.rss_bytes).max();
        if last_tick.completed > 0 {
            out.cpu_us_per_request = Some(last.cpu_s * 1e6 / last_tick.completed as f64);
        }
        // CPU over busy intervals only: idle phases would dilute a saturated busy one.
        let (mut cpu, mut secs) = (0.0, 0.0);
        for w in samples.windows(2) {
            let ((_, a), (tb, b)) = (w[0], w[1]);
            if busy(tb.phase) {
                cpu += (b.cpu_s - a.cpu_s).max(0.0);
                secs += (tb.t_s - w[0].0.t_s).max(0.0);
            }
        }
        if secs > 0.0 {
            out.cpu_percent = Some(100.0 * cpu / secs);
        }
    }

    let mut why = Vec::new();
    if let Some(pct) = out.cpu_percent {
        if pct >= CPU_SATURATED * 100.0 * cpus.max(1) as f64 {
            why.push(format!(
                "leakhound itself used {pct:.0}% CPU ({cpus} cores available)"
            ));
        }
    }
    if plan.load.model == Model::Open {
        let (mut want, mut secs) = (0.0, 0.0);
        for p in plan.load.phases.iter().filter(|p| !p.is_idle(Model::Open)) {
            want += p.expected_requests();
            secs += p.duration.as_secs_f64();
        }
        if secs > 0.0 {
            let planned = want / secs;
            out.planned_rate = Some(planned);
            if achieved > 0.0 && achieved < RATE_SHORTFALL * planned {
                why.push(format!(
                    "it achieved {achieved:.0}/s of the planned {planned:.0}/s"
                ));
            }
        }
        if let Some(t) = timeline.last() {
            if t.missed as f64 > MISSED_SHARE * t.sent.max(1) as f64 {
                why.push(format!(
                    "it skipped {} arrivals because it fell behind its schedule",
                    t.missed
                ));
            }
        }
    }
    if !why.is_empty() {
        out.saturated = Some(format!(
            "the load generator was saturated: {}; latency and rate describe this machine as \
             much as the target (give leakhound more CPU, lower the rate, or run the target \
             elsewhere)",
            why.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{self, Overrides};
    use crate::timeline::{GeneratorSample, Tick};

    fn plan() -> Plan {
        let yaml = "name: g\ntarget: {base_url: 'http://127.0.0.1:9', pid: 1}\nload:\n  phases:\n    - {name: soak, duration: 10s, rate: 100}\nrequests:\n  - {name: a, path: /}\n";
        scenario::parse(
            yaml,
            "g.yaml",
            std::path::Path::new("."),
            &Overrides::default(),
        )
        .expect("plan")
    }

    fn timeline(cpu_per_s: f64, rate: u64, missed: u64) -> Timeline {
        let mut tl = Timeline::default();
        for i in 0..=10u64 {
            tl.ticks.push(Tick {
                t_s: i as f64,
                completed: rate * i,
                sent: rate * i,
                missed: missed * i / 10,
                generator: Some(GeneratorSample {
                    cpu_s: cpu_per_s * i as f64,
                    rss_bytes: 10 << 20,
                }),
                ..Tick::default()
            });
        }
        tl
    }

    #[test]
    fn a_generator_that_kept_up_is_not_saturated() {
        let g = assess(&plan(), &timeline(0.05, 100, 0), 100.0, 2);
        assert_eq!(g.saturated, None);
        assert!((g.cpu_percent.unwrap() - 5.0).abs() < 1e-9, "{g:?}");
        assert!(
            (g.cpu_us_per_request.unwrap() - 500.0).abs() < 1e-9,
            "{g:?}"
        );
        assert_eq!(g.planned_rate, Some(100.0));
        assert_eq!(g.rss_peak_bytes, Some(10 << 20));
    }

    #[test]
    fn busy_cpu_a_missed_schedule_or_a_low_rate_is_saturation() {
        let cpu = assess(&plan(), &timeline(1.9, 100, 0), 100.0, 2);
        assert!(
            cpu.saturated.as_deref().unwrap().contains("190% CPU"),
            "{cpu:?}"
        );
        let slow = assess(&plan(), &timeline(0.1, 80, 0), 80.0, 2);
        assert!(slow
            .saturated
            .as_deref()
            .unwrap()
            .contains("80/s of the planned 100/s"));
        let missed = assess(&plan(), &timeline(0.1, 100, 50), 100.0, 2);
        assert!(missed
            .saturated
            .as_deref()
            .unwrap()
            .contains("skipped 50 arrivals"));
    }
}
