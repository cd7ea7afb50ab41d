//! Targets that fail: one that exits at once, one that never opens its port, one that dies in
//! the middle of a run, a base_url nobody answers on, and Ctrl-C. Each must end with
//! the right exit code (3, or 130 for Ctrl-C) and, as DESIGN.md promises for every exit but 2, a
//! run folder whose summary.json says `completed: false`. The load here is light (100/s) and
//! short, so these run in parallel with the rest.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::util::{
    args, assert_stopped_early, assert_target_stopped, free_port, launch_yaml, leakhound, spawn,
    text, Outcome, Workdir,
};

const LIMIT: Duration = Duration::from_secs(60);
/// The scenario name of the runs here.
const NAME: &str = "failing-target";

fn run(work: &Workdir, yaml: &str) -> Outcome {
    let file = work.scenario("scenario.yaml", yaml);
    leakhound(
        &args([
            "run",
            &file.display().to_string(),
            "--out",
            &work.out().display().to_string(),
            "--no-progress",
        ]),
        LIMIT,
    )
}

/// leakhound said what went wrong (on stdout or stderr) using one of `words`.
fn assert_mentions(out: &Outcome, words: &[&str]) {
    let all = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(
        words.iter().any(|w| all.contains(w)),
        "no message mentioning any of {words:?}: {}",
        out.output()
    );
}

fn has_event(s: &Value, kind: &str) -> bool {
    s["events"]
        .as_array()
        .is_some_and(|events| events.iter().any(|e| text(e, &["kind"]) == kind))
}

#[test]
fn target_that_exits_at_once_is_exit_3() {
    let work = Workdir::new();
    let yaml = launch_yaml(
        NAME,
        "dies-after.js",
        free_port(),
        ", DIE_AFTER_MS: \"0\"",
        "10s",
        "5s",
    );
    let out = run(&work, &yaml);
    let s = assert_stopped_early(&work, &out, 3);
    assert_eq!(text(&s, &["outcome"]), "error", "{s:#}");
    assert_mentions(&out, &["exit", "ended"]);
    // The verdict says the run never got to send, not "run at least 200 more requests".
    let reason = text(&s, &["leak", "reason"]);
    assert!(reason.contains("before any request was sent"), "{reason}");
    assert!(!reason.contains("more requests"), "{reason}");
    // It should notice the exit, not wait out the 10 s ready timeout.
    assert!(out.elapsed < Duration::from_secs(9), "{}", out.output());
}

#[test]
fn target_that_never_opens_its_port_is_exit_3() {
    let work = Workdir::new();
    let env = format!(
        ", LISTEN: \"0\", DIE_AFTER_MS: \"60000\", PID_FILE: \"{}\"",
        work.pid_file().display()
    );
    let yaml = launch_yaml(NAME, "dies-after.js", free_port(), &env, "1s", "5s");
    let out = run(&work, &yaml);
    assert_stopped_early(&work, &out, 3);
    assert_mentions(&out, &["ready"]);
    assert!(out.elapsed < Duration::from_secs(15), "{}", out.output());
    // leakhound must stop the process it started even though it never became ready.
    assert_target_stopped(&work);
}

/// Attached to a live process (a `sleep` this test starts) whose base_url nobody listens on.
#[test]
fn unreachable_base_url_is_exit_3() {
    let work = Workdir::new();
    let port = free_port();
    let mut sleeper = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("spawn sleep");
    let yaml = format!(
        "\
name: unreachable
target:
  base_url: http://127.0.0.1:{port}
  pid: {pid}
  ready: {{timeout: 1s}}
memory:
  interval: 250ms
load:
  timeout: 1s
  phases:
    - {{name: soak, duration: 3s, rate: 10}}
requests:
  - name: root
    path: /
",
        pid = sleeper.id()
    );
    let out = run(&work, &yaml);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert_stopped_early(&work, &out, 3);
    assert_mentions(&out, &["ready", "unreachable", "connect"]);
}

#[test]
fn target_dying_mid_run_is_exit_3_with_event() {
    let work = Workdir::new();
    let env = format!(
        ", DIE_AFTER_MS: \"2500\", PID_FILE: \"{}\"",
        work.pid_file().display()
    );
    let yaml = launch_yaml(NAME, "dies-after.js", free_port(), &env, "10s", "15s");
    let out = run(&work, &yaml);
    let s = assert_stopped_early(&work, &out, 3);
    assert!(
        has_event(&s, "target_exited"),
        "no target_exited event: {s:#}"
    );
    // The run should stop soon after the target died, not play out the 15 s phase.
    assert!(out.elapsed < Duration::from_secs(12), "{}", out.output());
    let sent = s["requests"]["completed"].as_f64().unwrap_or(0.0);
    assert!(
        sent > 0.0,
        "requests before the death should be kept: {s:#}"
    );
}

#[test]
fn ctrl_c_is_exit_130_with_partial_summary() {
    let work = Workdir::new();
    let env = format!(", PID_FILE: \"{}\"", work.pid_file().display());
    let yaml = launch_yaml(NAME, "clean.js", free_port(), &env, "10s", "30s");
    let file = work.scenario("scenario.yaml", &yaml);
    let running = spawn(&args([
        "run",
        &file.display().to_string(),
        "--out",
        &work.out().display().to_string(),
        "--no-progress",
    ]));
    let pid = running.pid();
    // Let the target start and some load run, then interrupt like a terminal would.
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: kill(2) on the child we spawned and have not reaped yet.
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0, "kill(SIGINT) failed");
    let out = running.wait(LIMIT);
    let s = assert_stopped_early(&work, &out, 130);
    assert!(out.elapsed < Duration::from_secs(20), "{}", out.output());
    let completed = s["requests"]["completed"].as_f64().unwrap_or(0.0);
    assert!(
        completed > 0.0,
        "requests before Ctrl-C should be kept: {s:#}"
    );
    assert_target_stopped(&work);
}
