//! Tests of the target module against real processes (Node servers, `sleep`) and real /proc.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::*;
use crate::scenario::{Readiness, TargetPlan, TargetProcess};

/// Kills a process group (or a single process) when the test ends, pass or fail.
struct Guard {
    pgid: Option<u32>,
    child: Option<std::process::Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            launch::signal_group(pgid, libc::SIGKILL);
        }
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn plan(port: u16, process: TargetProcess, path: Option<&str>, timeout: Duration) -> TargetPlan {
    TargetPlan {
        base_url: format!("http://127.0.0.1:{port}"),
        host: "127.0.0.1".to_string(),
        port,
        process,
        ready: Readiness {
            path: path.map(str::to_string),
            timeout,
        },
    }
}

fn node(script: &str, port: u16) -> TargetProcess {
    TargetProcess::Launch {
        command: vec!["node".into(), "-e".into(), script.into()],
        cwd: None,
        env: BTreeMap::from([("PORT".to_string(), port.to_string())]),
    }
}

/// Running and not a zombie.
fn alive(pid: u32) -> bool {
    procfs::process::Process::new(pid as i32)
        .and_then(|p| p.stat())
        .map(|st| st.state != 'Z' && st.state != 'X')
        .unwrap_or(false)
}

/// Waits up to 2 s for `pid` to be gone (an orphan is reaped by init asynchronously).
async fn gone_soon(pid: u32) -> bool {
    for _ in 0..40 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

const SERVER_WITH_CHILD: &str = r#"
const cp = require('child_process');
cp.spawn('sleep', ['30'], { stdio: 'ignore' });
require('http').createServer((q, s) => s.end('ok')).listen(+process.env.PORT, '127.0.0.1');
"#;

#[tokio::test]
async fn launches_waits_for_tcp_and_stop_ends_the_whole_group() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("target.log");
    let p = plan(
        port,
        node(SERVER_WITH_CHILD, port),
        None,
        Duration::from_secs(4),
    );
    let mut target = start(&p, Some(&log)).await.unwrap();
    let pid = target.pid().unwrap();
    let _guard = Guard {
        pgid: Some(pid),
        child: None,
    };
    assert!(target.launched());
    assert!(alive(pid));

    // The sleep child was spawned before listen(), so it is in the tree now.
    let kids = crate::memory::descendants(pid);
    assert_eq!(kids.len(), 1, "expected the sleep child, got {kids:?}");
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok());

    let t0 = Instant::now();
    let exit = target.stop(Duration::from_secs(3)).await.unwrap();
    assert_eq!(exit.signal, Some(libc::SIGTERM), "{exit:?}");
    assert!(exit.detail.contains("SIGTERM"), "{}", exit.detail);
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
    assert!(!alive(pid));
    assert!(
        gone_soon(kids[0]).await,
        "child {} outlived stop()",
        kids[0]
    );
    // Stopping twice is harmless and reports the same exit.
    assert_eq!(target.stop(Duration::from_secs(1)).await, Some(exit));
}

#[tokio::test]
async fn stop_escalates_to_sigkill_after_grace() {
    let port = free_port();
    let script = "process.on('SIGTERM', () => {}); \
                  require('net').createServer().listen(+process.env.PORT, '127.0.0.1');";
    let p = plan(port, node(script, port), None, Duration::from_secs(4));
    let mut target = start(&p, None).await.unwrap();
    let _guard = Guard {
        pgid: target.pid(),
        child: None,
    };
    let t0 = Instant::now();
    let exit = target.stop(Duration::from_millis(400)).await.unwrap();
    let took = t0.elapsed();
    assert_eq!(exit.signal, Some(libc::SIGKILL), "{exit:?}");
    assert!(
        exit.detail.contains("signal 9 (SIGKILL)"),
        "{}",
        exit.detail
    );
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[tokio::test]
async fn exited_resolves_when_a_launched_target_dies_and_is_cancel_safe() {
    let port = free_port();
    let script = "require('net').createServer().listen(+process.env.PORT, '127.0.0.1'); \
                  setTimeout(() => process.exit(7), 600);";
    let p = plan(port, node(script, port), None, Duration::from_secs(4));
    let mut target = start(&p, None).await.unwrap();
    let _guard = Guard {
        pgid: target.pid(),
        child: None,
    };
    // Dropping the future mid-wait (as a select! does) must not lose the exit.
    let early = tokio::time::timeout(Duration::from_millis(100), target.exited()).await;
    assert!(early.is_err(), "exited too early");
    let exit = tokio::time::timeout(Duration::from_secs(3), target.exited())
        .await
        .unwrap();
    assert_eq!(exit.code, Some(7));
    assert_eq!(exit.detail, "exited with code 7");
}

#[tokio::test]
async fn missing_command_is_a_spawn_error_naming_it() {
    let process = TargetProcess::Launch {
        command: vec!["leakhound-no-such-command".into(), "x".into()],
        cwd: Some(std::env::temp_dir()),
        env: BTreeMap::new(),
    };
    let err = start(
        &plan(free_port(), process, None, Duration::from_secs(5)),
        None,
    )
    .await
    .err()
    .unwrap();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, TargetError::Spawn { .. }), "{msg}");
    assert!(msg.contains("leakhound-no-such-command"), "{msg}");
    assert!(msg.contains("command not found"), "{msg}");
    assert!(
        msg.contains(&std::env::temp_dir().display().to_string()),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_cwd_is_named_as_such() {
    let process = TargetProcess::Launch {
        command: vec!["node".into()],
        cwd: Some(PathBuf::from("/nonexistent/leakhound/app")),
        env: BTreeMap::new(),
    };
    let err = start(
        &plan(free_port(), process, None, Duration::from_secs(5)),
        None,
    )
    .await
    .err()
    .unwrap();
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("working directory does not exist"), "{msg}");
    assert!(msg.contains("/nonexistent/leakhound/app"), "{msg}");
}

#[tokio::test]
async fn a_target_that_exits_at_once_fails_fast_with_its_log_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("target.log");
    let script = "for (let i = 0; i < 30; i++) console.log('line ' + i); \
                  console.error('bad config: no DATABASE_URL'); process.exit(3);";
    let p = plan(free_port(), node(script, 1), None, Duration::from_secs(10));
    let t0 = Instant::now();
    let err = start(&p, Some(&log)).await.err().unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
    let msg = err.to_string();
    eprintln!("{msg}");
    match &err {
        TargetError::ExitedBeforeReady { exit, log_tail, .. } => {
            assert_eq!(exit.code, Some(3));
            assert!(
                log_tail.contains("bad config: no DATABASE_URL"),
                "{log_tail}"
            );
            assert_eq!(log_tail.lines().count(), LOG_TAIL_LINES);
            assert!(!log_tail.contains("line 5\n"), "tail too long: {log_tail}");
        }
        other => panic!("expected ExitedBeforeReady, got {other}"),
    }
    assert!(msg.contains("exited with code 3"), "{msg}");
    assert!(msg.contains("target.log"), "{msg}");
}

#[tokio::test]
async fn a_port_that_never_opens_is_not_ready_in_time() {
    let port = free_port();
    let p = plan(port, TargetProcess::None, None, Duration::from_secs(1));
    let t0 = Instant::now();
    let err = start(&p, None).await.err().unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, TargetError::NotReady { .. }), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
    assert!(msg.contains("target.ready.timeout"), "{msg}");
}

#[tokio::test]
async fn a_launched_target_that_never_gets_ready_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let script = format!("echo $$ > {}; exec sleep 30", pid_file.display());
    let process = TargetProcess::Launch {
        command: vec!["sh".into(), "-c".into(), script],
        cwd: None,
        env: BTreeMap::new(),
    };
    let p = plan(free_port(), process, None, Duration::from_millis(700));
    let err = start(&p, None).await.err().unwrap();
    assert!(matches!(err, TargetError::NotReady { .. }), "{err}");
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _guard = Guard {
        pgid: Some(pid),
        child: None,
    };
    assert!(!alive(pid), "the never-ready target {pid} was left running");
}

#[tokio::test]
async fn http_readiness_waits_for_a_2xx() {
    let port = free_port();
    let script = r#"
const t0 = Date.now();
require('http').createServer((q, s) => {
  if (q.url !== '/health') { s.statusCode = 404; return s.end(); }
  s.statusCode = Date.now() - t0 < 1000 ? 503 : 200; s.end();
}).listen(+process.env.PORT, '127.0.0.1');
"#;
    let p = plan(
        port,
        node(script, port),
        Some("/health"),
        Duration::from_secs(4),
    );
    let t0 = Instant::now();
    let mut target = start(&p, None).await.unwrap();
    let took = t0.elapsed();
    let _guard = Guard {
        pgid: target.pid(),
        child: None,
    };
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(1800),
        "{took:?}"
    );
    target.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn http_readiness_timeout_names_the_url_and_last_status() {
    let port = free_port();
    let script = "require('http').createServer((q, s) => { s.statusCode = 503; s.end(); })\
                  .listen(+process.env.PORT, '127.0.0.1');";
    let p = plan(
        port,
        node(script, port),
        Some("/health"),
        Duration::from_secs(1),
    );
    let msg = start(&p, None).await.err().unwrap().to_string();
    assert!(
        msg.contains(&format!("GET http://127.0.0.1:{port}/health")),
        "{msg}"
    );
    assert!(msg.contains("HTTP 503"), "{msg}");
}

#[tokio::test]
async fn attaches_to_a_pid_and_notices_its_exit_but_never_stops_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = std::process::Command::new("sleep")
        .arg("30")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut guard = Guard {
        pgid: None,
        child: Some(child),
    };

    let p = plan(
        port,
        TargetProcess::Pid { pid },
        None,
        Duration::from_secs(2),
    );
    let mut target = start(&p, None).await.unwrap();
    assert_eq!(target.pid(), Some(pid));
    assert!(!target.launched());
    assert_eq!(target.stop(Duration::from_millis(100)).await, None);
    assert!(alive(pid), "stop() must not touch an attached process");

    let early = tokio::time::timeout(Duration::from_millis(300), target.exited()).await;
    assert!(early.is_err());
    if let Some(c) = &mut guard.child {
        c.kill().unwrap();
    }
    let t0 = Instant::now();
    let exit = tokio::time::timeout(Duration::from_secs(2), target.exited())
        .await
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(700),
        "{:?}",
        t0.elapsed()
    );
    assert!(exit.detail.contains(&pid.to_string()), "{}", exit.detail);
    drop(target); // must not signal anything
}

#[tokio::test]
async fn attaching_to_a_missing_pid_fails() {
    let p = plan(
        free_port(),
        TargetProcess::Pid { pid: 999_999_999 },
        None,
        Duration::from_secs(1),
    );
    let err = start(&p, None).await.err().unwrap();
    assert!(
        matches!(err, TargetError::NoSuchPid { pid: 999_999_999 }),
        "{err}"
    );
    assert!(err.to_string().contains("999999999"));
}

#[tokio::test]
async fn pid_files_that_are_missing_or_garbage_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("app.pid");
    std::fs::write(&garbage, "not-a-pid\n").unwrap();
    let missing = dir.path().join("missing.pid");
    for (path, expect) in [
        (&garbage, "does not hold a PID"),
        (&missing, "does not exist"),
    ] {
        let process = TargetProcess::PidFile { path: path.clone() };
        let err = start(
            &plan(free_port(), process, None, Duration::from_secs(1)),
            None,
        )
        .await
        .err()
        .unwrap();
        let msg = err.to_string();
        eprintln!("{msg}");
        assert!(matches!(err, TargetError::PidFile { .. }), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(expect), "{msg}");
    }
}

#[tokio::test]
async fn pid_file_with_a_live_pid_attaches() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (pid, _guard) = sleeper();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pid");
    std::fs::write(&path, format!("{pid}\n")).unwrap();
    let process = TargetProcess::PidFile { path };
    let target = start(&plan(port, process, None, Duration::from_secs(1)), None)
        .await
        .unwrap();
    assert_eq!(target.pid(), Some(pid));
}

/// A `sleep 30` owned by a [`Guard`], so it is killed (and reaped) however the test ends.
fn sleeper() -> (u32, Guard) {
    let child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id();
    let guard = Guard {
        pgid: None,
        child: Some(child),
    };
    (pid, guard)
}

#[tokio::test]
async fn a_target_attached_by_pid_file_is_followed_across_a_restart_then_reported_gone() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pid");
    let (first, first_guard) = sleeper();
    std::fs::write(&path, format!("{first}\n")).unwrap();
    let process = TargetProcess::PidFile { path: path.clone() };
    // Ready timeout 2 s: also how long a restarted target has to write its new PID.
    let mut target = start(&plan(port, process, None, Duration::from_secs(2)), None)
        .await
        .unwrap();
    let root = target
        .root_handle()
        .expect("a pid-file target can be re-attached");
    assert_eq!(root.load(Ordering::Relaxed), first);

    // A supervisor restarts the service: the old process ends, the new one writes its PID.
    drop(first_guard);
    let (second, second_guard) = sleeper();
    std::fs::write(&path, format!("{second}\n")).unwrap();
    let r = tokio::time::timeout(Duration::from_millis(1500), target.exited()).await;
    assert!(
        r.is_err(),
        "followed the restart instead of reporting an exit: {r:?}"
    );
    assert_eq!(target.pid(), Some(second));
    assert_eq!(root.load(Ordering::Relaxed), second);

    // Gone for good. The run loop drops `exited` at every tick and calls it again: the 2 s
    // wait for a new PID must still run out (a deadline restarted per call never would).
    drop(second_guard);
    let started = Instant::now();
    let mut exit = None;
    for _ in 0..30 {
        if let Ok(e) = tokio::time::timeout(Duration::from_millis(250), target.exited()).await {
            exit = Some(e);
            break;
        }
    }
    let exit = exit.expect("reported gone after the re-attach wait");
    assert!(exit.detail.contains(&second.to_string()), "{}", exit.detail);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1800), "{waited:?}");
}

#[tokio::test]
async fn no_process_target_never_reports_an_exit() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut target = start(
        &plan(port, TargetProcess::None, None, Duration::from_secs(1)),
        None,
    )
    .await
    .unwrap();
    assert_eq!(target.pid(), None);
    let r = tokio::time::timeout(Duration::from_millis(300), target.exited()).await;
    assert!(r.is_err());
    assert_eq!(target.stop(Duration::from_secs(1)).await, None);
}

#[test]
fn exit_info_describes_codes_and_signals() {
    use std::os::unix::process::ExitStatusExt;
    let code = ExitInfo::from_status(std::process::ExitStatus::from_raw(1 << 8));
    assert_eq!(
        (code.code, code.detail.as_str()),
        (Some(1), "exited with code 1")
    );
    let sig = ExitInfo::from_status(std::process::ExitStatus::from_raw(9));
    assert_eq!(sig.signal, Some(9));
    assert_eq!(sig.detail, "killed by signal 9 (SIGKILL)");
}

#[test]
fn log_tail_keeps_the_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let text: String = (0..100).map(|i| format!("l{i}\n")).collect();
    std::fs::write(&path, text).unwrap();
    assert_eq!(launch::log_tail(&path, 3), "l97\nl98\nl99");
    assert_eq!(launch::log_tail(&dir.path().join("none"), 3), "");
}
