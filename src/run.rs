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
use crate::memory::heap::{self, Planned, Taken};
use crate::memory::inspector::{self, Endpoint, SharedInspector};
use crate::memory::watch::{cliff, Finding, Watch};
use crate::memory::{self as mem, gc_log, OpenContext, Source, SourceError, SourceReading};
use crate::progress::Progress;
use crate::report::{Environment, RunEnd, RunRecord, FORMAT_VERSION};
use crate::scenario::{Plan, SourcePlan, TargetPlan};
use crate::target;
use crate::timeline::{
    planned_spans, Event, GcSample, GeneratorSample, MemorySample, PhaseSpan, Tick, Timeline,
};
use crate::units::format_size;

/// How long a launched target gets to exit after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// A restart or cliff within this many seconds (or 2.5 sampling intervals, if longer) of the
/// last incident is the same incident.
const INCIDENT_WINDOW_S: f64 = 3.0;
/// Unless the verdict is judged on them, pss/pss_anon are read only as often as keeps
/// smaps_rollup under this share of one core (it cost 29-40 ms per read on a 500 MiB target).
const PSS_CPU_SHARE: f64 = 0.005;

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
        heap_growth: None,
    };

    opts.progress.message("starting the target");
    let log = opts.out_dir.join("target.log");
    // The inspector source opens an inspector in the node target it launches; where it will
    // announce itself is read from the log, past what earlier runs left there.
    let log_from = std::fs::metadata(&log).map_or(0, |m| m.len());
    let (mut target_plan, endpoint) = inspector_target(plan, &log, log_from);
    if let Some(traced) =
        gc_log::launch::prepare(&plan.memory.sources, &target_plan.process, &opts.out_dir)
    {
        target_plan.process = traced.process;
        for w in &traced.warnings {
            timeline.events.push(event(0.0, 0, "gc_log", w));
        }
    }
    let started = tokio::select! {
        r = target::start(&target_plan, Some(&log)) => r,
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
    let launched = target.launched().then(|| (log.clone(), log_from));
    let opened = open_sources(plan, pid, target.root_handle(), endpoint, launched).await;
    let (sources, shared) = match opened {
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
    let spans = timeline.phases.clone();
    let mut sampler = TickSampler {
        sources: Some(sources),
        t0: Instant::now(),
        spans,
        last_error: BTreeMap::new(),
        watch: Watch::default(),
        last_judged: None,
        last_failed: 0,
        last_incident: None,
    };
    // Tick 0: the baseline, before any request.
    let mut baseline = sampler.tick(plan, None, &mut timeline.events).await;
    // The load's clock starts after it: a slow first read (a process tree, smaps) would
    // otherwise start the first phase late, and its overdue arrivals would all go at once
    // (seen at 20k req/s: a burst of ~2,000 connections, p90 100 ms in the first second).
    let t0 = Instant::now();
    sampler.t0 = t0;
    baseline.t_s = 0.0;
    if let Some(m) = baseline.memory.as_mut() {
        m.t_s = 0.0;
    }
    timeline.ticks.push(baseline);

    let mut engine = load::start(plan, t0, cancel.clone())?;
    let recorder = engine.recorder.clone();
    let mut ticker = tokio::time::interval_at(t0 + plan.memory.interval, plan.memory.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Heap snapshots due before the load ends run beside the ticks; the rest after the load.
    let total_s = plan.total_duration().as_secs_f64();
    let mut due: std::collections::VecDeque<Planned> = match &shared {
        Some(_) => heap::schedule(plan).into(),
        None => Default::default(),
    };
    let mut snapshots: Vec<tokio::task::JoinHandle<Taken>> = Vec::new();
    let far = t0 + Duration::from_secs(86_400 * 365);

    let end = loop {
        tokio::select! {
            _ = ticker.tick() => {
                let tick = sampler.tick(plan, Some(&recorder), &mut timeline.events).await;
                opts.progress.tick(plan, &tick, timeline.ticks.last());
                timeline.ticks.push(tick);
            }
            _ = tokio::time::sleep_until(
                    due.front().map_or(far, |p| t0 + Duration::from_secs_f64(p.at_s))
                ), if due.front().is_some_and(|p| p.at_s < total_s - 1e-6) => {
                if let (Some(p), Some(client)) = (due.pop_front(), &shared) {
                    opts.progress.message(&format!("heap snapshot `{}`", p.label));
                    snapshots.push(start_snapshot(client, &opts.out_dir, p.label, t0, &recorder));
                }
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
    // The snapshots still due (the end of the load), while the target still runs; not after
    // a failure or a Ctrl-C.
    if let (RunEnd::Completed, Some(client)) = (&end, &shared) {
        for p in due.drain(..) {
            opts.progress
                .message(&format!("heap snapshot `{}`", p.label));
            snapshots.push(start_snapshot(
                client,
                &opts.out_dir,
                p.label,
                t0,
                &recorder,
            ));
        }
    }
    let mut taken = Vec::new();
    for handle in snapshots {
        // Each is bounded by heap::SNAPSHOT_TIMEOUT; a panicked one is simply missing.
        if let Ok(t) = handle.await {
            let (kind, detail) = t.event();
            timeline
                .events
                .push(event(t.t_s, t.requests, kind, &detail));
            taken.push(t);
        }
    }
    timeline.events.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    opts.progress.finish();
    // The session ends before the target stops, so the target's exit is not an error here.
    drop(sampler);
    drop(shared);
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
    let mut rec = record(timeline, end, pid);
    if let Some(done) = tokio::task::spawn_blocking(move || heap::diff(&taken))
        .await
        .ok()
        .flatten()
    {
        match done {
            Ok(growth) => rec.heap_growth = Some(growth),
            Err(e) => {
                let t = rec.timeline.last().map_or(0.0, |t| t.t_s);
                let detail = format!("the heap snapshots could not be compared: {e}");
                rec.timeline.events.push(event(
                    t,
                    recorder.completed(),
                    "heap_diff_failed",
                    &detail,
                ));
            }
        }
    }
    Ok(rec)
}

/// The target as launched (with an inspector when the inspector source needs one) and where
/// that inspector will be found.
fn inspector_target(
    plan: &Plan,
    log: &std::path::Path,
    from: u64,
) -> (TargetPlan, Option<Endpoint>) {
    let mut target = plan.target.clone();
    let Some(SourcePlan::Inspector { connect, .. }) = plan
        .memory
        .sources
        .iter()
        .find(|s| matches!(s, SourcePlan::Inspector { .. }))
    else {
        return (target, None);
    };
    if let Some(addr) = connect {
        return (target, Some(Endpoint::Given(addr.clone())));
    }
    match inspector::with_inspector(&target.process) {
        Some((process, mode)) => {
            target.process = process;
            let path = log.to_path_buf();
            (target, Some(Endpoint::Log { path, from, mode }))
        }
        // Validation refuses this; opening the source then says why.
        None => (target, None),
    }
}

/// Starts one heap snapshot on the blocking pool; the requests completed are read right
/// before it starts.
fn start_snapshot(
    client: &SharedInspector,
    dir: &std::path::Path,
    label: String,
    t0: Instant,
    recorder: &Arc<Recorder>,
) -> tokio::task::JoinHandle<Taken> {
    let (client, path, rec) = (
        client.clone(),
        heap::snapshot_path(dir, &label),
        recorder.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let requests = rec.completed();
        let t_s = t0.elapsed().as_secs_f64();
        let result = heap::take(&client, &path);
        Taken {
            label,
            t_s,
            requests,
            result,
        }
    })
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

/// The phase running at `t_s` seconds (the last one after the end).
fn phase_at(spans: &[PhaseSpan], t_s: f64) -> usize {
    spans
        .iter()
        .position(|p| t_s < p.end_s)
        .unwrap_or(spans.len().saturating_sub(1))
}

/// Sources and the inspector session they share with the heap snapshots.
type Opened = (Vec<Box<dyn Source>>, Option<SharedInspector>);

/// Opens every memory source of the plan (on the blocking pool: a source may run
/// `docker inspect`, take a first HTTP sample, or connect to an inspector). The error names
/// the source.
async fn open_sources(
    plan: &Plan,
    pid: Option<u32>,
    root: Option<Arc<std::sync::atomic::AtomicU32>>,
    endpoint: Option<Endpoint>,
    log: Option<(PathBuf, u64)>,
) -> Result<Opened, String> {
    // smaps_rollup (pss) makes the kernel walk the page tables: every sample when judged on,
    // otherwise within a CPU budget.
    let judged = plan.memory.metric.starts_with("pss");
    let mut ctx = OpenContext {
        pid,
        interval: plan.memory.interval,
        pss: true,
        pss_budget: (!judged).then_some(PSS_CPU_SHARE),
        inspector: None,
        root,
        log,
    };
    let specs = plan.memory.sources.clone();
    tokio::task::spawn_blocking(move || {
        if let Some(ep) = endpoint {
            let client = inspector::connect(&ep, inspector::call_timeout(ctx.interval))
                .map_err(|e| format!("memory source `inspector`: {e}"))?;
            ctx.inspector = Some(Arc::new(std::sync::Mutex::new(client)));
        }
        let sources = mem::open_all(&specs, &ctx)?;
        Ok((sources, ctx.inspector))
    })
    .await
    .map_err(|e| format!("the memory sources could not be opened: {e}"))?
}

/// One sampling pass: each source's name, result and the collections it read.
type Pass = Vec<(String, Result<SourceReading, SourceError>, Vec<GcSample>)>;

/// Takes ticks: the load's interval figures plus a memory sample stamped with the requests
/// completed at the instant it was read. Sources are read on the blocking pool (files, HTTP)
/// so the load's tasks never wait for them; the process source first, as it is the fastest.
/// Restarts, OOM kills and memory cliffs seen between samples become events; the run goes on.
struct TickSampler {
    /// None while a pass runs (or after a sampler panicked).
    sources: Option<Vec<Box<dyn Source>>>,
    t0: Instant,
    spans: Vec<PhaseSpan>,
    /// The last error of each source, so a failure repeated every tick is one event.
    last_error: BTreeMap<String, String>,
    watch: Watch,
    /// The judged metric at the previous sample, for "memory just before" and cliffs.
    last_judged: Option<u64>,
    /// Errors + timeouts at the previous tick.
    last_failed: u64,
    /// When the last restart / OOM / cliff event was recorded.
    last_incident: Option<f64>,
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
        // leakhound's own CPU and RSS (~20 µs): the report shows the generator stayed flat and
        // the verdict warns when it, not the target, was the bottleneck.
        tick.generator = crate::selfstat::read().ok().map(|s| GeneratorSample {
            cpu_s: s.cpu.as_secs_f64(),
            rss_bytes: s.rss_bytes,
        });

        let Some(mut sources) = self.sources.take() else {
            return tick;
        };
        if sources.is_empty() {
            self.sources = Some(sources);
            return tick;
        }
        let (t0, rec) = (self.t0, recorder.cloned());
        let job = tokio::task::spawn_blocking(move || {
            // The stamp is read right before the first source, so memory and requests describe
            // one instant.
            let requests = rec.as_ref().map_or(0, |r| r.completed());
            let t_s = t0.elapsed().as_secs_f64();
            let pass: Pass = sources
                .iter_mut()
                .map(|s| (s.name().to_string(), s.sample(), s.take_gc()))
                .collect();
            (sources, t_s, requests, pass)
        });
        match job.await {
            Ok((sources, t_s, requests, pass)) => {
                self.sources = Some(sources);
                self.record(plan, &mut tick, t_s, requests, pass, events);
            }
            // A source panicked: stop sampling rather than crash the run.
            Err(e) => self.note_error(
                &tick,
                "memory",
                format!("memory sampler stopped: {e}"),
                events,
            ),
        }
        tick
    }

    /// Puts a pass into the tick and turns what changed since the last one into events.
    fn record(
        &mut self,
        plan: &Plan,
        tick: &mut Tick,
        t_s: f64,
        requests: u64,
        pass: Pass,
        events: &mut Vec<Event>,
    ) {
        let mut readings = BTreeMap::new();
        let mut processes = None;
        let mut findings: Vec<Finding> = Vec::new();
        for (name, result, gc) in pass {
            // Stamped like the memory: the instant the pass started.
            let stamp = |g: GcSample| GcSample { t_s, requests, ..g };
            tick.gc.extend(gc.into_iter().map(stamp));
            match result {
                // Skipped while a heap snapshot holds the inspector: no reading, no event.
                Err(SourceError::Busy(_)) => {}
                Ok(r) => {
                    for f in &r.events {
                        events.push(event(t_s, requests, f.kind, &f.detail));
                    }
                    findings.extend(self.watch.observe(&name, &r.identity));
                    processes = processes.or(r.identity.processes);
                    self.last_error.remove(&name);
                    // A tick without a major collection has no heap_after_gc: no reading.
                    if !r.metrics.is_empty() {
                        readings.insert(name, r.metrics);
                    }
                }
                Err(e) => self.note_error(tick, &name, e.to_string(), events),
            }
        }
        if readings.is_empty() {
            return;
        }
        let sample = MemorySample {
            t_s,
            requests,
            readings,
            processes,
        };
        let metric = &plan.memory.metric;
        let judged = sample.get(metric);
        let failed = tick.errors + tick.timeouts;
        if let (true, Some(before), Some(now)) = (findings.is_empty(), self.last_judged, judged) {
            findings.extend(cliff(
                metric,
                before,
                now,
                failed.saturating_sub(self.last_failed),
            ));
        }
        self.last_failed = failed;
        // One incident is often seen twice (the process tree loses its main process, then the
        // metrics page shows a new start time, then memory is low): keep the first. OOM kills
        // are counted exactly, so they are always kept.
        let recent = self.last_incident.is_some_and(|t| {
            t_s - t < INCIDENT_WINDOW_S.max(2.5 * plan.memory.interval.as_secs_f64())
        });
        findings.retain(|f| f.kind == "oom_kill" || !recent);
        if !findings.is_empty() {
            self.last_incident = Some(t_s);
        }
        for f in findings {
            let before = match self.last_judged {
                Some(b) => format!("; memory just before: {metric} {}", format_size(b as f64)),
                None => String::new(),
            };
            events.push(event(
                t_s,
                requests,
                f.kind,
                &format!("{}{before}", f.detail),
            ));
        }
        self.last_judged = judged.or(self.last_judged);
        tick.memory = Some(sample);
    }

    fn note_error(&mut self, tick: &Tick, source: &str, detail: String, events: &mut Vec<Event>) {
        if self.last_error.get(source) != Some(&detail) {
            events.push(event(tick.t_s, tick.completed, "sample_failed", &detail));
            self.last_error.insert(source.to_string(), detail);
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
