//! Accuracy suite: the verdict leakhound gives for every target of the zoo (tests/targets/).
//!
//! One run per target, each through its scenario in `scenarios/` (so the shipped examples are
//! what is proven), at most ~26 s of load each: the leaks must come out `leak`, the clean
//! control `none`, the fixed twins anything but a false alarm (`none`, `bounded`, or
//! `inconclusive`), the hoarding timer `time_growth`, the filled LRU `bounded`, the lazy
//! warm-up table `none`, and the one-of-three leak must be pinned on its endpoint.
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

// The original zoo (listener, cache, promise, metrics and timer patterns, their fixed twins
// and the clean server) is asserted by soak.rs; this module covers the targets added for the
// fuller analysis, so no target is soaked twice per suite run.

/// The LRU fills, then stays flat: `bounded` when its fill after warm-up grew RSS by the 4 MiB
/// the model calls material, else `none` (seen: none, 0 B/request, CI -497 B to 11 B over its
/// last 7,200 requests), and then the judged plateau is flat. When the run did not show the
/// plateau clearly (seen: one slope, 249 B/request, CI 0 B to 687 B against 256 B), the verdict
/// is `inconclusive` with the length that would decide; never a leak.
#[test]
fn lru_cache_that_fills_is_bounded() {
    let leak = expect(
        Case {
            scenario: "lru-bounded.yaml",
            sets: &[],
            duration: None,
        },
        &["bounded", "none", "inconclusive"],
    );
    if verdict(&leak) == "inconclusive" {
        assert!(
            text(&leak, &["reason"]).contains("run at least"),
            "{leak:#}"
        );
    } else {
        assert!(
            num(&leak, &["bytes_per_request", "high"]) <= 256.0,
            "{leak:#}"
        );
    }
}

#[test]
fn lazy_warm_up_table_is_not_a_leak() {
    // The table fills over the first ~10k requests, so part of its step can fall after the
    // planned warm-up: then the step is a segment of its own and the verdict `bounded` (grew,
    // then flat), else `none`. Both say "flat now, not a leak" (seen in CI: bounded, 1.23 MiB
    // step then flat at 6.5 B/request, CI 0-52 B); a leak, growth with time or "cannot tell"
    // would be wrong. The plateau must be flat either way.
    let leak = expect(
        Case {
            scenario: "warmup-table.yaml",
            sets: &[],
            duration: None,
        },
        &["none", "bounded"],
    );
    assert!(
        num(&leak, &["bytes_per_request", "high"]) <= 256.0,
        "{leak:#}"
    );
}

// Once flaky: `search` was called a leak (578 B, CI 340-815 B) next to `orders` (3.6 KiB) when
// an RSS step fell in a block that favoured it. Per-endpoint intervals now carry the error one
// such step can cause (linfit::step_sensitivity).
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
    // Known limit of the RSS model: three V8 heaps can pause together near the end, and a
    // knee with a short flat tail is `inconclusive` (seen in a clean-clone CI check: 1.31
    // KiB/request over 9,501 requests, flat over the last 1,376). That verdict must say so and
    // how long to run; anything else but `leak` fails.
    let leak = run(&Case {
        scenario: "cluster-leak.yaml",
        sets: &[],
        duration: None,
    });
    let reason = text(&leak, &["reason"]);
    match verdict(&leak) {
        "leak" => assert!(
            num(&leak, &["bytes_per_request", "low"]) > 256.0,
            "{leak:#}"
        ),
        "inconclusive" => assert!(
            reason.contains("stayed flat over its last") && reason.contains("run at least"),
            "{leak:#}"
        ),
        v => panic!("cluster-leak: verdict {v}: {leak:#}"),
    }
}

#[test]
fn python_server_leak_is_a_leak() {
    leak_case("python-leak.yaml");
}
