//! Targets that misbehave while a run goes on (tests/targets/faulty.js, supervisor.js): they
//! hang, stall a body, answer slowly, reset connections, answer 5xx storms, send huge or endless
//! bodies, or get restarted by a supervisor. leakhound must survive each: the run completes
//! (not exit 3: the target is alive), the fault is counted where a user looks for it
//! (timeouts, errors, status codes, events), and leakhound's own memory stays bounded.
//!
//! supervisor.js is shared with the restart-detection tests (`node supervisor.js CHILD.js`).
//!
//! Each test puts a few seconds of light load (<= 200 requests/s) on a loopback target, so
//! they belong in the nextest `soak` group (`test(/^faults::/)`), one at a time.
//! Targets that refuse connections at start or die mid-run are in target_failures.rs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use leakhound::timeline::Timeline;
use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, num, read_json, soak_lock, spawn, target, text,
    Outcome, Workdir,
};

/// Every run here is planned to last under 10 s; past this the test fails.
const LIMIT: Duration = Duration::from_secs(40);

/// A scenario launching `node <script>` with `env` (extra `KEY: "value"` pairs), one phase of
/// `duration` at `rate`, `load_extra` YAML lines under `load:` and a `thresholds` block.
struct Spec<'a> {
    script: &'a str,
    /// Extra items after the script in `command` (already quoted YAML list items).
    script_args: &'a str,
    env: &'a str,
    duration: &'a str,
    rate: u32,
    timeout: &'a str,
    load_extra: &'a str,
    thresholds: &'a str,
}

impl Default for Spec<'_> {
    /// faulty.js (its MODE in `env`), 4 s at 100/s, 2 s timeout, nothing extra.
    fn default() -> Self {
        Spec {
            script: "faulty.js",
            script_args: "",
            env: "",
            duration: "4s",
            rate: 100,
            timeout: "2s",
            load_extra: "",
            thresholds: "",
        }
    }
}

impl Spec<'_> {
    fn yaml(&self, port: u16, work: &Workdir) -> String {
        format!(
            "\
name: fault
target:
  base_url: http://127.0.0.1:{port}
  command: [node, \"{script}\"{script_args}]
  env: {{PORT: \"{port}\", PID_FILE: \"{pid_file}\"{env}}}
  ready: {{path: /health, timeout: 15s}}
memory:
  interval: 250ms
load:
  model: open
  timeout: {timeout}
{load_extra}  phases:
    - {{name: soak, duration: {duration}, rate: {rate}}}
requests:
  - name: any
    path: /any?id={{{{seq}}}}
{thresholds}",
            script = target(self.script).display(),
            script_args = self.script_args,
            pid_file = work.pid_file().display(),
            env = self.env,
            timeout = self.timeout,
            load_extra = self.load_extra,
            duration = self.duration,
            rate = self.rate,
            thresholds = self.thresholds,
        )
    }
}

/// leakhound's own memory, sampled every 100 ms while it runs.
struct SelfMemory {
    /// (seconds since start, VmRSS KiB)
    rss: Vec<(f64, u64)>,
    /// The last VmHWM seen (peak RSS so far), KiB.
    peak_kib: u64,
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Watches `/proc/<pid>/status` until `stop` is set or the process is gone.
fn watch_memory(pid: i32, stop: Arc<AtomicBool>) -> thread::JoinHandle<SelfMemory> {
    thread::spawn(move || {
        let t0 = Instant::now();
        let mut out = SelfMemory {
            rss: Vec::new(),
            peak_kib: 0,
        };
        // Bounded: the test's own deadline kills leakhound well before this.
        while !stop.load(Ordering::Relaxed) && t0.elapsed() < LIMIT {
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                break;
            };
            if let Some(rss) = status_kib(&status, "VmRSS:") {
                out.rss.push((t0.elapsed().as_secs_f64(), rss));
            }
            if let Some(hwm) = status_kib(&status, "VmHWM:") {
                out.peak_kib = out.peak_kib.max(hwm);
            }
            thread::sleep(Duration::from_millis(100));
        }
        out
    })
}

/// What one faulty run produced.
struct Run {
    out: Outcome,
    summary: Value,
    run: Value,
    mem: SelfMemory,
    /// Kept (not deleted) when the test fails, to look at the run.
    _work: Workdir,
}

impl Run {
    fn ctx(&self) -> String {
        format!("{:#}\n{}", self.summary, self.out.output())
    }

    fn timeline(&self) -> Timeline {
        serde_json::from_value(self.run["timeline"].clone())
            .unwrap_or_else(|e| panic!("run.json timeline does not parse: {e}\n{}", self.ctx()))
    }

    fn has_event(&self, kind: &str) -> bool {
        self.summary["events"]
            .as_array()
            .is_some_and(|ev| ev.iter().any(|e| text(e, &["kind"]) == kind))
    }

    /// The run went to its end: the target was alive all along, so neither 3 nor a partial run.
    fn assert_completed(&self) {
        assert_eq!(
            self.summary["completed"],
            Value::Bool(true),
            "{}",
            self.ctx()
        );
        assert_ne!(self.out.code, Some(3), "{}", self.ctx());
        assert!(!self.has_event("target_exited"), "{}", self.ctx());
    }

    /// Largest VmRSS growth (MiB) of leakhound between 40% of its life and the end of the load
    /// (the samples before report writing starts).
    fn rss_growth_mib(&self, load_end_s: f64) -> f64 {
        let under_load: Vec<&(f64, u64)> = self
            .mem
            .rss
            .iter()
            .filter(|(t, _)| *t <= load_end_s)
            .collect();
        assert!(
            under_load.len() >= 10,
            "too few samples of leakhound's memory ({}): {}",
            under_load.len(),
            self.ctx()
        );
        let from = under_load[under_load.len() * 2 / 5].1;
        let peak_after = under_load[under_load.len() * 2 / 5..]
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(from);
        peak_after.saturating_sub(from) as f64 / 1024.0
    }
}

fn run(spec: &Spec) -> Run {
    let work = Workdir::new();
    let port = free_port();
    let file = work.scenario("scenario.yaml", &spec.yaml(port, &work));
    let running = spawn(&args([
        "run",
        &file.display().to_string(),
        "--out",
        &work.out().display().to_string(),
        "--no-progress",
    ]));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_memory(running.pid(), stop.clone());
    let out = running.wait(LIMIT);
    stop.store(true, Ordering::Relaxed);
    let mem = watcher.join().expect("memory watcher");
    let summary = read_json(&work.out().join("summary.json"), &out);
    let run = read_json(&work.out().join("run.json"), &out);
    assert_target_stopped(&work);
    Run {
        out,
        summary,
        run,
        mem,
        _work: work,
    }
}

/// The largest `in_flight` any tick recorded.
fn max_in_flight(r: &Run) -> u64 {
    r.timeline()
        .ticks
        .iter()
        .map(|t| t.in_flight)
        .max()
        .unwrap_or(0)
}

/// A target that never answers: every request times out, at most `max_in_flight` wait at once
/// (the rest are counted as overflow, not queued), and leakhound's memory stays flat.
#[test]
fn hanging_target_counts_timeouts_caps_in_flight_and_stays_flat() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"hang\"",
        duration: "8s",
        rate: 200,
        timeout: "1s",
        load_extra: "  max_in_flight: 40\n",
        ..Spec::default()
    });
    r.assert_completed();
    let s = &r.summary;
    let (sent, timeouts, overflow) = (
        num(s, &["requests", "sent"]),
        num(s, &["requests", "timeouts"]),
        num(s, &["requests", "overflow"]),
    );
    // 40 in flight, each held 1 s: ~40 timeouts a second over 8 s.
    assert!(
        (150.0..=450.0).contains(&timeouts),
        "timeouts {timeouts}: {}",
        r.ctx()
    );
    assert!(
        timeouts >= sent - 40.0,
        "every sent request should time out: {}",
        r.ctx()
    );
    // 200/s planned, at most 40 per second admitted: the rest overflowed.
    assert!(overflow >= 1000.0, "overflow {overflow}: {}", r.ctx());
    assert_eq!(
        num(s, &["requests", "completed"]) - timeouts,
        0.0,
        "{}",
        r.ctx()
    );
    let peak = max_in_flight(&r);
    assert!(
        (30..=40).contains(&peak),
        "in flight peaked at {peak}, cap 40: {}",
        r.ctx()
    );
    let growth = r.rss_growth_mib(8.0);
    assert!(
        growth < 8.0,
        "leakhound's RSS grew {growth:.1} MiB during the hang: {:?}\n{}",
        r.mem.rss,
        r.ctx()
    );
}

/// A body that starts and never finishes: the request timeout covers the body too.
#[test]
fn stalled_body_times_out() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"stall\"",
        rate: 50,
        timeout: "1s",
        ..Spec::default()
    });
    r.assert_completed();
    let s = &r.summary;
    let (sent, timeouts) = sent_and_timeouts(s);
    assert!(sent >= 180.0, "sent {sent}: {}", r.ctx());
    assert!(timeouts >= sent - 5.0, "timeouts {timeouts}: {}", r.ctx());
}

/// A target slower than the arrival rate: in the open model the rate is held (arrivals do not
/// wait for answers), so the queue and the latency, measured from each request's intended send
/// time, grow through the run.
#[test]
fn slow_target_latency_grows_while_the_rate_is_held() {
    let _soak = soak_lock();
    // Capacity 100/s (10 ms each, one at a time), offered 150/s for 6 s.
    let r = run(&Spec {
        env: ", MODE: \"slow\", SERVICE_MS: \"10\"",
        duration: "6s",
        rate: 150,
        timeout: "10s",
        ..Spec::default()
    });
    r.assert_completed();
    let s = &r.summary;
    let sent = num(s, &["requests", "sent"]);
    assert!(
        sent >= 0.95 * 900.0,
        "rate not held: sent {sent}: {}",
        r.ctx()
    );
    assert_eq!(num(s, &["requests", "timeouts"]), 0.0, "{}", r.ctx());
    let tl = r.timeline();
    let early = tl
        .merged_latency(|t| t.t_s <= 2.0)
        .quantile_ms(0.5)
        .unwrap_or(0.0);
    let late = tl
        .merged_latency(|t| t.t_s > 4.5 && t.t_s <= 6.5)
        .quantile_ms(0.5)
        .unwrap_or(0.0);
    // Backlog grows ~50 requests/s = 0.5 s of latency per second of run.
    assert!(
        late > 1000.0 && late > 3.0 * early,
        "median latency early {early:.0} ms, late {late:.0} ms: {}",
        r.ctx()
    );
    assert!(num(s, &["latency_ms", "p99"]) > 1500.0, "{}", r.ctx());
}

/// Connections reset by the target are errors (with an error_rate threshold: a failed run),
/// the requests between them succeed, and the run goes on.
#[test]
fn reset_connections_are_errors_and_the_run_goes_on() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"reset\", RESET_EVERY: \"2\"",
        thresholds: "thresholds:\n  error_rate: 1%\n",
        ..Spec::default()
    });
    r.assert_completed();
    assert_eq!(r.out.code, Some(1), "{}", r.ctx());
    let s = &r.summary;
    let (completed, errors, share) = error_share(s);
    assert!(completed >= 350.0, "{}", r.ctx());
    assert!(
        (0.3..=0.7).contains(&share),
        "every other request is reset, errors {errors} of {completed}: {}",
        r.ctx()
    );
    assert_failed_threshold(s, "error_rate", &r.ctx());
}

/// A 5xx storm in the middle of a run: the statuses are recorded per tick, counted as errors,
/// fail the error_rate threshold, and the run completes.
#[test]
fn error_storm_is_counted_and_the_run_completes() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"storm\", STORM_AFTER_MS: \"2000\", STORM_FOR_MS: \"2000\"",
        duration: "6s",
        thresholds: "thresholds:\n  error_rate: 1%\n",
        ..Spec::default()
    });
    r.assert_completed();
    assert_eq!(r.out.code, Some(1), "{}", r.ctx());
    let s = &r.summary;
    let (completed, errors, share) = error_share(s);
    assert!(
        (0.15..=0.6).contains(&share),
        "a 2 s storm in a 6 s run: errors {errors} of {completed}: {}",
        r.ctx()
    );
    let mut codes = std::collections::BTreeSet::new();
    for t in &r.timeline().ticks {
        for ep in &t.endpoints {
            codes.extend(ep.status.keys().copied());
        }
    }
    for code in [200, 500, 502, 503, 504] {
        assert!(
            codes.contains(&code),
            "status {code} missing from {codes:?}: {}",
            r.ctx()
        );
    }
    assert_failed_threshold(s, "error_rate", &r.ctx());
}

/// 64 MiB bodies are read and dropped chunk by chunk: they complete, and leakhound's peak RSS
/// (~20 MiB under load, ~30 MiB while writing the report, debug build) stays below one body.
#[test]
fn huge_bodies_are_read_without_buffering() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"huge\", BODY_MIB: \"64\"",
        rate: 2,
        timeout: "8s",
        ..Spec::default()
    });
    r.assert_completed();
    let s = &r.summary;
    assert!(num(s, &["requests", "completed"]) >= 7.0, "{}", r.ctx());
    assert_eq!(num(s, &["requests", "errors"]), 0.0, "{}", r.ctx());
    assert_peak_below(&r, 48);
}

/// A body that never ends: the request timeout ends each one, and nothing accumulates.
#[test]
fn endless_bodies_time_out_with_bounded_memory() {
    let _soak = soak_lock();
    let r = run(&Spec {
        env: ", MODE: \"endless\"",
        rate: 2,
        timeout: "1s",
        ..Spec::default()
    });
    r.assert_completed();
    let s = &r.summary;
    let (sent, timeouts) = sent_and_timeouts(s);
    assert!(sent >= 7.0, "{}", r.ctx());
    assert!(timeouts >= sent - 1.0, "timeouts {timeouts}: {}", r.ctx());
    assert_peak_below(&r, 48);
}

/// A supervisor (supervisor.js) restarts its worker (faulty.js, holding 64 MiB so it is the
/// largest process of the tree) after the worker exits mid-run: a `restart` event, and the run
/// goes on to its end.
#[test]
fn supervisor_restart_is_an_event_and_the_run_goes_on() {
    let _soak = soak_lock();
    let once = tempfile::Builder::new()
        .prefix("leakhound-died-once-")
        .tempdir()
        .expect("tempdir");
    let env = format!(
        ", MODE: \"ok\", BALLAST_MIB: \"64\", DIE_AFTER_MS: \"3000\", DIE_ONCE_FILE: \"{}\", \
         RESTART_DELAY_MS: \"200\"",
        once.path().join("died").display()
    );
    let child = format!(", \"{}\"", target("faulty.js").display());
    let r = run(&Spec {
        script: "supervisor.js",
        script_args: &child,
        env: &env,
        duration: "7s",
        ..Spec::default()
    });
    assert!(
        once.path().join("died").exists(),
        "the worker never got to its planned exit: {}",
        r.ctx()
    );
    r.assert_completed();
    assert!(r.has_event("restart"), "no restart event: {}", r.ctx());
    let s = &r.summary;
    // Most requests succeed: only the ~200 ms without a worker fails.
    let (completed, _, share) = error_share(s);
    assert!(completed >= 600.0, "{}", r.ctx());
    assert!(share <= 0.2, "{}", r.ctx());
}

/// Requests sent, and how many of them timed out.
fn sent_and_timeouts(s: &Value) -> (f64, f64) {
    (
        num(s, &["requests", "sent"]),
        num(s, &["requests", "timeouts"]),
    )
}

/// Completed requests, the errors among them, and the errors' share of them.
fn error_share(s: &Value) -> (f64, f64, f64) {
    let completed = num(s, &["requests", "completed"]);
    let errors = num(s, &["requests", "errors"]);
    (completed, errors, errors / completed.max(1.0))
}

/// The threshold `name` is listed and failed.
fn assert_failed_threshold(s: &Value, name: &str, ctx: &str) {
    let t = s["thresholds"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| text(t, &["name"]) == name))
        .unwrap_or_else(|| panic!("threshold {name} missing: {ctx}"));
    assert_eq!(t["passed"], Value::Bool(false), "{ctx}");
}

/// leakhound's peak RSS (VmHWM, whole life including the report) stayed below `mib`.
fn assert_peak_below(r: &Run, mib: u64) {
    assert!(
        r.mem.peak_kib > 0,
        "leakhound's memory was never sampled: {}",
        r.ctx()
    );
    assert!(
        r.mem.peak_kib < mib * 1024,
        "leakhound's peak RSS {} MiB >= {mib} MiB: {}",
        r.mem.peak_kib / 1024,
        r.ctx()
    );
}
