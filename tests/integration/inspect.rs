//! The `inspector` memory source end to end: the real binary runs listener-leak (and its
//! fixed twin) with `scenarios/listener-leak-inspect.yaml`, judged on the post-GC V8 heap,
//! with heap snapshots after warm-up, mid-run and at the end, and their diff ("What grew").
//! These put real load on the machine: nextest `soak` group (names start with `soak_`).

use std::time::Duration;

use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, leakhound, port_overrides, scenario, soak_lock, text,
    Outcome, Workdir,
};

/// Generous: the debug binary parses the snapshots after the run.
const LIMIT: Duration = Duration::from_secs(60);

fn run(work: &Workdir, extra: &[&str]) -> (Outcome, Value) {
    let port = free_port();
    let mut a = args([
        "run",
        &scenario("listener-leak-inspect.yaml").display().to_string(),
        "--out",
        &work.out().display().to_string(),
        "--no-progress",
    ]);
    a.extend(port_overrides(port, work));
    a.extend(args(extra));
    let out = leakhound(&a, LIMIT);
    let summary = work.summary(&out);
    assert_target_stopped(work);
    (out, summary)
}

/// The grower of `class` in a `heap_growth` summary; fails the test when there is none.
fn grower(g: &Value, class: &str) -> Value {
    g["growers"]
        .as_array()
        .and_then(|list| list.iter().find(|x| x["class"] == class))
        .cloned()
        .unwrap_or_else(|| panic!("no {class} grower in {g:#}"))
}

fn kinds(summary: &Value) -> Vec<String> {
    summary["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn soak_listener_leak_is_judged_on_the_heap_and_the_snapshots_name_what_grew() {
    let _lock = soak_lock();
    let work = Workdir::new();
    let (out, s) = run(&work, &[]);
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert_eq!(text(&s, &["leak", "verdict"]), "leak", "{}", out.output());
    assert_eq!(text(&s, &["leak", "metric"]), "heap_used");
    assert_eq!(text(&s, &["memory", "metric"]), "heap_used");
    let k = kinds(&s);
    assert_eq!(
        k.iter().filter(|k| *k == "heap_snapshot").count(),
        3,
        "{k:?}\n{}",
        out.output()
    );
    // Forced GCs are counted in summary.json, each one kept in run.json.
    assert!(
        s["forced_gc"]["count"].as_u64().unwrap_or(0) >= 5,
        "{}",
        s["forced_gc"]
    );
    assert!(!k.iter().any(|k| k == "forced_gc"), "{k:?}");
    for label in ["after-warmup", "mid", "end"] {
        let f = work.out().join(format!("heap-{label}.heapsnapshot"));
        assert!(f.exists(), "{} missing", f.display());
    }
    let g = &s["heap_growth"];
    let im = grower(g, "IncomingMessage");
    let per_1k = im["count_per_1k"].as_f64().unwrap_or(0.0);
    // One request object per request survives.
    assert!((700.0..1300.0).contains(&per_1k), "{im:#}");
    let path = im["retainer_path"].as_str().unwrap_or("");
    assert!(
        path.contains("EventEmitter._events.changed")
            && path.ends_with("(closure).req -> IncomingMessage"),
        "{path}"
    );
    let sentence = g["summary"].as_str().unwrap_or("");
    assert!(
        sentence.contains("IncomingMessage is retained by"),
        "{sentence}"
    );
    let html = std::fs::read_to_string(work.out().join("report.html")).unwrap_or_default();
    assert!(html.contains("What grew"), "no What grew section");
    assert!(
        html.contains("heap-end.heapsnapshot"),
        "snapshots not listed"
    );
    // The snapshots stay files: the page does not embed them.
    assert!(html.len() < 2 << 20, "report.html is {} bytes", html.len());
    let md = std::fs::read_to_string(work.out().join("summary.md")).unwrap_or_default();
    assert!(md.contains("**What grew**"), "{md}");
}

#[test]
fn soak_listener_fixed_has_no_grower_above_noise() {
    let _lock = soak_lock();
    let work = Workdir::new();
    let (out, s) = run(
        &work,
        &[
            "--set",
            "target.command.1=../tests/targets/listener-fixed.js",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.output());
    assert_eq!(text(&s, &["leak", "metric"]), "heap_used");
    let g = &s["heap_growth"];
    assert_eq!(
        g["growers"].as_array().map(Vec::len),
        Some(0),
        "{g:#}\n{}",
        out.output()
    );
    assert!(
        g["summary"].as_str().unwrap_or("").starts_with("No class"),
        "{g:#}"
    );
}

#[test]
fn soak_unbounded_cache_snapshots_name_the_cached_entries_and_the_map() {
    let _lock = soak_lock();
    let work = Workdir::new();
    // cache-leak.js answers any method on /users/:id and keeps one ~1 KiB profile object per
    // distinct `id?x` in a module-level Map.
    let (out, s) = run(
        &work,
        &[
            "--set",
            "target.command.1=../tests/targets/cache-leak.js",
            "--set",
            "requests.0.path=/users/{{seq}}?x=1",
        ],
    );
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert_eq!(text(&s, &["leak", "verdict"]), "leak", "{}", out.output());
    let g = &s["heap_growth"];
    // What the snapshot really shows: each entry is a plain Object ({key, loadedAt, profile})
    // in the Map's backing table, and its 1 KiB profile string.
    let entry = grower(g, "Object");
    let profiles = grower(g, "(string)");
    let per_1k = entry["count_per_1k"].as_f64().unwrap_or(0.0);
    assert!((700.0..1300.0).contains(&per_1k), "{entry:#}");
    let path = entry["retainer_path"].as_str().unwrap_or("");
    assert!(
        path.contains(".cache -> Map.table") && path.ends_with("-> Object"),
        "{path}"
    );
    assert!(
        profiles["bytes_per_1k"].as_f64().unwrap_or(0.0) > 512.0 * 1000.0,
        "the ~1 KiB profile strings: {profiles:#}"
    );
}
