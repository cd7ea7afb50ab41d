//! Memory sources beyond `process`: Prometheus and JSON endpoints of a real target
//! (tests/targets/metrics-server.js), a cgroup, and restart detection under a supervisor
//! (tests/targets/supervisor.js). The `soak_` tests put real (light, 100-200/s) load on the
//! machine and belong in the nextest `soak` group.

use std::time::Duration;

use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, num, read_json, soak_lock, spawn_env, target, text,
    Outcome, Workdir,
};

const LIMIT: Duration = Duration::from_secs(60);

fn run(work: &Workdir, yaml: &str, verb: &str) -> Outcome {
    run_env(work, yaml, verb, &[])
}

/// [`run`] with extra environment variables for leakhound.
fn run_env(work: &Workdir, yaml: &str, verb: &str, env: &[(&str, String)]) -> Outcome {
    let file = work.scenario("scenario.yaml", yaml);
    let mut a = args([verb, &file.display().to_string()]);
    if verb == "run" {
        a.extend(args([
            "--out",
            &work.out().display().to_string(),
            "--no-progress",
        ]));
    }
    spawn_env(&a, env).wait(LIMIT)
}

/// Ticks after `from_s` whose `source`.`metric` reading is a positive number, and all ticks
/// after `from_s`.
fn ticks_read(r: &Value, source: &str, metric: &str, from_s: f64) -> (usize, usize) {
    let ticks: Vec<&Value> = r["timeline"]["ticks"]
        .as_array()
        .expect("ticks")
        .iter()
        .filter(|t| t["memory"]["t_s"].as_f64().is_some_and(|t| t > from_s))
        .collect();
    let read = ticks
        .iter()
        .filter(|t| t["memory"]["readings"][source][metric].as_u64() > Some(0))
        .count();
    (read, ticks.len())
}

fn run_json(work: &Workdir, out: &Outcome) -> Value {
    read_json(&work.out().join("run.json"), out)
}

fn events(summary: &Value) -> Vec<Value> {
    summary["events"].as_array().cloned().unwrap_or_default()
}

/// A scenario launching metrics-server.js (directly or under supervisor.js) on `port`.
fn metrics_yaml(port: u16, work: &Workdir, command: &str, env: &str, memory: &str) -> String {
    format!(
        "\
name: sources
target:
  base_url: http://127.0.0.1:{port}
  command: {command}
  env: {{PORT: \"{port}\", PID_FILE: \"{pid_file}\"{env}}}
  ready: {{path: /health, timeout: 10s}}
{memory}",
        pid_file = work.pid_file().display(),
    )
}

#[test]
fn soak_prometheus_and_json_sources_are_recorded_and_judged() {
    let _lock = soak_lock();
    let work = Workdir::new();
    let port = free_port();
    let command = format!("[node, \"{}\"]", target("metrics-server.js").display());
    let yaml = metrics_yaml(
        port,
        &work,
        &command,
        "",
        &format!(
            "\
memory:
  interval: 250ms
  metric: nodejs_external_memory_bytes
  sources:
    - process
    - prometheus:
        url: http://127.0.0.1:{port}/metrics
        series: [process_resident_memory_bytes, nodejs_external_memory_bytes, leak_retained_bytes]
    - json: {{url: 'http://127.0.0.1:{port}/memory', pointer: /memory/heapUsed, name: heap_used}}
load:
  timeout: 2s
  phases:
    - {{name: warmup, duration: 2s, rate: 200}}
    - {{name: soak, duration: 7s, rate: 200}}
requests:
  - name: leak
    path: /leak?id={{{{seq}}}}
thresholds:
  leak_per_request: 1KiB
"
        ),
    );
    let out = run(&work, &yaml, "run");
    assert_target_stopped(&work);
    let s = work.summary(&out);
    let ctx = format!("{s:#}\n{}", out.output());
    assert_eq!(out.code, Some(1), "a leak fails the threshold: {ctx}");
    assert_eq!(
        text(&s, &["memory", "metric"]),
        "nodejs_external_memory_bytes"
    );
    assert_eq!(text(&s, &["leak", "verdict"]), "leak", "{ctx}");
    // Each /leak keeps an 8 KiB Buffer: external memory grows ~8 KiB per request.
    let per_req = num(&s, &["leak", "bytes_per_request", "estimate"]);
    assert!(
        (6_000.0..12_000.0).contains(&per_req),
        "{per_req} B/request\n{ctx}"
    );

    let r = run_json(&work, &out);
    let ticks = r["timeline"]["ticks"].as_array().expect("ticks");
    let with_all: Vec<&Value> = ticks
        .iter()
        .filter(|t| {
            let rd = &t["memory"]["readings"];
            rd["process"]["rss_anon"].is_u64()
                && rd["prometheus"]["process_resident_memory_bytes"].is_u64()
                && rd["prometheus"]["leak_retained_bytes"].is_u64()
                && rd["json"]["heap_used"].is_u64()
        })
        .collect();
    assert!(
        with_all.len() + 2 >= ticks.len() && ticks.len() >= 30,
        "{} of {} ticks have every source\n{ctx}",
        with_all.len(),
        ticks.len()
    );
    // leak_retained_bytes is exact: 8192 per completed /leak, read just after the stamp.
    let last = with_all.last().expect("a tick");
    let retained = last["memory"]["readings"]["prometheus"]["leak_retained_bytes"]
        .as_f64()
        .unwrap_or(0.0);
    let stamped = last["memory"]["requests"].as_f64().unwrap_or(0.0);
    assert!(
        retained >= stamped * 8192.0 && retained <= (stamped + 400.0) * 8192.0,
        "retained {retained} B for {stamped} requests"
    );
    assert!(
        !events(&s)
            .iter()
            .any(|e| text(e, &["kind"]) == "sample_failed"),
        "{ctx}"
    );
}

#[test]
fn soak_a_supervised_target_that_crashes_is_a_restart_and_the_run_completes() {
    let _lock = soak_lock();
    let work = Workdir::new();
    let port = free_port();
    let command = format!(
        "[node, \"{}\", \"{}\"]",
        target("supervisor.js").display(),
        target("metrics-server.js").display()
    );
    // The child holds 48 MiB so it is clearly the largest process of the tree; it crashes
    // 4 s after each start, and the supervisor restarts it after 300 ms.
    let yaml = metrics_yaml(
        port,
        &work,
        &command,
        ", BALLAST_MB: \"48\", CRASH_AFTER_MS: \"4000\", MAX_RESTARTS: \"5\"",
        &format!(
            "\
memory:
  interval: 250ms
  metric: rss_anon
  sources:
    - process
    - prometheus: {{url: 'http://127.0.0.1:{port}/metrics', series: [process_resident_memory_bytes]}}
load:
  timeout: 1s
  phases:
    - {{name: soak, duration: 10s, rate: 100}}
requests:
  - name: ok
    path: /ok?id={{{{seq}}}}
"
        ),
    );
    let out = run(&work, &yaml, "run");
    assert_target_stopped(&work);
    let s = work.summary(&out);
    let ctx = format!("{s:#}\n{}", out.output());
    assert_eq!(out.code, Some(0), "{ctx}");
    assert_eq!(s["completed"], Value::Bool(true), "{ctx}");
    let restarts: Vec<Value> = events(&s)
        .into_iter()
        .filter(|e| text(e, &["kind"]) == "restart")
        .collect();
    assert!(
        (1..=3).contains(&restarts.len()),
        "expected 1-3 restarts in 10 s (crash every ~4.3 s): {ctx}"
    );
    let first = &restarts[0];
    assert!(num(first, &["t_s"]) > 3.0, "{ctx}");
    assert!(num(first, &["requests"]) > 100.0, "{ctx}");
    let detail = text(first, &["detail"]);
    assert!(detail.contains("memory just before: rss_anon"), "{detail}");
    // Memory from before the last restart is not judged, and the verdict says so.
    let reason = text(&s, &["leak", "reason"]);
    assert!(reason.contains("the target restarted"), "{reason}");
    for f in [
        "report.html",
        "summary.json",
        "run.json",
        "summary.md",
        "junit.xml",
    ] {
        assert!(work.out().join(f).is_file(), "{f} missing\n{ctx}");
    }
    // Sampling went on after the restart.
    let r = run_json(&work, &out);
    let t0 = num(first, &["t_s"]);
    let (after, _) = ticks_read(&r, "process", "rss_anon", t0 + 1.0);
    assert!(after >= 4, "{after} samples after the restart\n{ctx}");
}

/// The memory cgroup directory of the test's own process (v2, or the v1 memory controller on
/// hybrid hosts), if it offers memory accounting; why not otherwise.
fn own_cgroup() -> Result<std::path::PathBuf, String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    // (controller line predicate, mountinfo predicate, usage file)
    let v2 = (
        text.lines().find_map(|l| l.strip_prefix("0::")),
        mounts.lines().find(|l| l.contains(" - cgroup2 ")),
        "memory.current",
    );
    let v1 = (
        text.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, rel) = (f.next()?, f.next()?, f.next()?);
            ctl.split(',').any(|c| c == "memory").then_some(rel)
        }),
        mounts
            .lines()
            .find(|l| l.contains(" - cgroup ") && l.ends_with(",memory")),
        "memory.usage_in_bytes",
    );
    let mut tried = Vec::new();
    for (rel, mount, file) in [v2, v1] {
        let (Some(rel), Some(line)) = (rel, mount) else {
            continue;
        };
        let mut f = line.split_whitespace();
        let (Some(root), Some(mount)) = (f.nth(3), f.next()) else {
            continue;
        };
        let rel = rel
            .trim()
            .strip_prefix(root)
            .filter(|_| root != "/")
            .unwrap_or(rel.trim());
        let dir = std::path::Path::new(mount).join(rel.trim_start_matches('/'));
        if dir.join(file).is_file() {
            return Ok(dir);
        }
        tried.push(format!("{} has no {file}", dir.display()));
    }
    Err(format!("no memory cgroup found ({})", tried.join("; ")))
}

/// True when a process can be moved into cgroup `dir` (tried with a short-lived `sleep`).
fn can_move_into(dir: &std::path::Path) -> bool {
    let Ok(mut child) = std::process::Command::new("sleep").arg("5").spawn() else {
        return false;
    };
    let moved = std::fs::write(dir.join("cgroup.procs"), child.id().to_string()).is_ok();
    let _ = child.kill();
    let _ = child.wait();
    moved
}

#[test]
fn cgroup_source_reads_the_targets_own_cgroup_or_says_why_not() {
    let work = Workdir::new();
    let port = free_port();
    let command = format!("[node, \"{}\"]", target("metrics-server.js").display());
    let yaml = metrics_yaml(
        port,
        &work,
        &command,
        "",
        "\
memory:
  interval: 250ms
  sources: [process, cgroup]
load:
  timeout: 1s
  phases:
    - {name: soak, duration: 2s, rate: 50}
requests:
  - name: ok
    path: /ok
",
    );
    let out = run(&work, &yaml, "run");
    assert_target_stopped(&work);
    match own_cgroup() {
        Ok(dir) => {
            assert_eq!(out.code, Some(0), "{}", out.output());
            let r = run_json(&work, &out);
            let (read, ticks) = ticks_read(&r, "cgroup", "cgroup_current", f64::NEG_INFINITY);
            assert!(
                ticks >= 5 && read + 1 >= ticks,
                "{read} of {ticks} ticks ({})",
                dir.display()
            );
        }
        Err(why) => {
            eprintln!("SKIPPED the cgroup reading check: {why}. Checking the error path instead.");
            // The run must stop before load with exit 3 and say why the cgroup is unusable.
            assert_eq!(out.code, Some(3), "{}", out.output());
            let s = work.summary(&out);
            let detail = events(&s)
                .iter()
                .map(|e| text(e, &["detail"]).to_string())
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                detail.contains("memory source `cgroup`"),
                "{detail}\n{}",
                out.output()
            );
        }
    }
}

#[test]
fn cgroup_source_reads_a_created_cgroup_when_permitted() {
    let Ok(parent) = own_cgroup() else {
        eprintln!(
            "SKIPPED: this machine has no cgroup v2 memory controller for this process ({}), so \
             no cgroup can be created to read",
            own_cgroup().err().unwrap_or_default()
        );
        return;
    };
    let dir = parent.join(format!("leakhound-test-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir(&dir) {
        eprintln!("SKIPPED: cannot create a cgroup at {}: {e}", dir.display());
        return;
    }
    let work = Workdir::new();
    let port = free_port();
    // Start the target inside the new cgroup when this machine allows moving a process there;
    // otherwise read the (empty) cgroup as it is.
    let inside = can_move_into(&dir);
    let script = target("metrics-server.js").display().to_string();
    let command = if inside {
        format!(
            "[sh, -c, 'echo $$ > \"{}/cgroup.procs\" && exec node \"{script}\"']",
            dir.display()
        )
    } else {
        eprintln!(
            "note: cannot move a process into {}; reading it empty",
            dir.display()
        );
        format!("[node, \"{script}\"]")
    };
    let yaml = metrics_yaml(
        port,
        &work,
        &command,
        "",
        &format!(
            "\
memory:
  interval: 250ms
  metric: cgroup_current
  sources: [process, {{cgroup: {{path: '{}'}}}}]
load:
  phases:
    - {{name: soak, duration: 1s, rate: 20}}
requests:
  - path: /ok
",
            dir.display()
        ),
    );
    let out = run(&work, &yaml, "run");
    assert_target_stopped(&work);
    // The target is gone, so the cgroup is empty again and can be removed (bounded retries).
    for _ in 0..20 {
        if std::fs::remove_dir(&dir).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(out.code, Some(0), "{}", out.output());
    let r = run_json(&work, &out);
    let ticks = r["timeline"]["ticks"].as_array().expect("ticks");
    let current: Vec<u64> = ticks
        .iter()
        .filter_map(|t| t["memory"]["readings"]["cgroup"]["cgroup_current"].as_u64())
        .collect();
    assert_eq!(
        current.len(),
        ticks.len(),
        "every tick reads the cgroup: {r:#}"
    );
    if inside {
        // A Node server holds well over 4 MiB.
        assert!(current.iter().all(|&b| b > 4 << 20), "{current:?}");
    }
    eprintln!(
        "cgroup {} read on {} ticks (target inside: {inside}): {:?} bytes",
        dir.display(),
        current.len(),
        current.iter().take(3).collect::<Vec<_>>()
    );
}

#[test]
fn validate_lists_sources_and_bad_sources_exit_2_with_the_line() {
    let work = Workdir::new();
    let base = "\
name: v
target:
  base_url: http://10.1.2.3:3000
load:
  phases:
    - {name: soak, duration: 1m, rate: 10}
requests:
  - path: /
memory:
";
    let good = format!(
        "{base}  metric: heap_used
  sources:
    - prometheus: {{url: 'http://10.1.2.3:9464/metrics', series: [process_resident_memory_bytes]}}
    - json: {{url: 'http://10.1.2.3:3000/stats', pointer: /memory/heapUsed, name: heap_used}}
"
    );
    let out = run(&work, &good, "validate");
    assert_eq!(out.code, Some(0), "{}", out.output());
    assert!(
        out.stdout.contains(
            "prometheus  GET http://10.1.2.3:9464/metrics: process_resident_memory_bytes"
        ) && out
            .stdout
            .contains("json        GET http://10.1.2.3:3000/stats at /memory/heapUsed: heap_used")
            && out
                .stdout
                .contains("heap_used (the verdict is judged on it)"),
        "{}",
        out.output()
    );
    let bad = format!(
        "{base}  sources:\n    - prometheus: {{url: 'http://10.1.2.3:9464/metrics', series: [rss-bytes]}}\n"
    );
    let out = run(&work, &bad, "validate");
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains(":11:66:")
            && out.stderr.contains("memory.sources[0].prometheus.series[0]: `rss-bytes` is not a Prometheus series name"),
        "{}",
        out.output()
    );
}

#[test]
fn an_unreachable_metrics_endpoint_stops_the_run_before_load() {
    let work = Workdir::new();
    let port = free_port();
    let dead = free_port();
    let command = format!("[node, \"{}\"]", target("metrics-server.js").display());
    let yaml = metrics_yaml(
        port,
        &work,
        &command,
        "",
        &format!(
            "\
memory:
  sources: [process, {{prometheus: {{url: 'http://127.0.0.1:{dead}/metrics', series: [a_bytes]}}}}]
load:
  phases:
    - {{name: soak, duration: 5s, rate: 20}}
requests:
  - path: /ok
"
        ),
    );
    let out = run(&work, &yaml, "run");
    assert_target_stopped(&work);
    assert_eq!(out.code, Some(3), "{}", out.output());
    let s = work.summary(&out);
    let all = format!("{s}{}", out.output());
    assert!(
        all.contains("memory source `prometheus`") && all.contains("connection refused"),
        "{all}"
    );
    assert_eq!(
        s["requests"]["sent"].as_u64(),
        Some(0),
        "no load was sent: {all}"
    );
}

/// A `docker` stand-in first on PATH that answers `docker inspect --format {{.State.Pid}} --
/// NAME` as the real CLI does: `pid` for the container `api`, the daemon's error otherwise.
/// There is no docker daemon on the test machines; everything after the PID (its cgroup, the
/// files read every sample) is real.
fn docker_stand_in(work: &Workdir, pid: u32) -> Vec<(&'static str, String)> {
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let script = bin.join("docker");
    let body = format!(
        "#!/bin/sh\n\
         for last; do :; done\n\
         if [ \"$1\" = inspect ] && [ \"$last\" = api ]; then echo {pid}; exit 0; fi\n\
         echo \"Error response from daemon: No such container: $last\" >&2\n\
         exit 1\n"
    );
    std::fs::write(&script, body).expect("write docker stand-in");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = std::env::var("PATH").unwrap_or_default();
    vec![("PATH", format!("{}:{path}", bin.display()))]
}

fn docker_yaml(port: u16, work: &Workdir, container: &str) -> String {
    let command = format!("[node, \"{}\"]", target("metrics-server.js").display());
    metrics_yaml(
        port,
        work,
        &command,
        "",
        &format!(
            "\
memory:
  interval: 250ms
  sources: [process, {{docker: {{container: {container}}}}}]
load:
  timeout: 1s
  phases:
    - {{name: soak, duration: 2s, rate: 50}}
requests:
  - name: ok
    path: /ok
"
        ),
    )
}

#[test]
fn docker_source_reads_the_containers_cgroup_found_through_docker_inspect() {
    let work = Workdir::new();
    // The "container": a real process of this machine, in this test's own cgroup.
    let mut holder = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .expect("spawn sleep");
    let env = docker_stand_in(&work, holder.id());
    let yaml = docker_yaml(free_port(), &work, "api");
    let out = run_env(&work, &yaml, "run", &env);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_target_stopped(&work);
    match own_cgroup() {
        Ok(_) => {
            assert_eq!(out.code, Some(0), "{}", out.output());
            let r = run_json(&work, &out);
            let (read, ticks) = ticks_read(&r, "docker", "docker_current", f64::NEG_INFINITY);
            assert!(ticks >= 5 && read + 1 >= ticks, "{read} of {ticks} ticks");
        }
        Err(why) => {
            eprintln!("SKIPPED the docker reading check: {why}. Checking the error path instead.");
            assert_eq!(out.code, Some(3), "{}", out.output());
        }
    }
}

#[test]
fn docker_source_for_a_missing_container_stops_before_load_with_the_daemons_answer() {
    let work = Workdir::new();
    let env = docker_stand_in(&work, 1);
    let yaml = docker_yaml(free_port(), &work, "nope");
    let out = run_env(&work, &yaml, "run", &env);
    assert_target_stopped(&work);
    assert_eq!(out.code, Some(3), "{}", out.output());
    let o = out.output();
    assert!(
        o.contains("docker inspect nope") && o.contains("No such container: nope"),
        "{o}"
    );
}

/// Kills a process group when dropped, however the test ends.
struct GroupGuard(u32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
        unsafe {
            libc::kill(-(self.0 as i32), libc::SIGKILL);
        }
    }
}

#[test]
fn soak_a_target_attached_by_pid_file_is_followed_across_restarts() {
    use std::os::unix::process::CommandExt;
    let _lock = soak_lock();
    let work = Workdir::new();
    let port = free_port();
    let pid_file = work.path().join("service.pid");
    // A service started outside leakhound by a shell loop (a stand-in for systemd or pm2):
    // metrics-server.js writes its PID to the pid file at each start and crashes after 4 s.
    let mut service = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "i=0; while [ $i -lt 4 ]; do node '{}'; i=$((i+1)); sleep 0.3; done",
            target("metrics-server.js").display()
        ))
        .env("PORT", port.to_string())
        .env("PID_FILE", &pid_file)
        .env("CRASH_AFTER_MS", "4000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn the service loop");
    let _group = GroupGuard(service.id());
    let waited = std::time::Instant::now();
    while !pid_file.exists() && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let yaml = format!(
        "\
name: attached
target:
  base_url: http://127.0.0.1:{port}
  pid_file: {}
  ready: {{path: /health, timeout: 5s}}
memory:
  interval: 250ms
  sources: [process]
load:
  timeout: 1s
  phases:
    - {{name: soak, duration: 10s, rate: 100}}
requests:
  - name: ok
    path: /ok?id={{{{seq}}}}
",
        pid_file.display()
    );
    let out = run(&work, &yaml, "run");
    let _ = service.kill();
    let _ = service.wait();
    let s = work.summary(&out);
    let ctx = format!("{s:#}\n{}", out.output());
    // Not exit 3 (target gone): the run followed the restarted service to the end.
    assert_eq!(out.code, Some(0), "{ctx}");
    assert_eq!(s["completed"], Value::Bool(true), "{ctx}");
    let restarts: Vec<Value> = events(&s)
        .into_iter()
        .filter(|e| text(e, &["kind"]) == "restart")
        .collect();
    assert!(!restarts.is_empty(), "no restart event: {ctx}");
    let t0 = num(&restarts[0], &["t_s"]);
    let r = run_json(&work, &out);
    let (after, _) = ticks_read(&r, "process", "rss_anon", t0 + 0.5);
    assert!(after >= 4, "{after} samples of the new process\n{ctx}");
}
