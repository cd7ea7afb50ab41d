//! The parsers on real trace lines (captured from node 20 `--trace-gc-nvp` and `--trace-gc`,
//! OpenJDK 17 `-Xlog:gc` / `-Xlog:gc*` with G1, Parallel, Serial, ZGC and Shenandoah, and go
//! 1.19 `GODEBUG=gctrace=1`; see testdata/), the file follower, the source, and the trace
//! switch.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use super::launch::{is_go_binary, with_gc_trace, write_preload, NodeHooks, NODE_FLAG};
use super::*;
use crate::scenario::TargetProcess;

const MIB: u64 = 1 << 20;

fn parse(text: &str, runtime: Option<GcRuntime>) -> Vec<GcSample> {
    let mut p = GcParser::new(runtime);
    text.lines().filter_map(|l| p.line(l)).collect()
}

/// (major, heap_after in MiB) of each sample.
fn shape(samples: &[GcSample]) -> Vec<(bool, u64)> {
    samples
        .iter()
        .map(|g| (g.major, g.heap_after / MIB))
        .collect()
}

#[test]
fn node_nvp_lines_give_exact_bytes_and_mark_compacts_are_major() {
    let s = parse(include_str!("testdata/node-nvp.log"), None);
    assert_eq!(s.len(), 4, "{s:?}");
    assert_eq!(
        s.iter().map(|g| g.major).collect::<Vec<_>>(),
        [false, false, true, true]
    );
    assert_eq!(s[2].heap_after, 102_225_432);
    assert_eq!(s[2].heap_before, Some(107_801_392));
    assert_eq!((s[2].pause_ms, s[3].pause_ms), (5.0, 421.8));
    assert_eq!(s[3].heap_after, 291_518_976);
    // The same lines are no JVM's or Go's.
    assert!(parse(include_str!("testdata/node-nvp.log"), Some(GcRuntime::Jvm)).is_empty());
    assert!(parse(include_str!("testdata/node-nvp.log"), Some(GcRuntime::Go)).is_empty());
}

#[test]
fn node_trace_gc_lines_are_read_too() {
    let s = parse(
        include_str!("testdata/node-trace-gc.log"),
        Some(GcRuntime::Node),
    );
    assert_eq!(shape(&s), [(false, 3), (true, 86), (true, 186)]);
    assert_eq!(s[1].heap_after, (86.1 * MIB as f64) as u64);
    assert_eq!((s[1].pause_ms, s[2].pause_ms), (12.5, 219.2));
}

#[test]
fn go_cycles_are_all_major_with_the_live_heap_and_both_pauses() {
    let s = parse(include_str!("testdata/go-gctrace.log"), None);
    assert_eq!(
        shape(&s),
        [
            (true, 3),
            (true, 7),
            (true, 13),
            (true, 27),
            (true, 55),
            (true, 60)
        ]
    );
    assert_eq!(s[4].heap_before, Some(50 * MIB));
    // 0.041+0.96+0.001 ms clock: the first and last phases stop the world.
    assert!((s[3].pause_ms - 0.042).abs() < 1e-9, "{}", s[3].pause_ms);
    assert!(parse(
        include_str!("testdata/go-gctrace.log"),
        Some(GcRuntime::Node)
    )
    .is_empty());
}

#[test]
fn g1_majors_are_full_gcs_and_the_young_pause_after_a_mark_cycle() {
    let s = parse(include_str!("testdata/jvm-g1.log"), None);
    let majors: Vec<u64> = s
        .iter()
        .filter(|g| g.major)
        .map(|g| g.heap_after / MIB)
        .collect();
    // GC(31) after cycle 25; GC(44) the full GC (cycle 41, which it aborted, arms nothing);
    // GC(181), the first young pause after cycle 171's mixed collections.
    assert_eq!(majors, [34, 45, 182]);
    // Every pause with heap figures is a sample (Remark and Cleanup too); the rest is not.
    assert_eq!(s.len(), 28, "{:?}", shape(&s));
    let full = s.iter().find(|g| g.heap_after == 45 * MIB).unwrap();
    assert_eq!((full.heap_before, full.pause_ms), (Some(50 * MIB), 18.352));
}

#[test]
fn parallel_serial_zgc_and_shenandoah_lines() {
    let s = parse(include_str!("testdata/jvm-parallel-serial.log"), None);
    assert_eq!(shape(&s), [(false, 3), (false, 7), (true, 32), (false, 4)]);
    let s = parse(
        include_str!("testdata/jvm-zgc-shenandoah.log"),
        Some(GcRuntime::Jvm),
    );
    assert_eq!(
        shape(&s),
        [(true, 8), (true, 12), (true, 14), (true, 11), (true, 17)]
    );
    // ZGC's pauses come on their own lines under -Xlog:gc*; Shenandoah's on the cycle's.
    let pauses: Vec<f64> = s.iter().map(|g| (g.pause_ms * 1000.0).round()).collect();
    assert_eq!(pauses, [0.0, 0.0, 32.0, 216.0, 13.0]);
}

#[test]
fn only_the_summary_lines_of_gc_star_count() {
    let s = parse(include_str!("testdata/jvm-gc-star.log"), None);
    assert_eq!(shape(&s), [(false, 6), (false, 8)]);
    assert_eq!(s[1].pause_ms, 6.396);
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn lines(f: &mut tail::LogFollower) -> Vec<String> {
    let mut out = Vec::new();
    f.read_lines(|l| out.push(l.to_string())).unwrap();
    out
}

#[test]
fn the_follower_waits_for_whole_lines_and_survives_truncation_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gc.log");
    append(&path, "old line\n");
    let mut f = tail::LogFollower::open(&path, None).unwrap();
    assert!(lines(&mut f).is_empty(), "starts at the end");
    append(&path, "one\ntw");
    assert_eq!(lines(&mut f), ["one"]);
    append(&path, "o\n");
    assert_eq!(lines(&mut f), ["two"]);
    // Truncated in place (copytruncate), then written again.
    std::fs::write(&path, "three\n").unwrap();
    assert_eq!(lines(&mut f), ["three"]);
    // Rotated: the old file's last lines, then the new file from its start.
    append(&path, "four\n");
    std::fs::rename(&path, dir.path().join("gc.log.0")).unwrap();
    append(&path, "five\n");
    assert_eq!(lines(&mut f), ["four", "five"]);
    // An endless line is dropped, the next one read.
    append(&path, &"x".repeat(200 << 10));
    append(&path, "\nsix\n");
    assert_eq!(lines(&mut f), ["six"]);
    let mut from_start = tail::LogFollower::open(&path, Some(0)).unwrap();
    assert_eq!(
        lines(&mut from_start).last().map(String::as_str),
        Some("six")
    );
}

#[test]
fn the_source_reports_the_last_major_heap_and_hands_over_every_collection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.log");
    append(&path, "before the run\n");
    let mut src = GcLogSource::open(&path, Some(0), None).unwrap();
    append(&path, include_str!("testdata/node-nvp.log"));
    let r = src.sample().unwrap();
    assert_eq!(r.metrics.get(METRIC), Some(&291_518_976));
    assert_eq!(src.take_gc().len(), 4);
    assert!(src.take_gc().is_empty(), "taken once");
    // A tick without a major collection has no reading.
    let minor = include_str!("testdata/node-nvp.log")
        .lines()
        .nth(1)
        .unwrap();
    append(&path, &format!("{minor}\n"));
    assert!(src.sample().unwrap().metrics.is_empty());
    assert_eq!(src.take_gc().len(), 1);
    let e = GcLogSource::open(&dir.path().join("missing.log"), None, None)
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing.log"), "{e}");
}

fn launch(command: &[&str], env: &[(&str, &str)]) -> TargetProcess {
    TargetProcess::Launch {
        command: command.iter().map(|s| s.to_string()).collect(),
        cwd: None,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

fn launched(p: &TargetProcess) -> (Vec<String>, BTreeMap<String, String>) {
    match p {
        TargetProcess::Launch { command, env, .. } => (command.clone(), env.clone()),
        _ => panic!("not launched: {p:?}"),
    }
}

/// No preload, nothing forced: the trace switches alone.
const PLAIN: NodeHooks = NodeHooks {
    preload: None,
    force_every_ms: None,
};

#[test]
fn the_trace_is_switched_on_once_where_each_runtime_reads_it() {
    let with_gc_trace = |p: &TargetProcess, r| with_gc_trace(p, r, &PLAIN);
    let t = with_gc_trace(
        &launch(&["node", "--max-old-space-size=64", "s.js"], &[]),
        None,
    );
    assert_eq!(
        launched(&t.process).0,
        ["node", NODE_FLAG, "--max-old-space-size=64", "s.js"]
    );
    assert!(t.warnings.is_empty());
    // Already tracing: unchanged (a script argument is not node's).
    let given = launch(&["node", "--trace-gc", "s.js", "--trace-gc-nvp"], &[]);
    assert_eq!(with_gc_trace(&given, None).process, given);
    let t = with_gc_trace(&launch(&["java", "-jar", "app.jar"], &[]), None);
    assert_eq!(
        launched(&t.process).0,
        ["java", "-Xlog:gc", "-jar", "app.jar"]
    );
    let given = launch(&["java", "-Xlog:gc*:file=gc.log", "-jar", "a.jar"], &[]);
    assert_eq!(with_gc_trace(&given, None).process, given);
    // A wrapper gets what env can carry; a Go setting joins the ones there.
    let t = with_gc_trace(
        &launch(&["sh", "-c", "./api"], &[("GODEBUG", "madvdontneed=1")]),
        None,
    );
    let env = launched(&t.process).1;
    assert_eq!(env["GODEBUG"], "madvdontneed=1,gctrace=1");
    assert_eq!(env["JAVA_TOOL_OPTIONS"], "-Xlog:gc");
    let t = with_gc_trace(&launch(&["./api"], &[]), Some(GcRuntime::Go));
    assert_eq!(launched(&t.process).1.len(), 1, "only GODEBUG");
    // Attached targets are left alone.
    let pid = TargetProcess::Pid { pid: 1 };
    assert_eq!(with_gc_trace(&pid, None).process, pid);
}

#[test]
fn launchers_and_forced_collections_go_through_the_preload() {
    // Why a launcher needs the preload (node 20): the flag itself is refused, exit 9.
    let out = std::process::Command::new("node")
        .args(["-e", "0"])
        .env("NODE_OPTIONS", NODE_FLAG)
        .output()
        .expect("node on PATH");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not allowed in NODE_OPTIONS"),
        "node accepted {NODE_FLAG} in NODE_OPTIONS ({:?}, {err}): the preload is not needed",
        out.status
    );
    let hooks = NodeHooks {
        preload: Some("/runs/a b/leakhound-preload.js".into()),
        force_every_ms: Some(1500),
    };
    let npm = launch(
        &["npm", "start"],
        &[("NODE_OPTIONS", "--max-old-space-size=64")],
    );
    let (command, env) = launched(&with_gc_trace(&npm, None, &hooks).process);
    assert_eq!(command, ["npm", "start"]);
    assert_eq!(
        env["NODE_OPTIONS"],
        "--max-old-space-size=64 --require \"/runs/a b/leakhound-preload.js\""
    );
    assert_eq!(
        (
            env["LEAKHOUND_GC_TRACE"].as_str(),
            env["LEAKHOUND_FORCE_GC_MS"].as_str()
        ),
        ("1", "1500")
    );
    // node itself: the flag on its command line, the preload only to force.
    let (command, env) =
        launched(&with_gc_trace(&launch(&["node", "s.js"], &[]), None, &hooks).process);
    assert_eq!(command, ["node", NODE_FLAG, "s.js"]);
    assert!(!env.contains_key("LEAKHOUND_GC_TRACE") && env.contains_key("NODE_OPTIONS"));
    // No preload to give: a warning, and nothing that names a missing file.
    let t = with_gc_trace(&npm, None, &PLAIN);
    assert_eq!(t.process, npm);
    assert!(
        t.warnings[0].contains("no GC trace under a launcher"),
        "{:?}",
        t.warnings
    );
}

#[test]
fn the_preload_traces_and_forces_full_collections_in_a_real_node() {
    let dir = tempfile::tempdir().expect("temp dir");
    let preload = write_preload(dir.path()).expect("preload written");
    // 1.2 s of a program that allocates little: V8 runs no full collection of its own.
    let out = std::process::Command::new("node")
        .args(["-e", "const t = setInterval(() => [1, 2, 3].map(String), 10); setTimeout(() => clearInterval(t), 1200)"])
        .env("NODE_OPTIONS", format!("--require \"{}\"", preload.display()))
        .env("LEAKHOUND_GC_TRACE", "1")
        .env("LEAKHOUND_FORCE_GC_MS", "200")
        .output()
        .expect("node on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let majors = majors_in(&text, GcRuntime::Node);
    assert!(
        (3..=7).contains(&majors),
        "{majors} full collections in 1.2 s at one per 200 ms:\n{text}"
    );
}

#[test]
fn go_binaries_are_told_by_their_build_id_note() {
    let which = |p: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(p))
            .find(|p| p.is_file())
    };
    let node = which("node").expect("node on PATH");
    assert!(!is_go_binary(&node));
    assert!(!is_go_binary(Path::new("/bin/sh")));
    assert!(!is_go_binary(Path::new("/nonexistent")));
    // The go tool is itself a Go binary, where Go is installed.
    if let Some(go) = which("go") {
        assert!(
            is_go_binary(&go.canonicalize().unwrap()),
            "{}",
            go.display()
        );
    }
}

#[test]
fn a_clusters_processes_are_summed_and_an_ended_one_leaves_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.log");
    let mut src = GcLogSource::open(&path_with(&path, ""), Some(0), None).unwrap();
    // The real mark-compact lines, as two live workers (this process, two isolates) and one
    // that has ended (no PID is that large) would print them.
    let majors = node_majors();
    let me = std::process::id();
    append(&path, &as_process(&format!("{me}:0x1"), majors[0]));
    append(&path, &as_process(&format!("{me}:0x2"), majors[1]));
    append(&path, &as_process("4194305:0x3", majors[1]));
    let r = src.sample().unwrap();
    assert_eq!(r.metrics[METRIC], 102_225_432 + 2 * 291_518_976);
    assert_eq!(src.take_gc().len(), 3);
    // The next major collection: the ended process's last heap is no longer counted.
    append(&path, &as_process(&format!("{me}:0x1"), majors[1]));
    assert_eq!(src.sample().unwrap().metrics[METRIC], 2 * 291_518_976);
}

/// The real mark-compact lines of the Node test trace.
fn node_majors() -> Vec<&'static str> {
    include_str!("testdata/node-nvp.log")
        .lines()
        .filter(|l| l.contains(" gc=mc "))
        .collect()
}

/// `line` as the process and isolate `key` (`PID:0x...`) would print it.
fn as_process(key: &str, line: &str) -> String {
    let rest = &line[line.find(']').unwrap()..];
    format!("[{key}{rest}\n")
}

/// Creates `path` holding `text` and returns it.
fn path_with(path: &Path, text: &str) -> std::path::PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

#[test]
fn a_full_collection_is_forced_in_a_real_jvm_through_its_attach_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("Idle.java");
    std::fs::write(
        &src,
        "public class Idle { public static void main(String[] a) throws Exception { \
         Thread.sleep(30000); } }",
    )
    .expect("source written");
    let log = std::fs::File::create(dir.path().join("gc.log")).expect("log");
    let child = std::process::Command::new("java")
        .arg("-Xlog:gc")
        .arg(&src)
        .current_dir(dir.path())
        .stdout(log)
        .spawn()
        .expect("java on PATH");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child_pid = child.id();
    let _guard = Kill(child);
    // Not a JVM (and no JVM below it): never signalled, as SIGQUIT would end it.
    let sleep = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .expect("sleep");
    let sleep = Kill(sleep);
    assert!(attach::JvmAttach::find(sleep.0.id()).is_none());
    drop(sleep);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut jvm = None;
    while jvm.is_none() && std::time::Instant::now() < deadline {
        // Found below the tree's root, as under `sh -c`.
        jvm = attach::JvmAttach::find(std::process::id());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut jvm = jvm.expect("the JVM is found by its libjvm.so");
    assert_eq!(jvm.pid(), child_pid);
    let mut done = 0;
    while done < 2 && std::time::Instant::now() < deadline {
        match jvm.gc_run() {
            Ok(true) => done += 1,
            Ok(false) => std::thread::sleep(std::time::Duration::from_millis(100)),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(done, 2, "two collections forced within 20 s");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let text = std::fs::read_to_string(dir.path().join("gc.log")).expect("log read");
    let majors = majors_in(&text, GcRuntime::Jvm);
    assert_eq!(majors, 2, "{text}");
    assert!(
        !dir.path().join(format!(".attach_pid{child_pid}")).exists(),
        "attach file removed"
    );
}

/// Major collections the `runtime` lines of `text` report.
fn majors_in(text: &str, runtime: GcRuntime) -> usize {
    let mut parser = GcParser::new(Some(runtime));
    text.lines()
        .filter_map(|l| parser.line(l))
        .filter(|g| g.major)
        .count()
}

#[test]
fn the_preloads_buffers_complete_the_forced_collection_and_the_ones_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.log");
    let mut src = GcLogSource::open(&path_with(&path, ""), Some(0), None).unwrap();
    let majors = node_majors();
    let me = std::process::id();
    let as_me = |line: &str| as_process(&format!("{me}:0x1"), line);
    // V8's own collection, then a forced one with the preload's line after it.
    append(&path, &as_me(majors[0]));
    append(&path, &as_me(majors[1]));
    append(
        &path,
        &format!("[leakhound-gc {me}] array_buffers=5000000\n"),
    );
    // Another process's line completes nothing here.
    append(&path, "[leakhound-gc 4194305] array_buffers=7\n");
    let r = src.sample().unwrap();
    assert_eq!(r.metrics[METRIC], 291_518_976 + 5_000_000);
    let gc = src.take_gc();
    assert_eq!(
        gc.iter().map(|g| g.external).collect::<Vec<_>>(),
        vec![None, Some(5_000_000)]
    );
    // V8's own collections from now on carry the Buffers as last read.
    append(&path, &as_me(majors[0]));
    assert_eq!(
        src.sample().unwrap().metrics[METRIC],
        102_225_432 + 5_000_000
    );
    assert_eq!(src.take_gc()[0].external, Some(5_000_000));
    assert_eq!(
        super::parse::preload_buffers("[leakhound-gc x] array_buffers=1"),
        None
    );
}

#[test]
fn buffers_that_survive_the_forced_collections_of_a_real_node_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let preload = write_preload(dir.path()).expect("preload written");
    let log = dir.path().join("target.log");
    let out = std::fs::File::create(&log).expect("log file");
    // Keeps 60 Buffers of 64 KiB (3.75 MiB outside the JS heap), one every 20 ms, dropping one
    // of 64 KiB in between, then lives 600 ms more: forced collections come after the last.
    let program =
        "const keep = []; const t = setInterval(() => { keep.push(Buffer.alloc(65536, 1)); \
                   Buffer.alloc(65536, 2); if (keep.length === 60) { clearInterval(t); \
                   setTimeout(() => {}, 600); } }, 20)";
    let status = std::process::Command::new("node")
        .args(["--trace-gc-nvp", "-e", program])
        .env(
            "NODE_OPTIONS",
            format!("--require \"{}\"", preload.display()),
        )
        .env("LEAKHOUND_FORCE_GC_MS", "200")
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .status()
        .expect("node on PATH");
    assert!(status.success());
    let mut src = GcLogSource::open(&log, Some(0), Some(GcRuntime::Node)).unwrap();
    src.sample().unwrap();
    let external: Vec<u64> = src.take_gc().iter().filter_map(|g| g.external).collect();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(external.len() >= 3, "{external:?}\n{text}");
    // Garbage Buffers are freed by a sweeper that may finish after gc() returns: a reading can
    // count a few of them, so readings rise, but not at every step.
    assert!(
        external[0] + (1 << 20) < external[external.len() - 1],
        "{external:?}"
    );
    let last = external[external.len() - 1];
    // What is kept, and the little Node holds itself; not what was dropped.
    let kept = 60 * 65536;
    assert!((kept..kept + (1 << 20)).contains(&last), "{last}\n{text}");
}
