//! The run: starts the target, drives the load phases, samples memory once per tick, and
//! builds the timeline. It never fails on the target's account: a target that will not start,
//! dies, or a Ctrl-C all end the run early with what was measured so far.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use thiserror::Error;
use tokio::signal::unix::{signal, SignalKind};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::load::{self, LoadError, Recorder};
use crate::memory::ProcessTreeSampler;
use crate::progress::Progress;
use crate::report::{Environment, RunEnd, RunRecord, FORMAT_VERSION};
use crate::scenario::Plan;
use crate::target;
use crate::timeline::{Event, MemorySample, PhaseSpan, Tick, Timeline};

/// How long a launched target gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Below this sampling interval pss/pss_anon are read only when the verdict is judged on them.
const PSS_MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Error)]
pub enum RunError {
    #[error("cannot start the load engine: {0}")]
    Load(#[from] LoadError),
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
}

pub struct RunOptions {
    /// The run folder; the target's output goes to `target.log` inside it.
    pub out_dir: PathBuf,
    pub progress: Progress,
}

/// Runs the plan and returns the record of what happened (the caller writes the folder).
pub async fn execute(plan: &Plan, mut opts: RunOptions) -> Result<RunRecord, RunError> {
    let mut sigint = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut timeline = Timeline {
        started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        interval_s: plan.memory.interval.as_secs_f64(),
        endpoints: plan.requests.iter().map(|r| r.name.clone()).collect(),
        phases: planned_spans(plan),
        ticks: Vec::new(),
        events: Vec::new(),
    };
    let record = |timeline, end, pid| RunRecord {
        format: FORMAT_VERSION,
        environment: Environment::detect(pid),
        plan: plan.clone(),
        end,
        timeline,
    };

    opts.progress.message("starting the target");
    let log = opts.out_dir.join("target.log");
    let started = tokio::select! {
        r = target::start(&plan.target, Some(&log)) => r,
        _ = sigint.recv() => return Ok(record(timeline, RunEnd::Interrupted { signal: 2 }, None)),
        _ = sigterm.recv() => return Ok(record(timeline, RunEnd::Interrupted { signal: 15 }, None)),
    };
    let mut target = match started {
        Ok(t) => t,
        Err(e) => {
            let detail = e.to_string();
            timeline
                .events
                .push(event(0.0, 0, "target_failed", &detail));
            return Ok(record(timeline, RunEnd::TargetFailed { detail }, None));
        }
    };
    let pid = target.pid();
    let sampler = match open_sampler(plan, pid) {
        Ok(s) => s,
        Err(detail) => {
            timeline
                .events
                .push(event(0.0, 0, "memory_unreadable", &detail));
            target.stop(STOP_GRACE).await;
            return Ok(record(timeline, RunEnd::TargetFailed { detail }, pid));
        }
    };

    let cancel = CancellationToken::new();
    let t0 = Instant::now();
    let spans = timeline.phases.clone();
    let mut sampler = TickSampler {
        sampler,
        t0,
        spans,
        last_error: None,
    };
    // Tick 0: the baseline, before any request.
    let baseline = sampler.tick(plan, None, &mut timeline.events).await;
    timeline.ticks.push(baseline);

    let mut engine = load::start(plan, t0, cancel.clone())?;
    let recorder = engine.recorder.clone();
    let mut ticker = tokio::time::interval_at(t0 + plan.memory.interval, plan.memory.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);

    let end = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let tick = sampler.tick(plan, Some(&recorder), &mut timeline.events).await;
                opts.progress.tick(plan, &tick, timeline.ticks.last());
                timeline.ticks.push(tick);
            }
            _ = &mut engine.join => break RunEnd::Completed,
            exit = target.exited() => {
                let t = t0.elapsed().as_secs_f64();
                let detail = format!("the target {}", exit.detail);
                timeline.events.push(event(t, recorder.completed(), "target_exited", &detail));
                break RunEnd::TargetFailed { detail };
            }
            _ = sigint.recv() => break interrupted(2, t0, &recorder, &mut timeline),
            _ = sigterm.recv() => break interrupted(15, t0, &recorder, &mut timeline),
        }
    };
    cancel.cancel();
    if end == RunEnd::Completed {
        // Let the last requests finish (each is bounded by the request timeout) so the final
        // tick counts them, but never wait past the timeout.
        opts.progress.message("waiting for requests in flight");
        recorder.drain(plan.load.timeout).await;
    }
    let last = sampler
        .tick(plan, Some(&recorder), &mut timeline.events)
        .await;
    timeline.ticks.push(last);
    opts.progress.finish();
    if let Some(exit) = target.stop(STOP_GRACE).await {
        if end == RunEnd::Completed && exit.signal.is_none() && exit.code != Some(0) {
            let t = t0.elapsed().as_secs_f64();
            timeline.events.push(event(
                t,
                recorder.completed(),
                "target_stopped",
                &exit.detail,
            ));
        }
    }
    Ok(record(timeline, end, pid))
}

fn interrupted(signal: i32, t0: Instant, recorder: &Recorder, timeline: &mut Timeline) -> RunEnd {
    let name = if signal == 2 { "SIGINT" } else { "SIGTERM" };
    let t = t0.elapsed().as_secs_f64();
    let detail = format!("{name} received; load stopped");
    timeline
        .events
        .push(event(t, recorder.completed(), "interrupted", &detail));
    RunEnd::Interrupted { signal }
}

fn event(t_s: f64, requests: u64, kind: &str, detail: &str) -> Event {
    Event {
        t_s,
        kind: kind.to_string(),
        detail: detail.to_string(),
        requests,
    }
}

/// The phases as planned: each starts where the previous ended (the load engine keeps to it).
fn planned_spans(plan: &Plan) -> Vec<PhaseSpan> {
    let mut start = 0.0;
    plan.load
        .phases
        .iter()
        .map(|p| {
            let end = start + p.duration.as_secs_f64();
            let span = PhaseSpan {
                name: p.name.clone(),
                start_s: start,
                end_s: end,
                rate: p.rate,
                ramp_to: p.ramp_to,
                concurrency: (p.concurrency > 0).then_some(p.concurrency),
            };
            start = end;
            span
        })
        .collect()
}

/// The phase running at `t_s` seconds (the last one after the end).
fn phase_at(spans: &[PhaseSpan], t_s: f64) -> usize {
    spans
        .iter()
        .position(|p| t_s < p.end_s)
        .unwrap_or(spans.len().saturating_sub(1))
}

fn open_sampler(plan: &Plan, pid: Option<u32>) -> Result<Option<ProcessTreeSampler>, String> {
    if !plan.memory.sources.iter().any(|s| s == "process") {
        return Ok(None);
    }
    let Some(pid) = pid else { return Ok(None) };
    let mut sampler = ProcessTreeSampler::new(pid).map_err(|e| e.to_string())?;
    // smaps_rollup (pss) costs the kernel ~1 ms per process: read it when judged on, or when
    // the interval is long enough that it stays well under 1% of a core.
    let judged = plan.memory.metric.starts_with("pss");
    sampler.set_pss(judged || plan.memory.interval >= PSS_MIN_INTERVAL);
    Ok(Some(sampler))
}

/// Takes ticks: the load's interval figures plus a memory sample stamped with the requests
/// completed at the instant it was read. /proc is read on the blocking pool so the load's
/// tasks never wait for it.
struct TickSampler {
    sampler: Option<ProcessTreeSampler>,
    t0: Instant,
    spans: Vec<PhaseSpan>,
    /// The last sampling error, so a failure repeated every tick is one event, not thousands.
    last_error: Option<String>,
}

impl TickSampler {
    async fn tick(
        &mut self,
        plan: &Plan,
        recorder: Option<&Arc<Recorder>>,
        events: &mut Vec<Event>,
    ) -> Tick {
        let mut tick = Tick::default();
        if let Some(r) = recorder {
            let s = r.snapshot();
            tick.sent = s.sent;
            tick.completed = s.completed;
            tick.errors = s.errors;
            tick.timeouts = s.timeouts;
            tick.overflow = s.overflow;
            tick.missed = s.missed;
            tick.in_flight = s.in_flight;
            tick.endpoints = s.endpoints;
        } else {
            tick.endpoints = vec![Default::default(); plan.requests.len()];
        }
        tick.t_s = self.t0.elapsed().as_secs_f64();
        let mid = (tick.t_s - plan.memory.interval.as_secs_f64() / 2.0).max(0.0);
        tick.phase = phase_at(&self.spans, mid);

        let Some(mut sampler) = self.sampler.take() else {
            return tick;
        };
        let (t0, rec) = (self.t0, recorder.cloned());
        let job = tokio::task::spawn_blocking(move || {
            // The stamp is read right before /proc, so memory and requests describe one instant.
            let requests = rec.as_ref().map_or(0, |r| r.completed());
            let t_s = t0.elapsed().as_secs_f64();
            let result = sampler.sample().map(|s| (t_s, requests, s));
            (sampler, result)
        });
        match job.await {
            Ok((sampler, Ok((t_s, requests, s)))) => {
                self.sampler = Some(sampler);
                self.last_error = None;
                let readings = BTreeMap::from([("process".to_string(), s.metrics)]);
                let processes = Some(s.processes);
                tick.memory = Some(MemorySample {
                    t_s,
                    requests,
                    readings,
                    processes,
                });
            }
            Ok((sampler, Err(e))) => {
                self.sampler = Some(sampler);
                self.note_error(&tick, e.to_string(), events);
            }
            // The sampler panicked: stop sampling rather than crash the run.
            Err(e) => self.note_error(&tick, format!("memory sampler stopped: {e}"), events),
        }
        tick
    }

    fn note_error(&mut self, tick: &Tick, detail: String, events: &mut Vec<Event>) {
        if self.last_error.as_deref() != Some(detail.as_str()) {
            events.push(event(tick.t_s, tick.completed, "sample_failed", &detail));
            self.last_error = Some(detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, start_s: f64, end_s: f64) -> PhaseSpan {
        PhaseSpan {
            name: name.into(),
            start_s,
            end_s,
            rate: 1.0,
            ramp_to: None,
            concurrency: None,
        }
    }

    #[test]
    fn phase_at_maps_times_to_phases() {
        let spans = [span("a", 0.0, 5.0), span("b", 5.0, 10.0)];
        assert_eq!(phase_at(&spans, 0.0), 0);
        assert_eq!(phase_at(&spans, 4.9), 0);
        assert_eq!(phase_at(&spans, 5.0), 1);
        assert_eq!(phase_at(&spans, 99.0), 1);
        assert_eq!(phase_at(&[], 1.0), 0);
    }
}
