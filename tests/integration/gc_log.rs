//! The `gc_log` source against a real leaking Node target: leakhound turns on
//! `--trace-gc-nvp`, reads the collections from target.log as they come, and reports them.
//! The `soak_` test puts ~10 s of light load on the machine (nextest `soak` group).

use std::time::Duration;

use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, leakhound, num, read_json, soak_lock, target, text,
    Workdir,
};

const LIMIT: Duration = Duration::from_secs(60);
const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn soak_gc_log_reads_the_node_targets_collections_and_judges_heap_after_gc() {
    let _lock = soak_lock();
    let work = Workdir::new();
    let port = free_port();
    // 4 KiB kept per request, ~3 MiB/s at 800/s. --optimize-for-size (the user's own node
    // flag, kept after leakhound's) makes V8 mark-compact every few seconds in a run this short.
    let yaml = format!(
        "\
name: gc-log
target:
  base_url: http://127.0.0.1:{port}
  command: [node, --optimize-for-size, \"{script}\"]
  env: {{PORT: \"{port}\", LEAK_BYTES: \"4096\"}}
  ready: {{path: /health, timeout: 10s}}
memory:
  interval: 250ms
load:
  timeout: 2s
  phases:
    - {{name: warmup, duration: 2s, rate: 300}}
    - {{name: soak, duration: 8s, rate: 800}}
requests:
  - name: work
    path: /work?id={{{{seq}}}}
",
        script = target("tunable-leak.js").display()
    );
    let file = work.scenario("scenario.yaml", &yaml).display().to_string();

    // On by default for a launched node, and then the judged metric.
    let v = leakhound(&args(["validate", &file]), LIMIT);
    assert_eq!(v.code, Some(0), "{}", v.output());
    assert!(
        v.stdout
            .contains("heap_after_gc (the verdict is judged on it)")
            && v.stdout.contains("gc_log")
            && v.stdout.contains("adds --trace-gc-nvp to the node command"),
        "{}",
        v.output()
    );

    let out = work.out().display().to_string();
    let run = leakhound(&args(["run", &file, "--out", &out, "--no-progress"]), LIMIT);
    assert_target_stopped(&work);
    let s = work.summary(&run);
    let ctx = format!("{s:#}\n{}", run.output());
    assert_eq!(s["completed"], Value::Bool(true), "{ctx}");
    assert_eq!(text(&s, &["memory", "metric"]), "heap_after_gc", "{ctx}");
    let (count, major) = (num(&s, &["gc", "count"]), num(&s, &["gc", "major"]));
    let (p99, max) = (
        num(&s, &["gc", "pause_ms", "p99"]),
        num(&s, &["gc", "pause_ms", "max"]),
    );
    assert!(count > major && major >= 3.0, "{ctx}");
    assert!(p99 > 0.0 && max >= p99, "{ctx}");

    let r = read_json(&work.out().join("run.json"), &run);
    let ticks = r["timeline"]["ticks"].as_array().expect("ticks");
    let gcs: Vec<&Value> = ticks
        .iter()
        .flat_map(|t| t["gc"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(gcs.len() as f64, count, "{ctx}");
    let stamps: Vec<(f64, f64)> = gcs
        .iter()
        .map(|g| (num(g, &["t_s"]), num(g, &["requests"])))
        .collect();
    assert!(
        stamps
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1),
        "stamped in order: {stamps:?}"
    );
    // The leak shows in what survives each mark-compact: ~32 MiB kept over the run.
    let heaps: Vec<f64> = gcs
        .iter()
        .filter(|g| g["major"] == Value::Bool(true))
        .map(|g| num(g, &["heap_after"]) / MIB)
        .collect();
    assert!(
        heaps.windows(2).all(|w| w[1] > w[0] - 1.0) && heaps[heaps.len() - 1] - heaps[0] > 10.0,
        "heap after each major GC, MiB: {heaps:?}"
    );
    // The preload read the Buffers after each collection it forced, and the ones after carry
    // that reading.
    let buffered = gcs.iter().filter(|g| g["external"].is_u64()).count();
    assert!(
        buffered >= 3 && buffered as f64 >= major / 2.0,
        "{buffered} of {major}: {ctx}"
    );
    // Each tick with a major collection reads its heap plus Buffers as heap_after_gc; the
    // others do not.
    for t in ticks {
        let last_major = t["gc"]
            .as_array()
            .into_iter()
            .flatten()
            .rfind(|g| g["major"] == Value::Bool(true));
        let reading = &t["memory"]["readings"]["gc_log"]["heap_after_gc"];
        let retained =
            |g: &Value| Some(g["heap_after"].as_u64()? + g["external"].as_u64().unwrap_or(0));
        assert_eq!(reading.as_u64(), last_major.and_then(retained), "{t:#}");
    }
    let log = std::fs::read_to_string(work.out().join("target.log")).expect("target.log");
    assert!(
        log.contains("tunable-leak listening") && log.contains(" gc=mc "),
        "target.log keeps everything"
    );
    let md = std::fs::read_to_string(work.out().join("summary.md")).expect("summary.md");
    assert!(md.contains("GC (the runtime's own log): "), "{md}");
}
