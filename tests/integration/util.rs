//! Shared helpers: run the leakhound binary with a deadline, free ports, scenario paths, run
//! folders, the soak lock, and checks that the targets leakhound started were stopped.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The compiled binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_leakhound");

/// Serializes the tests that put load on the machine under plain `cargo test` (threads in one
/// process); nextest runs each test in its own process and uses the `soak` test group instead.
static SOAK_LOCK: Mutex<()> = Mutex::new(());

/// Takes the soak lock; a test that panicked while holding it does not poison the others.
pub fn soak_lock() -> MutexGuard<'static, ()> {
    SOAK_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The crate root (where `scenarios/` and `tests/targets/` live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An example scenario shipped in `scenarios/`.
pub fn scenario(name: &str) -> PathBuf {
    root().join("scenarios").join(name)
}

/// A test target in `tests/targets/`, as an absolute path.
pub fn target(file: &str) -> PathBuf {
    root().join("tests").join("targets").join(file)
}

/// A loopback port that was free a moment ago: bind port 0, read the port, drop the listener.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// What one leakhound invocation did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code; None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Everything printed, for assertion messages.
    pub fn output(&self) -> String {
        format!(
            "exit code {:?} after {:.1}s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.elapsed.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }
}

/// A leakhound process started by [`spawn`]; stdout and stderr are drained by threads so a
/// chatty child never blocks on a full pipe.
pub struct Running {
    child: Child,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    started: Instant,
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

/// Starts leakhound with `args`.
pub fn spawn(args: &[String]) -> Running {
    spawn_env(args, &[])
}

/// [`spawn`] with extra environment variables (e.g. a PATH with a stand-in tool first).
pub fn spawn_env(args: &[String], env: &[(&str, String)]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn leakhound");
    let stdout = drain(child.stdout.take().expect("stdout pipe"));
    let stderr = drain(child.stderr.take().expect("stderr pipe"));
    Running {
        child,
        stdout,
        stderr,
        started: Instant::now(),
    }
}

impl Running {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).expect("pid fits i32")
    }

    /// Waits up to `limit` from the start; past it, kills leakhound and fails the test.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let status: ExitStatus = loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => break status,
                None if self.started.elapsed() > limit => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self.stderr.join().unwrap_or_default();
                    panic!(
                        "leakhound did not finish within {limit:?}; killed it. stderr:\n{stderr}"
                    );
                }
                None => thread::sleep(Duration::from_millis(50)),
            }
        };
        Outcome {
            code: status.code(),
            stdout: self.stdout.join().unwrap_or_default(),
            stderr: self.stderr.join().unwrap_or_default(),
            elapsed: self.started.elapsed(),
        }
    }
}

/// Runs leakhound to completion (at most `limit`).
pub fn leakhound(args: &[String], limit: Duration) -> Outcome {
    spawn(args).wait(limit)
}

/// Builds an argument list from anything string-like.
pub fn args<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    items.into_iter().map(|s| s.as_ref().to_string()).collect()
}

/// A temporary folder for one test: its run folder, pid file and scenario files. Removed when
/// the test passes; kept (and its path printed) when the test fails, to look at the run.
pub struct Workdir {
    pub dir: TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::Builder::new()
                .prefix("leakhound-it-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The run folder passed with `--out` (leakhound creates it).
    pub fn out(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// Where the targets write their PID (PID_FILE, see tests/targets/common.js).
    pub fn pid_file(&self) -> PathBuf {
        self.dir.path().join("target.pid")
    }

    /// Writes a scenario file into this folder and returns its path.
    pub fn scenario(&self, file: &str, yaml: &str) -> PathBuf {
        let p = self.dir.path().join(file);
        std::fs::write(&p, yaml).expect("write scenario");
        p
    }

    /// summary.json of the run folder, parsed; panics with `ctx` when missing or invalid.
    pub fn summary(&self, ctx: &Outcome) -> Value {
        read_json(&self.out().join("summary.json"), ctx)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        keep_run(&self.out());
        if thread::panicking() {
            self.dir.disable_cleanup(true);
            eprintln!("kept the test's folder: {}", self.dir.path().display());
        }
    }
}

/// With `LEAKHOUND_KEEP_RUNS=DIR`, copies a run folder to DIR/<test>-<n> so the verdicts of
/// many real runs can be re-analysed offline (`leakhound report`) while tuning the analysis.
fn keep_run(run: &Path) {
    let Some(keep) = std::env::var_os("LEAKHOUND_KEEP_RUNS") else {
        return;
    };
    if !run.join("run.json").exists() {
        return;
    }
    let name = thread::current().name().unwrap_or("run").replace("::", "-");
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let dest = PathBuf::from(keep).join(format!("{name}-{stamp}"));
    let _ = std::fs::create_dir_all(&dest);
    let _ = Command::new("cp").arg("-r").arg(run).arg(&dest).status();
}

pub fn read_json(path: &Path, ctx: &Outcome) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{}", path.display(), ctx.output()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}\n{}", path.display(), ctx.output()))
}

/// The `--set` pairs that move a scenario's launched target to `port` and make it write its
/// PID where [`assert_target_stopped`] looks.
pub fn port_overrides(port: u16, work: &Workdir) -> Vec<String> {
    args([
        "--set".to_string(),
        format!("target.base_url=http://127.0.0.1:{port}"),
        "--set".to_string(),
        format!("target.env.PORT={port}"),
        "--set".to_string(),
        format!("target.env.PID_FILE={}", work.pid_file().display()),
    ])
}

/// True while `pid` names a live (non-zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; "Z" = exited but not yet reaped.
        Ok(stat) => stat
            .rsplit_once(") ")
            .map(|(_, rest)| !rest.starts_with('Z'))
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// Checks that the target whose PID the work folder recorded is gone shortly after leakhound
/// exited. If it is still running, kills it (so no test leaves a server behind) and fails.
pub fn assert_target_stopped(work: &Workdir) {
    let Ok(text) = std::fs::read_to_string(work.pid_file()) else {
        return; // the target never got far enough to write it
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    while alive(pid) {
        if Instant::now() > deadline {
            // SAFETY: kill(2) with a PID we read from the target's own pid file.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            panic!("leakhound left its target (pid {pid}) running after it exited");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `v[key1][key2]...` as f64, panicking with the summary when missing.
pub fn num(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("summary has no number at {}: {v:#}", path.join(".")))
}

/// `v[key1][key2]...` as a string ("" when missing).
pub fn text<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for k in path {
        cur = &cur[*k];
    }
    cur.as_str().unwrap_or("")
}

/// A scenario named `name` that launches `node tests/targets/<script>` on `port` with extra
/// `env` entries (`, KEY: "value"`), waits up to `ready` for /health, then soaks at 100/s
/// for `soak`: light load, for the tests of how runs end.
pub fn launch_yaml(
    name: &str,
    script: &str,
    port: u16,
    env: &str,
    ready: &str,
    soak: &str,
) -> String {
    format!(
        "\
name: {name}
target:
  base_url: http://127.0.0.1:{port}
  command: [node, \"{script}\"]
  env: {{PORT: \"{port}\"{env}}}
  ready: {{path: /health, timeout: {ready}}}
memory:
  interval: 250ms
load:
  timeout: 2s
  phases:
    - {{name: soak, duration: {soak}, rate: 100}}
requests:
  - name: any
    path: /any?id={{{{seq}}}}
",
        script = target(script).display(),
    )
}

/// The run stopped early with exit `code`, and still left its folder: run.json, and a
/// summary.json that says `completed: false` with that exit code. Returns the summary.
pub fn assert_stopped_early(work: &Workdir, out: &Outcome, code: i32) -> Value {
    assert_eq!(out.code, Some(code), "{}", out.output());
    let s = work.summary(out);
    let ctx = format!("{s:#}\n{}", out.output());
    assert_eq!(s["completed"], Value::Bool(false), "{ctx}");
    assert_eq!(s["exit_code"].as_i64(), Some(i64::from(code)), "{ctx}");
    assert!(work.out().join("run.json").exists(), "no run.json: {ctx}");
    s
}
