//! leakhound's own faults: SIGTERM mid-run and SIGINT while the target starts (exit 143 / 130,
//! a partial run folder), a run folder it cannot write (read-only, under a file, a full disk:
//! exit 2, no half-written files), a target whose /proc it may not read (the error names the
//! PID, the file and the permission needed), and an attached PID or PID file that does not
//! exist (exit 3). Ctrl-C mid-run is in target_failures.rs.
//!
//! The load is light (<= 100 requests/s for a few seconds), so these run in parallel.
//! Some need root (to drop to `nobody` with setpriv, or to mount a small tmpfs in a private
//! mount namespace with unshare); where that is impossible they say so on stderr and check
//! the part they can.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util::{
    args, assert_stopped_early, assert_target_stopped, free_port, launch_yaml, leakhound,
    read_json, spawn, target, text, Outcome, Workdir, BIN,
};

const LIMIT: Duration = Duration::from_secs(40);
/// The scenario name of the runs here.
const NAME: &str = "interrupts";

/// A scenario attached to `target_line` (`pid: N` or `pid_file: ...`) at `port`.
fn attach_yaml(port: u16, target_line: &str, metric: &str) -> String {
    format!(
        "\
name: attached
target:
  base_url: http://127.0.0.1:{port}
  {target_line}
  ready: {{path: /health, timeout: 5s}}
memory:
  interval: 250ms
  metric: {metric}
load:
  timeout: 1s
  phases:
    - {{name: soak, duration: 2s, rate: 20}}
requests:
  - name: any
    path: /
"
    )
}

fn run_args(scenario: &Path, out: &Path) -> Vec<String> {
    args([
        "run",
        &scenario.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--no-progress",
    ])
}

fn has_event(s: &Value, kind: &str) -> bool {
    s["events"]
        .as_array()
        .is_some_and(|events| events.iter().any(|e| text(e, &["kind"]) == kind))
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a child this test spawned and has not reaped yet.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

#[test]
fn sigterm_mid_run_is_exit_143_with_partial_folder() {
    let work = Workdir::new();
    let env = format!(", PID_FILE: \"{}\"", work.pid_file().display());
    let yaml = launch_yaml(NAME, "clean.js", free_port(), &env, "10s", "30s");
    let file = work.scenario("scenario.yaml", &yaml);
    let running = spawn(&run_args(&file, &work.out()));
    let pid = running.pid();
    thread::sleep(Duration::from_secs(4));
    signal(pid, libc::SIGTERM);
    let out = running.wait(LIMIT);
    let s = assert_stopped_early(&work, &out, 143);
    assert!(has_event(&s, "interrupted"), "{s:#}");
    assert!(
        s["requests"]["completed"].as_f64().unwrap_or(0.0) > 0.0,
        "requests before SIGTERM should be kept: {s:#}"
    );
    assert!(out.stdout.contains("TERMINATED"), "{}", out.output());
    assert!(out.elapsed < Duration::from_secs(20), "{}", out.output());
    assert_target_stopped(&work);
}

/// Ctrl-C while waiting for a target that never becomes ready: leakhound stops waiting, stops
/// the target, and still writes the folder.
#[test]
fn sigint_while_the_target_starts_is_exit_130() {
    let work = Workdir::new();
    let env = format!(
        ", LISTEN: \"0\", DIE_AFTER_MS: \"60000\", PID_FILE: \"{}\"",
        work.pid_file().display()
    );
    let yaml = launch_yaml(NAME, "dies-after.js", free_port(), &env, "30s", "5s");
    let file = work.scenario("scenario.yaml", &yaml);
    let running = spawn(&run_args(&file, &work.out()));
    let pid = running.pid();
    thread::sleep(Duration::from_millis(1500));
    signal(pid, libc::SIGINT);
    let out = running.wait(LIMIT);
    assert_stopped_early(&work, &out, 130);
    assert!(out.elapsed < Duration::from_secs(10), "{}", out.output());
    assert_target_stopped(&work);
}

/// `--out` below a regular file cannot be created (works as root too): exit 2 before any
/// target starts, the message names the folder.
#[test]
fn out_folder_under_a_file_is_exit_2() {
    let work = Workdir::new();
    let blocker = work.path().join("not-a-folder");
    std::fs::write(&blocker, "x").expect("write blocker");
    let out_dir = blocker.join("run");
    let env = format!(", PID_FILE: \"{}\"", work.pid_file().display());
    let yaml = launch_yaml(NAME, "clean.js", free_port(), &env, "10s", "2s");
    let file = work.scenario("scenario.yaml", &yaml);
    let out = leakhound(&run_args(&file, &out_dir), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains(&out_dir.display().to_string()),
        "the error should name the folder: {}",
        out.output()
    );
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
    // It failed before starting the target.
    assert!(!work.pid_file().exists(), "{}", out.output());
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `cmd` (stdout/stderr captured) with a deadline.
fn run_command(mut cmd: Command, limit: Duration) -> Outcome {
    let started = Instant::now();
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |mut p: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = p.read_to_string(&mut s);
            s
        })
    };
    let so = drain(Box::new(child.stdout.take().expect("stdout")));
    let se = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        code: status.code(),
        stdout: so.join().unwrap_or_default(),
        stderr: se.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// leakhound run as `nobody` (root only; setpriv from util-linux).
fn as_nobody(args: &[String]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(args);
    cmd
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A folder leakhound may not write: exit 2, the message names it and the permission, nothing
/// is created. As root, permissions do not deny, so leakhound runs as `nobody` instead.
#[test]
fn read_only_out_folder_is_exit_2() {
    let work = Workdir::new();
    let locked = work.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    let out_dir = locked.join("run");
    let yaml = launch_yaml(NAME, "clean.js", free_port(), "", "10s", "2s");
    let file = work.scenario("scenario.yaml", &yaml);
    let out = if is_root() {
        // nobody may read the scenario but not write `locked` (root's, 0755).
        chmod(work.path(), 0o755);
        chmod(&file, 0o644);
        run_command(as_nobody(&run_args(&file, &out_dir)), LIMIT)
    } else {
        chmod(&locked, 0o555);
        leakhound(&run_args(&file, &out_dir), LIMIT)
    };
    chmod(&locked, 0o755);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains(&out_dir.display().to_string()),
        "{}",
        out.output()
    );
    assert!(
        out.stderr.to_lowercase().contains("permission denied"),
        "{}",
        out.output()
    );
    assert!(
        !out_dir.exists(),
        "nothing should be created: {}",
        out.output()
    );
}

/// The disk fills while the run folder is written: exit 2 with the OS error and the file, and
/// every file left is whole (no temporaries, every JSON parses). 96 KiB hold run.json (about
/// 12 KiB here) but not the plots: the measurements are kept, and no file states a verdict
/// (summary.json used to say `pass` next to exit 2). Needs a private mount namespace with a
/// tmpfs (`unshare -m`, root); skipped with a note otherwise.
#[test]
fn disk_full_is_exit_2_without_half_written_files() {
    let work = Workdir::new();
    let probe = Command::new("unshare")
        .args(["-m", "true"])
        .stderr(Stdio::null())
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED disk_full: `unshare -m` is not permitted here (needs root)");
        return;
    }
    let mnt = work.path().join("small");
    let copy = work.path().join("copy");
    std::fs::create_dir(&mnt).expect("mkdir");
    let env = format!(", PID_FILE: \"{}\"", work.pid_file().display());
    let yaml = launch_yaml(NAME, "clean.js", free_port(), &env, "10s", "2s");
    let file = work.scenario("scenario.yaml", &yaml);
    let out_dir = mnt.join("run");
    // The tmpfs exists only inside the namespace: copy what was written out before leaving.
    let script = format!(
        "mount -t tmpfs -o size=96k tmpfs '{mnt}' || exit 97
'{bin}' run '{file}' --out '{out}' --no-progress
code=$?
cp -a '{out}' '{copy}' 2>/dev/null
exit $code",
        mnt = mnt.display(),
        bin = BIN,
        file = file.display(),
        out = out_dir.display(),
        copy = copy.display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script]);
    let out = run_command(cmd, LIMIT);
    if out.code == Some(97) {
        eprintln!("SKIPPED disk_full: cannot mount a tmpfs: {}", out.stderr);
        return;
    }
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("No space left on device"),
        "the OS error should be shown: {}",
        out.output()
    );
    assert!(
        out.stderr.contains(&out_dir.display().to_string()),
        "the error should name the file: {}",
        out.output()
    );
    assert_target_stopped(&work);
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&copy).expect("copied run folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        files.push(name.to_string());
        assert!(
            !name.contains(".tmp"),
            "a temporary file was left behind: {name} ({files:?})\n{}",
            out.output()
        );
        if name.ends_with(".json") {
            read_json(&path, &out);
        }
    }
    assert!(
        files.iter().any(|f| f == "run.json"),
        "run.json (the measurements) should be kept: {files:?}\n{}",
        out.output()
    );
    for verdict in ["summary.json", "summary.md", "junit.xml", "report.html"] {
        assert!(
            !files.iter().any(|f| f == verdict),
            "{verdict} states a verdict but the exit code is 2: {files:?}\n{}",
            out.output()
        );
    }
    assert!(
        out.stderr.contains("leakhound report"),
        "the error should say how to write the rest: {}",
        out.output()
    );
}

/// A target whose /proc memory files leakhound may not read (another user's process, no
/// CAP_SYS_PTRACE): the run stops before any load with exit 3, and the message names the PID,
/// the file and what permission is needed. As root, leakhound runs as `nobody` against a
/// target root started.
#[test]
fn unreadable_proc_names_pid_and_permission() {
    if !is_root() {
        eprintln!("SKIPPED unreadable_proc: needs root to start a process `nobody` cannot read");
        return;
    }
    let work = Workdir::new();
    chmod(work.path(), 0o777);
    let port = free_port();
    let mut server = Command::new("node")
        .arg(target("faulty.js"))
        .env("PORT", port.to_string())
        .env("MODE", "ok")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn node");
    let pid = server.id();
    // pss comes from /proc/PID/smaps_rollup, which needs ptrace access (status does not).
    let yaml = attach_yaml(port, &format!("pid: {pid}"), "pss");
    let file = work.scenario("scenario.yaml", &yaml);
    chmod(&file, 0o644);
    let out = run_command(as_nobody(&run_args(&file, &work.out())), LIMIT);
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(out.code, Some(3), "{}", out.output());
    let err = &out.stderr;
    for needle in [
        format!("/proc/{pid}/smaps_rollup"),
        "permission denied".to_string(),
        format!("process {pid}"),
        "CAP_SYS_PTRACE".to_string(),
    ] {
        assert!(
            err.contains(&needle),
            "missing {needle:?}: {}",
            out.output()
        );
    }
    let s = work.summary(&out);
    assert_eq!(s["completed"], Value::Bool(false), "{s:#}");
    assert_eq!(s["requests"]["sent"].as_u64(), Some(0), "{s:#}");
}

/// A PID that is not (or no longer) a process: exit 3, the message names the PID.
#[test]
fn attaching_to_a_missing_pid_is_exit_3() {
    let work = Workdir::new();
    // A process that has just exited and been reaped: its PID names nothing now.
    let mut gone = Command::new("true").spawn().expect("spawn true");
    let pid = gone.id();
    let _ = gone.wait();
    let yaml = attach_yaml(free_port(), &format!("pid: {pid}"), "rss_anon");
    let file = work.scenario("scenario.yaml", &yaml);
    let out = leakhound(&run_args(&file, &work.out()), LIMIT);
    assert_stopped_early(&work, &out, 3);
    assert!(
        out.stderr
            .contains(&format!("cannot attach to PID {pid}: no such process")),
        "{}",
        out.output()
    );
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
}

#[test]
fn missing_pid_file_is_exit_3_naming_the_file() {
    let work = Workdir::new();
    let pid_file = work.path().join("no-such.pid");
    let yaml = attach_yaml(
        free_port(),
        &format!("pid_file: \"{}\"", pid_file.display()),
        "rss_anon",
    );
    let file = work.scenario("scenario.yaml", &yaml);
    let out = leakhound(&run_args(&file, &work.out()), LIMIT);
    assert_stopped_early(&work, &out, 3);
    assert!(
        out.stderr.contains(&pid_file.display().to_string())
            && out.stderr.contains("does not exist"),
        "{}",
        out.output()
    );
}
