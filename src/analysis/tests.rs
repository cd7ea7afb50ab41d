//! Analysis on synthetic timelines whose answer is known.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::scenario::{self, Overrides};
use crate::timeline::{EndpointTick, LatencyHist, MemorySample, SparseHist, Tick};

const SCENARIO: &str = r#"
name: synthetic
target: {base_url: "http://127.0.0.1:9", pid: 1}
memory: {interval: 1s, metric: rss_anon}
load:
  phases:
    - {name: warmup, duration: 10s, rate: 100}
    - {name: soak, duration: 60s, rate: 100}
requests:
  - {name: only, path: /}
thresholds:
  leak_per_request: 256B
  growth: 1MiB
  p99: 50ms
  error_rate: 1%
"#;

fn plan(extra_set: &[&str]) -> Plan {
    let overrides = Overrides {
        set: extra_set.iter().map(|s| s.to_string()).collect(),
        ..Overrides::default()
    };
    scenario::parse(SCENARIO, "synthetic.yaml", Path::new("."), &overrides).unwrap()
}

/// 100 req/s for 70 s; memory = 50 MiB + bytes_per_request * requests + deterministic noise.
fn timeline(bytes_per_request: f64, noise: f64, latency_us: u64, errors_every: u64) -> Timeline {
    let mut tl = Timeline { endpoints: vec!["only".into()], interval_s: 1.0, ..Timeline::default() };
    for i in 0..=70u64 {
        let requests = i * 100;
        // A fixed pseudo-random sequence in -1..1, so the test is repeatable.
        let wobble = ((i * 7919 % 101) as f64 / 50.0) - 1.0;
        let bytes = 50.0 * 1048576.0 + bytes_per_request * requests as f64 + noise * wobble;
        let mut h = LatencyHist::new();
        for _ in 0..100 {
            h.record_us(latency_us);
        }
        let e = EndpointTick {
            completed: requests,
            errors: if errors_every > 0 { requests / errors_every } else { 0 },
            latency: SparseHist::from_hist(&h),
            ..EndpointTick::default()
        };
        let readings = BTreeMap::from([(
            "process".to_string(),
            BTreeMap::from([("rss_anon".to_string(), bytes as u64)]),
        )]);
        tl.ticks.push(Tick {
            t_s: i as f64,
            phase: usize::from(i > 10),
            completed: requests,
            sent: requests,
            errors: e.errors,
            endpoints: vec![e],
            memory: Some(MemorySample { t_s: i as f64, requests, readings, processes: Some(1) }),
            ..Tick::default()
        });
    }
    tl
}

#[test]
fn a_clear_leak_is_found_with_its_size() {
    let a = analyze(&plan(&[]), &timeline(1024.0, 64.0 * 1024.0, 2000, 0));
    assert_eq!(a.leak.verdict, Verdict::Leak, "{}", a.leak.reason);
    let b = a.leak.bytes_per_request;
    assert!((b.estimate - 1024.0).abs() < 20.0, "{b:?}");
    assert!(b.low <= 1024.0 && 1024.0 <= b.high, "{b:?}");
    assert!(a.failed());
    assert!(a.leak.reason.contains("1KiB per request"), "{}", a.leak.reason);
    assert_eq!(a.leak.endpoints["only"].verdict, Verdict::Leak);
}

#[test]
fn flat_memory_with_noise_is_no_leak() {
    let a = analyze(&plan(&[]), &timeline(0.0, 256.0 * 1024.0, 2000, 0));
    assert_eq!(a.leak.verdict, Verdict::None, "{}", a.leak.reason);
    assert!(a.leak.bytes_per_request.high < 256.0);
    assert!(!a.failed(), "{:?}", a.thresholds);
}

#[test]
fn a_leak_below_the_limit_passes_and_one_straddling_it_is_inconclusive() {
    // 100 B/request with little noise: clearly below the 256B limit.
    let a = analyze(&plan(&[]), &timeline(100.0, 1024.0, 2000, 0));
    assert_eq!(a.leak.verdict, Verdict::None, "{}", a.leak.reason);
    // 250 B/request with heavy noise: the interval includes 256B.
    let b = analyze(&plan(&[]), &timeline(250.0, 2.0 * 1048576.0, 2000, 0));
    assert_eq!(b.leak.verdict, Verdict::Inconclusive, "{}", b.leak.reason);
    assert!(b.leak.reason.contains("more requests"), "{}", b.leak.reason);
    assert!(!b.thresholds[0].passed || b.leak.verdict != Verdict::Leak);
}

#[test]
fn warm_up_growth_is_not_judged() {
    // A 20 MiB step during warm-up, flat afterwards.
    let mut tl = timeline(0.0, 1024.0, 2000, 0);
    for t in tl.ticks.iter_mut().filter(|t| t.phase == 0) {
        let m = t.memory.as_mut().unwrap();
        let v = m.readings.get_mut("process").unwrap().get_mut("rss_anon").unwrap();
        *v -= 20 * 1048576 * (10 - t.t_s as u64) / 10;
    }
    let a = analyze(&plan(&[]), &tl);
    assert_eq!(a.leak.verdict, Verdict::None, "{}", a.leak.reason);
    assert_eq!(a.leak.window.samples, 61, "samples from t = 10 s to 70 s");
}

#[test]
fn too_short_a_run_is_inconclusive_and_says_why() {
    let mut tl = timeline(1024.0, 0.0, 2000, 0);
    tl.ticks.truncate(13);
    let a = analyze(&plan(&[]), &tl);
    assert_eq!(a.leak.verdict, Verdict::Inconclusive);
    assert!(a.leak.reason.contains("run longer"), "{}", a.leak.reason);
    assert!(!a.failed());
}

#[test]
fn default_limit_applies_without_thresholds() {
    let p = plan(&["thresholds="]);
    assert!(p.thresholds.leak_per_request.is_none());
    let a = analyze(&p, &timeline(200.0, 0.0, 2000, 0));
    assert_eq!(a.leak.limit_bytes_per_request, DEFAULT_LEAK_LIMIT_BYTES);
    assert_eq!(a.leak.verdict, Verdict::Leak, "200B/request is above the 128B default");
    assert!(a.thresholds[0].limit.contains("default"));
}

#[test]
fn latency_error_and_growth_thresholds_are_checked() {
    let a = analyze(&plan(&[]), &timeline(0.0, 0.0, 80_000, 50));
    let by_name = |n: &str| a.thresholds.iter().find(|t| t.name == n).unwrap().clone();
    assert!(!by_name("p99").passed, "80ms > 50ms");
    assert!(!by_name("error_rate").passed, "2% > 1%");
    assert!(by_name("growth").passed);
    assert!((a.latency_ms.p99 - 80.0).abs() < 0.1);
    assert_eq!(a.memory.start_bytes, 50 * 1048576);

    let g = analyze(&plan(&[]), &timeline(300.0, 0.0, 1000, 0));
    let growth = g.thresholds.iter().find(|t| t.name == "growth").unwrap();
    // 300 B x 6,000 requests after warm-up = 1.7 MiB > 1 MiB.
    assert!(!growth.passed, "{growth:?}");
}

#[test]
fn achieved_rate_counts_busy_time() {
    let a = analyze(&plan(&[]), &timeline(0.0, 0.0, 1000, 0));
    assert!((a.achieved_rate - 100.0).abs() < 1e-9, "{}", a.achieved_rate);
}
