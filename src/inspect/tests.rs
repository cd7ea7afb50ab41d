//! Real tests: Node targets from tests/targets/ started with `--inspect=127.0.0.1:0`, driven by
//! a small keep-alive HTTP loop on loopback, sampled and snapshotted over CDP, then diffed.
//! Each test stays under ~20 s; the node process is killed by a guard whatever happens.
//! These put real load on the machine: run them one at a time (nextest `soak` group).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(60);

/// A node target with its inspector; killed and reaped on drop.
struct NodeTarget {
    child: Child,
    port: u16,
    endpoint: DebuggerEndpoint,
}

impl Drop for NodeTarget {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn targets_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/targets")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Starts `node --inspect=127.0.0.1:0 tests/targets/<script>` and waits for its inspector
/// announcement and its HTTP port.
fn start(script: &str, env: &[(&str, &str)]) -> NodeTarget {
    start_with(&["--max-semi-space-size=1"], script, env)
}

/// Like [`start`] with the given node flags.
fn start_with(flags: &[&str], script: &str, env: &[(&str, &str)]) -> NodeTarget {
    let port = free_port();
    let mut command: Vec<String> = vec!["node".into()];
    command.extend(flags.iter().map(|f| f.to_string()));
    command.push(script.into());
    let command = with_inspect_flag(&command).expect("node command");
    let mut cmd = Command::new(&command[0]);
    cmd.args(&command[1..])
        .current_dir(targets_dir())
        .env("PORT", port.to_string())
        .env_remove("NODE_OPTIONS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn node (is Node.js on PATH?)");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining stderr so node never blocks on a full pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut target = NodeTarget {
        child,
        port,
        endpoint: DebuggerEndpoint {
            ws_url: String::new(),
            addr: String::new(),
            port: 0,
        },
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("node announces its inspector within 10 s");
        if let Some(ep) = parse_debugger_line(&line) {
            target.endpoint = ep;
            break;
        }
    }
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{script} did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    target
}

/// One keep-alive connection: sends GET `path`, reads one response. Returns false on failure.
fn get(conn: &mut Option<BufReader<TcpStream>>, port: u16, path: &str) -> bool {
    if conn.is_none() {
        let Ok(s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_nodelay(true);
        *conn = Some(BufReader::new(s));
    }
    let Some(r) = conn.as_mut() else {
        return false;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let ok = (|| -> std::io::Result<bool> {
        r.get_mut().write_all(req.as_bytes())?;
        let mut status = String::new();
        r.read_line(&mut status)?;
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(false);
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        Ok(status.contains(" 200 "))
    })()
    .unwrap_or(false);
    if !ok {
        *conn = None; // reconnect next time
    }
    ok
}

/// Sends requests `from..from+n` (`path(i)`) over `conc` connections; `done` counts the
/// completed ones. Bounded: each request times out after 10 s.
fn drive(
    port: u16,
    path: &(dyn Fn(u64) -> String + Sync),
    from: u64,
    n: u64,
    conc: usize,
    done: &AtomicU64,
) {
    let next = AtomicU64::new(from);
    let end = from + n;
    std::thread::scope(|s| {
        for _ in 0..conc {
            s.spawn(|| {
                let mut conn = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= end {
                        break;
                    }
                    if get(&mut conn, port, &path(i)) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
}

/// Warm-up, snapshot A, load, snapshot B, load, snapshot C; then the diff.
fn snapshot_run(
    script: &str,
    path: &(dyn Fn(u64) -> String + Sync),
    warmup: u64,
    window: u64,
) -> HeapGrowth {
    let target = start(script, &[]);
    let mut client = InspectorClient::connect(&target.endpoint.addr, CALL_TIMEOUT)
        .expect("connect to the inspector");
    let dir = tempfile::tempdir().expect("temp dir");
    let done = AtomicU64::new(0);
    let mut files = Vec::new();
    let mut counts = Vec::new();
    let mut sent = 0;
    for (label, n) in [("after-warmup", warmup), ("mid", window), ("end", window)] {
        drive(target.port, path, sent, n, 8, &done);
        sent += n;
        let file = dir.path().join(format!("{label}.heapsnapshot"));
        let t = Instant::now();
        let written = client
            .take_heap_snapshot(&file, SNAPSHOT_TIMEOUT)
            .expect("heap snapshot");
        eprintln!(
            "{script}: {label} snapshot after {} requests: {} bytes in {:?}",
            done.load(Ordering::Relaxed),
            written.bytes,
            t.elapsed()
        );
        files.push(file);
        counts.push(done.load(Ordering::Relaxed));
    }
    let labels = ["after-warmup", "mid", "end"];
    let refs: Vec<SnapshotFileRef> = (0..3)
        .map(|k| SnapshotFileRef {
            label: labels[k].to_string(),
            requests: counts[k],
            t_s: None,
            path: files[k].clone(),
        })
        .collect();
    let t = Instant::now();
    let growth = diff_files(&refs[0], &refs[1], &refs[2], &DiffOptions::default()).expect("diff");
    eprintln!("parsed and diffed in {:?}", t.elapsed());
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&growth).unwrap_or_default()
    );
    drop(target);
    growth
}

fn grower<'a>(g: &'a HeapGrowth, class: &str) -> &'a Grower {
    g.growers
        .iter()
        .find(|x| x.class == class)
        .unwrap_or_else(|| panic!("no grower {class} in {:#?}", g.growers))
}

#[test]
fn sample_reads_heap_after_a_forced_gc() {
    let target = start("clean.js", &[]);
    let mut client =
        InspectorClient::connect(&target.endpoint.addr, CALL_TIMEOUT).expect("connect");
    let s = client.sample(true).expect("sample");
    for m in METRICS {
        assert!(s.metrics.contains_key(*m), "{m} missing: {:?}", s.metrics);
    }
    assert!(s.metrics["heap_used"] > 1 << 20, "{:?}", s.metrics);
    assert!(s.metrics["heap_used"] <= s.metrics["heap_total"]);
    assert!(s.gc.is_some());
    let no_gc = client.sample(false).expect("sample");
    assert!(no_gc.gc.is_none());
    // The ws URL from the stderr line works as well as /json/list.
    let mut direct =
        InspectorClient::connect_ws(&target.endpoint.ws_url, CALL_TIMEOUT).expect("connect_ws");
    assert!(direct.heap_usage().expect("heap usage").0 > 0);
}

#[test]
fn a_dead_target_is_an_error_not_a_hang() {
    let mut target = start("clean.js", &[]);
    let mut client =
        InspectorClient::connect(&target.endpoint.addr, CALL_TIMEOUT).expect("connect");
    // SIGSTOP: the process is alive but its inspector cannot answer.
    let pid = target.child.id() as i32;
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    client.set_timeout(Duration::from_millis(500));
    let t = Instant::now();
    let r = client.sample(true);
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(matches!(r, Err(InspectError::Timeout { .. })), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    let _ = target.child.kill();
}

#[test]
fn listener_leak_snapshots_name_the_request_held_by_the_listener_array() {
    let g = snapshot_run(
        "listener-leak.js",
        &|i| format!("/process?id={i}"),
        500,
        1000,
    );
    let im = grower(&g, "IncomingMessage");
    assert!((900.0..1100.0).contains(&im.count_per_1k), "{im:?}");
    let path = im.retainer_path.as_deref().unwrap_or("");
    assert!(
        path.contains("EventEmitter._events.changed -> Array[")
            && path.ends_with("(closure).req -> IncomingMessage"),
        "{path}"
    );
    let closure = grower(&g, "(closure)");
    assert!(closure.count_per_1k >= 900.0, "{closure:?}");
    // The headline is the object the listener's closure holds directly.
    assert_eq!(
        g.headline().map(|h| h.class.as_str()),
        Some("IncomingMessage")
    );
    assert!(
        g.summary.contains("IncomingMessage is retained by"),
        "{}",
        g.summary
    );
}

#[test]
fn cache_leak_snapshots_name_the_cache_entries() {
    let g = snapshot_run(
        "cache-leak.js",
        &|i| format!("/users/{}?x={i}", i % 100),
        500,
        1000,
    );
    let obj = grower(&g, "Object");
    assert!((900.0..1100.0).contains(&obj.count_per_1k), "{obj:?}");
    let path = obj.retainer_path.as_deref().unwrap_or("");
    assert!(
        path.contains("Map.table") && path.ends_with("-> Object"),
        "{path}"
    );
}

#[test]
fn listener_fixed_shows_no_grower_above_noise() {
    let g = snapshot_run(
        "listener-fixed.js",
        &|i| format!("/process?id={i}"),
        500,
        1000,
    );
    assert!(g.growers.is_empty(), "{:#?}", g.growers);
}

#[test]
fn cache_fixed_shows_no_grower_above_noise() {
    // Unique keys: every request inserts, the LRU (max 1000) evicts, so what was born in the
    // first window is gone by the end.
    let g = snapshot_run(
        "cache-fixed.js",
        &|i| format!("/users/{}?x={i}", i % 100),
        500,
        1000,
    );
    assert!(g.growers.is_empty(), "{:#?}", g.growers);
}

/// Post-GC heap slope of tunable-leak.js (default V8 flags): `LEAK_BYTES` (default 64) per
/// request over `REQUESTS` (default 100000), sampled every 250 ms with a forced GC while the
/// load runs. Prints the Theil–Sen slope and its 95% interval at checkpoints.
/// Run: scripts/heap-slope.sh (or `cargo test --release --lib inspect::tests::heap_slope
/// -- --ignored --nocapture`).
#[test]
#[ignore = "benchmark: ~30-60 s of load"]
fn heap_slope_benchmark() {
    use crate::analysis::robust::theil_sen;
    let env_num = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let leak = env_num("LEAK_BYTES", 64);
    let total = env_num("REQUESTS", 100_000).clamp(1000, 1_000_000);
    let conc = env_num("CONC", 8).clamp(1, 64) as usize;
    let leak_s = leak.to_string();
    let target = start_with(&[], "tunable-leak.js", &[("LEAK_BYTES", leak_s.as_str())]);
    let mut client =
        InspectorClient::connect(&target.endpoint.addr, CALL_TIMEOUT).expect("connect");
    let warm = AtomicU64::new(0);
    drive(target.port, &|_| "/work".to_string(), 0, 2000, conc, &warm);
    let done = AtomicU64::new(0);
    let finished = std::sync::atomic::AtomicBool::new(false);
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut gcs: Vec<Duration> = Vec::new();
    let started = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| {
            drive(target.port, &|_| "/work".to_string(), 0, total, conc, &done);
            finished.store(true, Ordering::Relaxed);
        });
        loop {
            let last = finished.load(Ordering::Relaxed);
            let r = done.load(Ordering::Relaxed);
            let sample = client.sample(true).expect("sample");
            gcs.extend(sample.gc);
            points.push((r as f64, sample.metrics["heap_used"] as f64));
            if last || started.elapsed() > Duration::from_secs(300) {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let secs = started.elapsed().as_secs_f64();
    gcs.sort();
    eprintln!(
        "tunable-leak LEAK_BYTES={leak}: {} requests in {secs:.1} s ({:.0}/s), {} samples; \
         forced GC median {:?}, max {:?}",
        done.load(Ordering::Relaxed),
        done.load(Ordering::Relaxed) as f64 / secs,
        points.len(),
        gcs.get(gcs.len() / 2).copied().unwrap_or_default(),
        gcs.last().copied().unwrap_or_default(),
    );
    let mut detected_at = None;
    let mut checkpoints = vec![5_000, 10_000, 20_000, 30_000, 50_000, 75_000, 100_000];
    checkpoints.retain(|c| *c < total);
    checkpoints.push(total);
    for checkpoint in checkpoints {
        let upto: Vec<&(f64, f64)> = points.iter().filter(|p| p.0 <= checkpoint as f64).collect();
        let x: Vec<f64> = upto.iter().map(|p| p.0).collect();
        let y: Vec<f64> = upto.iter().map(|p| p.1).collect();
        if let Some(fit) = theil_sen(&x, &y, 0.95, 1.0) {
            eprintln!(
                "  first {checkpoint:>7} requests ({:>3} samples): {:.1} B/request (95% CI {:.1} .. {:.1})",
                x.len(),
                fit.slope,
                fit.low,
                fit.high
            );
            // Detected: the whole interval above half the leak (and above heap noise).
            if detected_at.is_none() && leak > 0 && fit.low > (leak as f64 / 2.0).max(16.0) {
                detected_at = Some(checkpoint);
            }
        }
    }
    eprintln!("  detected (95% interval above half the leak and 16 B) by {detected_at:?} requests");
    if leak > 0 {
        assert!(
            detected_at.is_some_and(|n| n <= 100_000),
            "not detected within 100k requests"
        );
    }
}
