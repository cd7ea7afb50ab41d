//! Synthetic runs: a deterministic run record of any length, for the render benchmark
//! (examples/render_bench.rs) and report tests, without putting load on anything.
//!
//! Memory grows `leak_bytes_per_request` per completed request plus bounded noise; latency is
//! recorded per tick and endpoint like the load engine does, so the plots see real shapes.

use std::collections::BTreeMap;
use std::path::Path;

use super::super::record::{Environment, RunRecord, FORMAT_VERSION};
use super::super::summary::RunEnd;
use crate::scenario::{self, Overrides, ScenarioError};
use crate::timeline::{
    EndpointTick, Event, LatencyHist, MemorySample, PhaseSpan, SparseHist, Tick, Timeline,
};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub name: String,
    /// Ticks (one per second).
    pub ticks: usize,
    pub endpoints: usize,
    /// Requests per second in the busy phases.
    pub rate: f64,
    pub leak_bytes_per_request: f64,
    /// Add a `target_restarted` event half way through.
    pub event: bool,
    /// Latencies recorded per endpoint and tick (more is slower to generate, not to render).
    pub latencies_per_tick: usize,
}

impl Default for Synthetic {
    fn default() -> Self {
        Synthetic {
            name: "synthetic".into(),
            ticks: 120,
            endpoints: 2,
            rate: 400.0,
            leak_bytes_per_request: 512.0,
            event: false,
            latencies_per_tick: 40,
        }
    }
}

/// A small deterministic generator (xorshift), so runs are reproducible without a seed API.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Synthetic {
    /// The scenario text: warm-up 10%, soak 80%, idle rest 10%.
    fn yaml(&self) -> String {
        let secs = |f: f64| ((self.ticks as f64 * f).round() as u64).max(1);
        let requests: String = (0..self.endpoints)
            .map(|i| format!("  - {{name: endpoint-{i}, path: /e{i}}}\n"))
            .collect();
        format!(
            "name: {}\ntarget: {{base_url: http://127.0.0.1:3000, pid: 1}}\nmemory: {{interval: 1s, metric: rss_anon}}\n\
             load:\n  model: open\n  phases:\n    - {{name: warmup, duration: {}s, rate: {}}}\n    \
             - {{name: soak, duration: {}s, rate: {}}}\n    - {{name: rest, duration: {}s, rate: 0}}\n\
             requests:\n{requests}thresholds: {{leak_per_request: 128B, p99: 250ms, error_rate: 1%}}\n",
            self.name,
            secs(0.1),
            self.rate / 2.0,
            secs(0.8),
            self.rate,
            secs(0.1),
        )
    }

    /// Builds the run record.
    pub fn record(&self) -> Result<RunRecord, ScenarioError> {
        let plan = scenario::parse(
            &self.yaml(),
            "synthetic",
            Path::new("."),
            &Overrides::default(),
        )?;
        let mut phases = Vec::new();
        let mut start = 0.0;
        for p in &plan.load.phases {
            let end = start + p.duration.as_secs_f64();
            phases.push(PhaseSpan {
                name: p.name.clone(),
                start_s: start,
                end_s: end,
                rate: p.rate,
                ramp_to: None,
                concurrency: None,
            });
            start = end;
        }
        let n_ep = self.endpoints.max(1);
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        // One histogram reused per tick: a fresh one costs ~184 KiB of zeroing.
        let mut hist = LatencyHist::new();
        let mut per_ep = vec![EndpointTick::default(); n_ep];
        let (mut completed, mut errors) = (0u64, 0u64);
        let mut ticks = Vec::with_capacity(self.ticks);
        for i in 0..self.ticks {
            let t = (i + 1) as f64;
            let phase = phases
                .iter()
                .position(|p| t <= p.end_s + 1e-9)
                .unwrap_or(phases.len().saturating_sub(1));
            let rate = phases.get(phase).map_or(0.0, |p| p.rate);
            let n = rate.round() as u64;
            completed += n;
            let errs = u64::from(rate > 0.0 && noise.next() < 0.05);
            errors += errs;
            for (k, e) in per_ep.iter_mut().enumerate() {
                let share = n / n_ep as u64 + u64::from((k as u64) < n % n_ep as u64);
                e.completed += share;
                e.errors += if k == 0 { errs } else { 0 };
                hist.0.reset();
                if share > 0 {
                    for _ in 0..self.latencies_per_tick {
                        let base = 800.0 + 200.0 * k as f64;
                        let tail = if noise.next() < 0.02 { 20_000.0 } else { 0.0 };
                        hist.record_us((base * (1.0 + noise.next()) + tail) as u64);
                    }
                }
                e.latency = SparseHist::from_hist(&hist);
            }
            let anon = 40.0 * 1024.0 * 1024.0
                + self.leak_bytes_per_request * completed as f64
                + 64.0 * 1024.0 * noise.next();
            let file = 12.0 * 1024.0 * 1024.0;
            let mut metrics = BTreeMap::new();
            metrics.insert("rss".to_string(), (anon + file) as u64);
            metrics.insert("rss_anon".to_string(), anon as u64);
            metrics.insert("rss_file".to_string(), file as u64);
            metrics.insert("swap".to_string(), 0);
            let mut readings = BTreeMap::new();
            readings.insert("process".to_string(), metrics);
            ticks.push(Tick {
                t_s: t,
                phase,
                sent: completed,
                completed,
                errors,
                endpoints: per_ep.clone(),
                memory: Some(MemorySample {
                    t_s: t,
                    requests: completed,
                    readings,
                    processes: Some(1),
                }),
                ..Tick::default()
            });
        }
        let mut events = Vec::new();
        if self.event && !ticks.is_empty() {
            let mid = &ticks[ticks.len() / 2];
            events.push(Event {
                t_s: mid.t_s,
                kind: "target_restarted".into(),
                detail: "synthetic".into(),
                requests: mid.completed,
            });
        }
        let timeline = Timeline {
            started_at: "2026-01-01T00:00:00Z".into(),
            interval_s: 1.0,
            endpoints: plan.requests.iter().map(|r| r.name.clone()).collect(),
            phases,
            ticks,
            events,
        };
        let environment = Environment {
            leakhound_version: env!("CARGO_PKG_VERSION").into(),
            command_line: vec![
                "leakhound".into(),
                "run".into(),
                format!("{}.yaml", self.name),
            ],
            ..Environment::default()
        };
        Ok(RunRecord {
            format: FORMAT_VERSION,
            environment,
            plan,
            end: RunEnd::Completed,
            timeline,
            heap_growth: None,
        })
    }
}
