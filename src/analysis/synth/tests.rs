//! The generator's own sanity (it must mean what it says) and the evaluation on the tuning set.

use super::eval::{self, Outcome};
use super::truth::TruthKind;
use super::*;
use crate::analysis::Verdict;
use crate::timeline::GcSample;

/// Series of the tuning set: seeds 0..TUNING. Judging 1,000 takes ~5 s in a debug build and
/// ~0.5 s in release (scripts/synth-eval.sh runs larger ranges).
const TUNING: u64 = 2000;
/// The target accuracy on decidable series of the tuning set.
const MIN_ACCURACY: f64 = 0.97;

fn fixed(truth: TruthKind, runtime: Runtime) -> Options {
    Options {
        kind: Some(Kind::Plain),
        runtime: Some(runtime),
        truth: Some(truth),
        no_restart: true,
        ..Options::default()
    }
}

/// The major collections the verdict reads: once some say what Buffers hold, only those.
fn majors(s: &Series) -> Vec<GcSample> {
    let all = s.timeline.ticks.iter().flat_map(|t| t.gc.iter().copied());
    let buffered = all.clone().any(|g| g.external.is_some());
    all.filter(|g| g.major && (!buffered || g.external.is_some()))
        .collect()
}

/// The lowest of what a few collections left: the floor under the floating garbage.
fn floor_of<'a>(g: impl Iterator<Item = &'a GcSample>) -> f64 {
    g.take(3)
        .map(|g| g.retained() as f64)
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn synth_a_seed_always_gives_the_same_series() {
    for seed in [0, 1, 7, 42, 999, HELD_OUT + 3] {
        let (a, b) = (generate(seed), generate(seed));
        assert_eq!(a.yaml, b.yaml);
        let json = |s: &Series| serde_json::to_string(&s.timeline).unwrap();
        assert_eq!(json(&a), json(&b), "seed {seed}");
        assert_eq!(a.truth, b.truth);
        assert_eq!(a.label.expected, b.label.expected);
    }
    assert_ne!(generate(1).yaml, generate(2).yaml, "seeds differ");
}

#[test]
fn synth_a_leak_raises_the_heap_after_gc_floor_by_what_it_retains() {
    let mut checked = 0;
    for runtime in [Runtime::Node, Runtime::Jvm, Runtime::Go] {
        for seed in 0..150 {
            let s = generate_with(seed, &fixed(TruthKind::Leak, runtime));
            let Truth::Leak {
                bytes_per_request: b,
                endpoint: None,
            } = s.truth
            else {
                continue;
            };
            let g = majors(&s);
            if g.len() < 8 {
                continue;
            }
            let (first, last) = (&g[..3], &g[g.len() - 3..]);
            let expected =
                s.judged_share * b * (last[0].requests as f64 - first[2].requests as f64);
            if expected < 40.0 * MIB {
                continue;
            }
            let rise = floor_of(last.iter()) - floor_of(first.iter());
            assert!(
                (rise - expected).abs()
                    <= 0.1 * expected + b * (first[2].requests - first[0].requests) as f64,
                "{runtime:?} seed {seed}: floor rose {rise:.0}, expected {expected:.0}"
            );
            checked += 1;
        }
    }
    eprintln!("{checked} leak series checked");
    assert!(checked >= 10, "only {checked} series checked");
}

#[test]
fn synth_a_bounded_series_plateaus_after_its_fill() {
    let mut checked = 0;
    for seed in 0..200 {
        let s = generate_with(seed, &fixed(TruthKind::Bounded, Runtime::Node));
        let Truth::Bounded {
            entries,
            entry_bytes,
            soft: false,
        } = s.truth
        else {
            continue;
        };
        let g = majors(&s);
        let (before, after): (Vec<&GcSample>, Vec<&GcSample>) =
            g.iter().partition(|g| (g.requests as f64) < entries);
        if entries * entry_bytes < 16.0 * MIB || before.len() < 3 || after.len() < 5 {
            continue;
        }
        let mut levels: Vec<f64> = after.iter().map(|g| g.retained() as f64).collect();
        levels.sort_by(f64::total_cmp);
        let plateau = levels[levels.len() / 2];
        for g in &after {
            assert!(
                (g.retained() as f64 - plateau).abs() < 3.0 * MIB,
                "seed {seed}: {} after the fill, plateau {plateau}",
                g.retained()
            );
        }
        let filled = s.judged_share * entry_bytes * (entries - before[0].requests as f64);
        let rise = plateau - before[0].retained() as f64;
        assert!(
            (rise - filled).abs() < 0.1 * filled + 3.0 * MIB,
            "seed {seed}: rose {rise:.0}, filled {filled:.0}"
        );
        checked += 1;
    }
    eprintln!("{checked} bounded series checked");
    assert!(checked >= 5, "only {checked} series checked");
}

#[test]
fn synth_idle_ticks_add_no_requests() {
    let mut idle_ticks = 0;
    for seed in 0..300 {
        let s = generate(seed);
        let tl = &s.timeline;
        for w in tl.ticks.windows(2) {
            let (prev, t) = (&w[0], &w[1]);
            let inside = tl.phases.iter().any(|p| {
                p.rate == 0.0 && p.ramp_to.is_none() && prev.t_s >= p.start_s && t.t_s <= p.end_s
            });
            if inside {
                idle_ticks += 1;
                assert_eq!(t.completed, prev.completed, "seed {seed} at {} s", t.t_s);
                let eps = |x: &crate::timeline::Tick| {
                    x.endpoints.iter().map(|e| e.completed).collect::<Vec<_>>()
                };
                assert_eq!(eps(t), eps(prev), "seed {seed} at {} s", t.t_s);
            }
        }
    }
    eprintln!("{idle_ticks} idle ticks checked");
    assert!(idle_ticks > 1000, "{idle_ticks} idle ticks");
}

#[test]
fn synth_the_corpus_spans_what_it_promises() {
    let all: Vec<Series> = (0..1500).map(generate).collect();
    let has = |f: &dyn Fn(&Series) -> bool| all.iter().any(f);
    for fam in Family::ALL {
        assert!(has(&|s| s.family == fam), "{fam:?}");
    }
    for rt in Runtime::ALL {
        assert!(has(&|s| s.runtime == rt), "{rt:?}");
    }
    for k in TruthKind::ALL {
        assert!(has(&|s| s.truth.kind() == k), "{k:?}");
    }
    for k in Kind::ALL {
        assert!(has(&|s| s.kind == k), "{k:?}");
    }
    let restarts = all.iter().filter(|s| s.restart_s.is_some()).count();
    assert!((15..=80).contains(&restarts), "{restarts} restarts");
    let short = all
        .iter()
        .filter(|s| s.plan.total_duration().as_secs() < 60)
        .count();
    assert!(
        short > all.len() / 2,
        "most runs are under a minute: {short}"
    );
    for s in &all {
        let secs = s.plan.total_duration().as_secs_f64();
        assert!((19.9..=300.1).contains(&secs), "seed {}: {secs} s", s.seed);
        let metric = if s.runtime.has_gc_log() {
            "heap_after_gc"
        } else {
            "rss_anon"
        };
        assert_eq!(s.plan.memory.metric, metric);
        for p in &s.plan.load.phases {
            let r = p.rate.max(p.ramp_to.unwrap_or(0.0));
            assert!(
                r == 0.0 || (30.0..=3000.0).contains(&r),
                "seed {}: {r}",
                s.seed
            );
        }
        // Every tick has RSS; a GC runtime's ticks with a major collection have heap_after_gc.
        for t in &s.timeline.ticks {
            let m = t.memory.as_ref().unwrap();
            assert!(m.get("rss_anon").unwrap() < m.get("rss").unwrap());
            let major = t.gc.iter().any(|g| g.major);
            assert_eq!(
                m.get("heap_after_gc").is_some(),
                major && s.runtime.has_gc_log()
            );
        }
    }
}

#[test]
fn synth_kinds_reproduce_the_ci_cases_as_families() {
    let of = |kind: Kind| {
        (0..40).map(move |seed| {
            generate_with(
                seed,
                &Options {
                    kind: Some(kind),
                    ..Options::default()
                },
            )
        })
    };
    for s in of(Kind::ShortPlateau) {
        let f = &s.label.facts;
        let share = f.plateau_requests / f.requests;
        assert!(
            (0.15..0.34).contains(&share),
            "seed {}: plateau {share:.2}",
            s.seed
        );
        assert!(!s.label.decidable || s.label.expected != Verdict::Bounded);
    }
    for s in of(Kind::FillPooled) {
        let f = &s.label.facts;
        let share = f.plateau_requests / f.requests;
        assert!(
            (0.3..0.7).contains(&share),
            "seed {}: plateau {share:.2}",
            s.seed
        );
    }
    for s in of(Kind::Cluster3) {
        // Judged on the workers' summed heaps, as the gc_log source reads a cluster.
        assert_eq!(s.plan.memory.metric, "heap_after_gc");
        let m = s.timeline.ticks[0].memory.as_ref().unwrap();
        assert_eq!(m.processes, Some(4), "a primary and three workers");
    }
    for s in of(Kind::ShortTimer) {
        assert_eq!(s.family, Family::LeakHunt);
        assert!(s.plan.total_duration().as_secs() <= 35);
        let Truth::TimeGrowth { bytes_per_s } = s.truth else {
            panic!("seed {}: {:?}", s.seed, s.truth)
        };
        assert!((90_000.0..110_000.0).contains(&bytes_per_s));
    }
}

fn judged(range: std::ops::Range<u64>) -> (Vec<Outcome>, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = eval::run(range, 1, &Options::default());
    (out, start.elapsed())
}

/// What the explicit model measures on the tuning set (seeds 0..2000), with the generator's
/// forced collections and summed cluster heaps: accuracy 0.839 on 571 decidable series, 42
/// false leaks, none of them on a stateless series whose truth was decidable. A change to the
/// analysis must not fall below. On the generator before those two (no forced collection, a
/// cluster judged on RSS) the model gave 0.825 and 55; the guards it replaced 0.711 and 83.
const MODEL_ACCURACY: f64 = 0.83;
const MODEL_FALSE_LEAKS: usize = 45;

#[test]
fn synth_tuning_set_holds_what_the_model_measured() {
    let (out, _) = judged(0..TUNING);
    let r = eval::report(&out);
    let stateless_alarms: Vec<u64> = out
        .iter()
        .filter(|o| o.decidable && o.truth == TruthKind::None && o.verdict == Verdict::Leak)
        .map(|o| o.seed)
        .collect();
    assert_eq!(
        stateless_alarms,
        Vec::<u64>::new(),
        "false leaks on stateless series"
    );
    assert!(
        r.false_leaks.len() <= MODEL_FALSE_LEAKS,
        "{} false leaks: {:?}",
        r.false_leaks.len(),
        r.false_leaks
    );
    assert!(
        r.overall.accuracy() >= MODEL_ACCURACY,
        "accuracy {:.3} on {} decidable series",
        r.overall.accuracy(),
        r.overall.decidable
    );
}

// The target the verdict model is tuned to (issue 11). Ignored while the model misses it.
#[test]
#[ignore = "the explicit model: 42 false leaks and accuracy 0.839 < MIN_ACCURACY on the tuning set"]
fn synth_tuning_set_has_no_false_leak_and_meets_the_accuracy_target() {
    let (out, took) = judged(0..TUNING);
    let r = eval::report(&out);
    eprintln!("{} series in {took:?}\n{}", out.len(), eval::render(&r, 12));
    assert_eq!(r.false_leaks, Vec::<u64>::new(), "false leaks");
    assert!(
        r.overall.accuracy() >= MIN_ACCURACY,
        "accuracy {:.3} on {} decidable series",
        r.overall.accuracy(),
        r.overall.decidable
    );
}

/// The report scripts/synth-eval.sh prints: seeds from SYNTH_SEEDS (`A..B`, default the tuning
/// set), on SYNTH_THREADS threads, listing SYNTH_LIST seeds of each kind of error;
/// SYNTH_FORCE_GC=off generates every series without forced collections.
#[test]
#[ignore = "a report, run by scripts/synth-eval.sh"]
fn synth_eval_report() {
    let range = std::env::var("SYNTH_SEEDS").unwrap_or_else(|_| format!("0..{TUNING}"));
    let (a, b) = range
        .split_once("..")
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .unwrap_or_else(|| panic!("SYNTH_SEEDS must be A..B, not {range}"));
    let threads = std::env::var("SYNTH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let start = std::time::Instant::now();
    let opts = Options {
        no_force: std::env::var("SYNTH_FORCE_GC").is_ok_and(|v| v == "off"),
        ..Options::default()
    };
    let out = eval::run(a..b, threads, &opts);
    let took = start.elapsed();
    println!(
        "seeds {a}..{b}: {} series in {:.1} s ({:.2} s per 1,000, {threads} thread(s), {} build)",
        out.len(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1000.0 / out.len().max(1) as f64,
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let listed = std::env::var("SYNTH_LIST")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(12);
    print!("{}", eval::render(&eval::report(&out), listed));
}

/// One series in full, for looking at a seed the report lists: SYNTH_SEED=N.
#[test]
#[ignore = "a dump, run by scripts/synth-eval.sh --show N"]
fn synth_show_seed() {
    let seed = std::env::var("SYNTH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let s = generate(seed);
    let a = crate::analysis::analyze(&s.plan, &s.timeline);
    println!("{}", s.yaml);
    println!(
        "seed {seed}: kind {}, runtime {}, truth {:?}, restart {:?}",
        s.kind.name(),
        s.runtime.name(),
        s.truth,
        s.restart_s
    );
    println!(
        "label: expected {}, decidable {}, {:?}",
        s.label.expected, s.label.decidable, s.label.facts
    );
    println!("verdict {}: {}", a.leak.verdict, a.leak.reason);
    let metric = s.plan.memory.metric.as_str();
    println!("t_s phase completed {metric} rss_anon");
    for t in &s.timeline.ticks {
        let m = t.memory.as_ref().unwrap();
        let v = m
            .get(metric)
            .map_or("-".into(), |v| format!("{:.3}", v as f64 / MIB));
        let rss = m.get("rss_anon").unwrap_or(0) as f64 / MIB;
        println!("{:.2} {} {} {v} {rss:.3}", t.t_s, t.phase, t.completed);
    }
}
