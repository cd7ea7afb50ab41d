//! Evaluation: [`crate::analysis::analyze`] over a range of seeds, tallied into confusion
//! matrices (truth × verdict) overall, per runtime, per design family and per kind, with the
//! figures that matter: accuracy on decidable series, false `leak`s, and `none` for a leak
//! that was plainly there (≥ 256 B/request over ≥ 10,000 requests).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;

use super::truth::TruthKind;
use super::{generate_with, Family, Kind, Options, Runtime};
use crate::analysis::{analyze, Verdict};

/// Verdict columns, in the order printed.
const VERDICTS: [Verdict; 5] = [
    Verdict::Leak,
    Verdict::TimeGrowth,
    Verdict::Bounded,
    Verdict::None,
    Verdict::Inconclusive,
];
/// A leak this big (and above the limit) over this many requests must never read `none`.
const BIG_LEAK_BYTES: f64 = 256.0;
const BIG_LEAK_REQUESTS: f64 = 10_000.0;

/// One series judged.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) seed: u64,
    pub(crate) kind: Kind,
    pub(crate) family: Family,
    pub(crate) runtime: Runtime,
    pub(crate) truth: TruthKind,
    pub(crate) expected: Verdict,
    pub(crate) verdict: Verdict,
    pub(crate) decidable: bool,
    pub(crate) correct: bool,
    /// Post-warm-up slope (bytes per request) and requests, from the label.
    pub(crate) slope: f64,
    pub(crate) requests: f64,
    pub(crate) limit: f64,
}

impl Outcome {
    pub(crate) fn false_leak(&self) -> bool {
        self.truth != TruthKind::Leak && self.verdict == Verdict::Leak
    }

    pub(crate) fn missed_big_leak(&self) -> bool {
        self.truth == TruthKind::Leak
            && self.slope >= BIG_LEAK_BYTES.max(self.limit)
            && self.requests >= BIG_LEAK_REQUESTS
            && self.verdict == Verdict::None
    }
}

/// Generates and judges one seed.
pub(crate) fn judge(seed: u64, opts: &Options) -> Outcome {
    let s = generate_with(seed, opts);
    let verdict = analyze(&s.plan, &s.timeline).leak.verdict;
    Outcome {
        seed,
        kind: s.kind,
        family: s.family,
        runtime: s.runtime,
        truth: s.truth.kind(),
        expected: s.label.expected,
        verdict,
        decidable: s.label.decidable,
        correct: s.label.accepts(verdict),
        slope: s.label.facts.slope(),
        requests: s.label.facts.requests,
        limit: s.label.facts.limit,
    }
}

/// Judges every seed of `seeds` on `threads` threads, in seed order.
pub(crate) fn run(seeds: Range<u64>, threads: usize, opts: &Options) -> Vec<Outcome> {
    let threads = threads.max(1) as u64;
    let mut out: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let seeds = seeds.clone();
                scope.spawn(move || {
                    seeds
                        .filter(|s| s % threads == k)
                        .map(|seed| judge(seed, opts))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("an evaluation thread panicked"))
            .collect()
    });
    out.sort_by_key(|o| o.seed);
    out
}

/// A confusion matrix and its figures.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    pub(crate) n: usize,
    /// Rows: [`TruthKind::ALL`]; columns: [`VERDICTS`].
    pub(crate) matrix: [[usize; 5]; 4],
    /// The same over decidable series only, rows by the expected verdict
    /// ([`TruthKind::ALL`]'s order).
    pub(crate) decidable_matrix: [[usize; 5]; 4],
    pub(crate) decidable: usize,
    pub(crate) decidable_correct: usize,
    pub(crate) correct: usize,
    pub(crate) false_leak: usize,
    pub(crate) missed_big_leak: usize,
}

impl Tally {
    pub(crate) fn add(&mut self, o: &Outcome) {
        let row = TruthKind::ALL
            .iter()
            .position(|&t| t == o.truth)
            .unwrap_or(0);
        let col = VERDICTS.iter().position(|&v| v == o.verdict).unwrap_or(4);
        self.n += 1;
        self.matrix[row][col] += 1;
        if o.decidable {
            let expected = TruthKind::ALL
                .iter()
                .position(|&t| t.verdict() == o.expected)
                .unwrap_or(0);
            self.decidable_matrix[expected][col] += 1;
        }
        self.decidable += usize::from(o.decidable);
        self.decidable_correct += usize::from(o.decidable && o.correct);
        self.correct += usize::from(o.correct);
        self.false_leak += usize::from(o.false_leak());
        self.missed_big_leak += usize::from(o.missed_big_leak());
    }

    /// Share of decidable series judged right (1 when none is decidable).
    pub(crate) fn accuracy(&self) -> f64 {
        if self.decidable == 0 {
            1.0
        } else {
            self.decidable_correct as f64 / self.decidable as f64
        }
    }
}

/// Tallies overall and by group.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub(crate) overall: Tally,
    pub(crate) by_runtime: BTreeMap<Runtime, Tally>,
    pub(crate) by_family: BTreeMap<Family, Tally>,
    pub(crate) by_kind: BTreeMap<Kind, Tally>,
    pub(crate) false_leaks: Vec<u64>,
    pub(crate) missed: Vec<u64>,
    /// Decidable series judged wrong: seed, expected verdict, verdict.
    pub(crate) wrong_decidable: Vec<(u64, Verdict, Verdict)>,
}

pub(crate) fn report(outcomes: &[Outcome]) -> Report {
    let mut r = Report::default();
    for o in outcomes {
        r.overall.add(o);
        r.by_runtime.entry(o.runtime).or_default().add(o);
        r.by_family.entry(o.family).or_default().add(o);
        r.by_kind.entry(o.kind).or_default().add(o);
        if o.false_leak() {
            r.false_leaks.push(o.seed);
        }
        if o.missed_big_leak() {
            r.missed.push(o.seed);
        }
        if o.decidable && !o.correct {
            r.wrong_decidable.push((o.seed, o.expected, o.verdict));
        }
    }
    r
}

/// The report as a compact text table: one matrix per group, then up to `listed` seeds of
/// each kind of error.
pub(crate) fn render(r: &Report, listed: usize) -> String {
    let mut out = String::new();
    matrix(&mut out, "overall", &r.overall);
    let _ = writeln!(out, "overall, decidable series only, by expected verdict:");
    rows(&mut out, &r.overall.decidable_matrix);
    for (k, t) in &r.by_runtime {
        matrix(&mut out, &format!("runtime {}", k.name()), t);
    }
    for (k, t) in &r.by_family {
        matrix(&mut out, &format!("design {}", k.name()), t);
    }
    for (k, t) in &r.by_kind {
        matrix(&mut out, &format!("kind {}", k.name()), t);
    }
    let list = |v: &[u64]| {
        let shown: Vec<String> = v.iter().take(listed).map(|s| s.to_string()).collect();
        let more = v.len().saturating_sub(listed);
        let tail = if more > 0 {
            format!(" (+{more})")
        } else {
            String::new()
        };
        format!("{}{tail}", shown.join(" "))
    };
    let _ = writeln!(out, "seeds with a false leak: {}", list(&r.false_leaks));
    let _ = writeln!(out, "seeds with none for a big leak: {}", list(&r.missed));
    let wrong: Vec<String> = r
        .wrong_decidable
        .iter()
        .take(listed)
        .map(|(s, e, v)| format!("{s}:{e}->{v}"))
        .collect();
    let _ = writeln!(
        out,
        "decidable but wrong ({}): {}",
        r.wrong_decidable.len(),
        wrong.join(" ")
    );
    out
}

fn matrix(out: &mut String, title: &str, t: &Tally) {
    let _ = writeln!(
        out,
        "{title}: {} series, decidable {} (accuracy {:.3}), all right {:.3}, false leak {}, \
         none for a big leak {}",
        t.n,
        t.decidable,
        t.accuracy(),
        t.correct as f64 / t.n.max(1) as f64,
        t.false_leak,
        t.missed_big_leak
    );
    rows(out, &t.matrix);
}

fn rows(out: &mut String, m: &[[usize; 5]; 4]) {
    let _ = writeln!(
        out,
        "  {:<12}{:>7}{:>12}{:>9}{:>7}{:>14}",
        "truth", "leak", "time_growth", "bounded", "none", "inconclusive"
    );
    for (row, truth) in TruthKind::ALL.iter().enumerate() {
        let c = &m[row];
        if c.iter().sum::<usize>() == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:<12}{:>7}{:>12}{:>9}{:>7}{:>14}",
            truth.verdict().to_string(),
            c[0],
            c[1],
            c[2],
            c[3],
            c[4]
        );
    }
}
