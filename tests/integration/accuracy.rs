//! Accuracy suite: the verdict leakhound gives for every target of the zoo (tests/targets/).
//!
//! One run per target, each through its scenario in `scenarios/` (so the shipped examples are
//! what is proven), at most ~26 s of load each: the leaks must come out `leak`, the fixed twins
//! and the clean control `none`, the hoarding timer `time_growth`, the filled LRU `bounded`,
//! the lazy warm-up table `none`, and the one-of-three leak must be pinned on its endpoint.
//! The leaky runs already covered by [`crate::soak`] are shortened with `--duration` to keep
//! the module under five minutes. Each run prints one `ACCURACY` line (verdict, estimate, 95% CI)
//! on stderr (`cargo nextest run --no-capture accuracy::`).
//!
//! These tests put real load on the machine: they are in nextest's `soak` group (one at a time,
//! .config/nextest.toml) and take [`util::soak_lock`] under plain `cargo test`.

use std::time::Duration;

use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, leakhound, num, port_overrides, scenario, soak_lock,
    text, Workdir,
};

/// Longest one run may take before it is killed (26 s of phases, start, stop and reports).
const RUN_LIMIT: Duration = Duration::from_secs(75);
/// `--duration` for the leaky scenarios the soak tests already run at full length.
const SHORT: &str = "12s";

/// One run: the scenario's file in scenarios/, extra `--set` pairs, an optional `--duration`.
struct Case<'a> {
    scenario: &'a str,
    sets: &'a [&'a str],
    duration: Option<&'a str>,
}

/// Runs a case and returns its summary.json's `leak` object; checks the exit code is one a
/// completed run gives and the target was stopped.
fn run(case: &Case) -> Value {
    let _guard = soak_lock();
    let work = Workdir::new();
    let mut argv = args([
        "run".to_string(),
        scenario(case.scenario).display().to_string(),
        "--out".to_string(),
        work.out().display().to_string(),
        "--no-progress".to_string(),
        // Verdicts are under test, not this shared machine's latency.
        "--set".to_string(),
        "thresholds.p99=5s".to_string(),
    ]);
    argv.extend(port_overrides(free_port(), &work));
    for s in case.sets {
        argv.extend(args(["--set", s]));
    }
    if let Some(d) = case.duration {
        argv.extend(args(["--duration", d]));
    }
    let outcome = leakhound(&argv, RUN_LIMIT);
    assert_target_stopped(&work);
    let summary = work.summary(&outcome);
    let leak = summary["leak"].clone();
    let est = |k: &str| {
        let e = &leak[k];
        format!(
            "{:.0} [{:.0}, {:.0}]",
            num(e, &["estimate"]),
            num(e, &["low"]),
            num(e, &["high"])
        )
    };
    let endpoints: Vec<String> = leak["endpoints"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, e)| {
                    format!(
                        "{name}={} {:.0} [{:.0}, {:.0}]",
                        text(e, &["verdict"]),
                        num(e, &["bytes_per_request", "estimate"]),
                        num(e, &["bytes_per_request", "low"]),
                        num(e, &["bytes_per_request", "high"])
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    eprintln!(
        "ACCURACY {} {:?} exit={:?} wall={:.1}s sent={} verdict={} bytes/req={} bytes/s={} \
         endpoints: {}\n  reason: {}",
        case.scenario,
        case.sets,
        outcome.code,
        outcome.elapsed.as_secs_f64(),
        num(&summary, &["requests", "sent"]),
        text(&leak, &["verdict"]),
        est("bytes_per_request"),
        est("bytes_per_second"),
        endpoints.join("; "),
        text(&leak, &["reason"]),
    );
    assert!(
        matches!(outcome.code, Some(0) | Some(1)),
        "the run did not complete:\n{}",
        outcome.output()
    );
    assert_eq!(
        summary["completed"],
        Value::Bool(true),
        "{}",
        outcome.output()
    );
    leak
}

fn verdict(leak: &Value) -> &str {
    text(leak, &["verdict"])
}

/// Asserts the overall verdict is one of `want`.
fn expect(case: Case, want: &[&str]) -> Value {
    let leak = run(&case);
    assert!(
        want.contains(&verdict(&leak)),
        "{}: verdict {} but expected one of {want:?}: {leak:#}",
        case.scenario,
        verdict(&leak)
    );
    leak
}

fn leak_case(scenario: &str) -> Value {
    let leak = expect(
        Case {
            scenario,
            sets: &[],
            duration: None,
        },
        &["leak"],
    );
    assert!(
        num(&leak, &["bytes_per_request", "low"]) > 256.0,
        "{leak:#}"
    );
    leak
}

/// Verdicts that are not wrong for a target that does not leak: `inconclusive` says "cannot
/// tell" (with what to change), which a user can act on; `leak` and `time_growth` would be
/// false alarms.
const NOT_A_LEAK: &[&str] = &["none", "bounded", "inconclusive"];

/// A leaky scenario pointed at another target script (a fixed twin or the clean control).
fn twin(scenario: &str, set: &str, want: &[&str]) -> Value {
    expect(
        Case {
            scenario,
            sets: &[set],
            // Full length: shortened, the fixed cache's garbage (evicted entries V8 has not
            // collected yet) still dominates the judged window and reads as a leak.
            duration: None,
        },
        want,
    )
}

// --- the original patterns (their scenarios, shortened) --------------------------------------

#[test]
fn listener_leak_is_a_leak() {
    expect(
        Case {
            scenario: "listener-leak.yaml",
            sets: &[],
            duration: Some(SHORT),
        },
        &["leak"],
    );
}

#[test]
fn listener_fixed_is_not_a_leak() {
    twin(
        "listener-leak.yaml",
        "target.command.1=../tests/targets/listener-fixed.js",
        NOT_A_LEAK,
    );
}

#[test]
fn cache_leak_is_a_leak() {
    expect(
        Case {
            scenario: "cache-leak.yaml",
            sets: &[],
            duration: Some(SHORT),
        },
        &["leak"],
    );
}

#[test]
fn cache_fixed_is_not_a_leak() {
    // An LRU of 1000 entries: `none` or `bounded` (seen filling while V8 settles).
    twin(
        "cache-leak.yaml",
        "target.command.1=../tests/targets/cache-fixed.js",
        NOT_A_LEAK,
    );
}

#[test]
fn promise_leak_is_a_leak() {
    expect(
        Case {
            scenario: "promise-leak.yaml",
            sets: &[],
            duration: Some(SHORT),
        },
        &["leak"],
    );
}

#[test]
fn promise_fixed_is_not_a_leak() {
    twin(
        "promise-leak.yaml",
        "target.command.1=../tests/targets/promise-fixed.js",
        NOT_A_LEAK,
    );
}

#[test]
fn metrics_leak_is_a_leak() {
    expect(
        Case {
            scenario: "metrics-leak.yaml",
            sets: &[],
            duration: Some(SHORT),
        },
        &["leak"],
    );
}

#[test]
fn metrics_fixed_is_not_a_leak() {
    twin(
        "metrics-leak.yaml",
        "target.command.1=../tests/targets/metrics-fixed.js",
        NOT_A_LEAK,
    );
}

#[test]
fn clean_server_is_not_a_leak() {
    twin(
        "listener-leak.yaml",
        "target.command.1=../tests/targets/clean.js",
        &["none"],
    );
}

#[test]
fn timer_leak_is_growth_with_time_not_traffic() {
    // The scenario's idle `rest` phase separates time from traffic.
    let leak = expect(
        Case {
            scenario: "timer-leak.yaml",
            sets: &[],
            duration: None,
        },
        &["time_growth"],
    );
    // ~100 KB/s (tests/targets/timer-leak.js): within a factor of 2.
    let bps = num(&leak, &["bytes_per_second", "estimate"]);
    assert!((50_000.0..200_000.0).contains(&bps), "{leak:#}");
}

#[test]
fn timer_fixed_is_not_a_leak() {
    twin(
        "timer-leak.yaml",
        "target.command.1=../tests/targets/timer-fixed.js",
        NOT_A_LEAK,
    );
}

// --- the zoo's newer patterns ------------------------------------------------------------------

#[test]
fn lru_cache_that_fills_is_bounded() {
    let leak = expect(
        Case {
            scenario: "lru-bounded.yaml",
            sets: &[],
            duration: None,
        },
        &["bounded"],
    );
    assert!(
        num(&leak, &["bytes_per_request", "high"]) <= 256.0,
        "{leak:#}"
    );
}

#[test]
fn lazy_warm_up_table_is_not_a_leak() {
    expect(
        Case {
            scenario: "warmup-table.yaml",
            sets: &[],
            duration: None,
        },
        &["none"],
    );
}

#[test]
fn leak_on_one_endpoint_of_three_is_attributed_to_it() {
    let leak = expect(
        Case {
            scenario: "one-of-three.yaml",
            sets: &[],
            duration: None,
        },
        &["leak"],
    );
    let ep = |name: &str| text(&leak, &["endpoints", name, "verdict"]).to_string();
    assert_eq!(ep("orders"), "leak", "{leak:#}");
    // ~4 KiB per order (tests/targets/one-of-three.js): within a factor of 2.
    let orders = num(
        &leak,
        &["endpoints", "orders", "bytes_per_request", "estimate"],
    );
    assert!((2048.0..8192.0).contains(&orders), "{leak:#}");
    for clean in ["catalog", "search"] {
        assert!(
            ep(clean) != "leak" && !ep(clean).is_empty(),
            "{clean}: {leak:#}"
        );
    }
}

#[test]
fn leak_held_in_buffers_outside_the_heap_is_a_leak() {
    leak_case("buffer-leak.yaml");
}

#[test]
fn leak_in_cluster_workers_is_a_leak() {
    // The primary is flat: only the sum over the tree (primary + 2 workers) shows the leak.
    leak_case("cluster-leak.yaml");
}

#[test]
fn python_server_leak_is_a_leak() {
    leak_case("python-leak.yaml");
}
