//! Tests of the judged stretch: which segments the verdict is judged on.

use super::*;
use crate::analysis::verdict::Estimate;

/// Points one second apart; `r` gives the cumulative requests at each.
fn pts(r: impl Fn(usize) -> f64, n: usize) -> Vec<Point> {
    (0..n)
        .map(|i| Point {
            t: i as f64,
            r: r(i),
            ep: vec![r(i)],
            m: 1e6,
        })
        .collect()
}

/// A fill: memory climbs 10 MiB over the first `fill` points, then stays level.
fn filled(mut p: Vec<Point>, fill: usize) -> Vec<Point> {
    for (i, x) in p.iter_mut().enumerate() {
        x.m = 1e6 + 10.0 * MIB * (i.min(fill) as f64 / fill as f64);
    }
    p
}

const MIB: f64 = 1024.0 * 1024.0;

#[test]
fn an_idle_tail_is_judged_with_the_busy_segment_before_it() {
    // 30 busy points (100 requests each), then 12 idle ones: a segment of 0 requests. The
    // idle tail is what tells time from traffic, so it stays in the judged stretch.
    let p = pts(|i| 100.0 * i.min(30) as f64, 42);
    let spans = [Span { start: 0, end: 30 }, Span { start: 30, end: 42 }];
    assert_eq!(judged_span(&spans, &p), Span { start: 0, end: 42 });
}

#[test]
fn a_plateau_after_a_fill_is_judged_alone_when_it_holds_a_third_of_the_requests() {
    // 100 requests a point: the plateau (points 20..42) holds 2,100 requests, half the run.
    let q = filled(pts(|i| 100.0 * i as f64, 42), 20);
    let spans = [Span { start: 0, end: 20 }, Span { start: 20, end: 42 }];
    assert_eq!(judged_span(&spans, &q), Span { start: 20, end: 42 });
    // A flat tail of 1/8 of the requests after growth is not judged alone: it may be a
    // leak refilling freed memory.
    let spans = [Span { start: 0, end: 36 }, Span { start: 36, end: 42 }];
    let r = filled(pts(|i| 100.0 * i as f64, 42), 36);
    assert_eq!(judged_span(&spans, &r), Span { start: 0, end: 42 });
}

#[test]
fn segments_split_by_a_heap_step_are_judged_together() {
    // Level, a 0.35 MiB step at point 30, level: one behaviour, judged as one stretch.
    let mut p = pts(|i| 100.0 * i as f64, 90);
    for (i, x) in p.iter_mut().enumerate() {
        x.m = 50.0 * MIB + if i >= 30 { 0.35 * MIB } else { 0.0 };
    }
    let spans = [Span { start: 0, end: 30 }, Span { start: 30, end: 90 }];
    assert_eq!(judged_span(&spans, &p), Span { start: 0, end: 90 });
}

#[test]
fn growth_is_measured_between_the_floors_at_both_ends() {
    let mut p = pts(|i| 10.0 * i as f64, 10);
    for (i, x) in p.iter_mut().enumerate() {
        x.m = 1e6 + 1e5 * i as f64;
    }
    assert_eq!(
        stretch_growth(&p),
        1e5 * 7.0,
        "min of last three (7) minus min of first three (0)"
    );
}

#[test]
fn segments_too_small_alone_are_merged_into_one_stretch() {
    // Three short segments of 2 requests a point: none reaches 200 requests alone.
    let p = pts(|i| 2.0 * i as f64, 120);
    let spans = [
        Span { start: 0, end: 40 },
        Span { start: 40, end: 80 },
        Span {
            start: 80,
            end: 120,
        },
    ];
    assert_eq!(judged_span(&spans, &p), Span { start: 0, end: 120 });
    assert_eq!(judged_span(&[], &p), Span { start: 0, end: 120 });
}

/// The per-request slope the verdict fits (one rate: Theil–Sen with Sen's interval).
fn slope(p: &[Point]) -> Estimate {
    super::super::verdict::fit_stretch(p, false).per_request
}

/// Heap-step noise: a fixed pseudo-random level in -`amp`..`amp` per point.
fn steps(i: usize, amp: f64) -> f64 {
    amp * (((i * 7919 + 13) % 101) as f64 / 50.0 - 1.0)
}

#[test]
fn a_leak_split_by_heap_steps_is_judged_over_the_segments_that_agree() {
    // 1,000 B/request, 50 requests a point, with steps of up to 0.7 MiB: the last 20 points
    // alone (1,000 requests, ~1 MB of growth) cannot tell the slope from the 256 B limit.
    let mut p = pts(|i| 50.0 * i as f64, 60);
    for (i, x) in p.iter_mut().enumerate() {
        x.m = 50.0 * MIB + 1000.0 * x.r + steps(i, 0.7 * MIB);
    }
    let spans = [Span { start: 0, end: 40 }, Span { start: 40, end: 60 }];
    let tail = slope(&p[40..]);
    assert!(
        tail.low <= 256.0 && tail.high > 256.0,
        "tail straddles: {tail:?}"
    );
    let got = extend_consistent(&spans, &p, spans[1], 256.0, slope);
    assert_eq!(got, Span { start: 0, end: 60 });
    let all = slope(&p);
    assert!(all.low > 256.0, "the whole stretch answers: {all:?}");
}

#[test]
fn a_noisy_plateau_is_not_widened_over_the_fill_before_it() {
    // A fill of 10 MiB over 2,000 requests (~5 KiB each), then a plateau with the same steps:
    // the plateau alone straddles the limit, but the fill's slope differs from its own by far
    // more than the two intervals allow (without that check the fill would be judged too).
    let mut p = filled(pts(|i| 50.0 * i as f64, 60), 40);
    for (i, x) in p.iter_mut().enumerate().skip(40) {
        x.m += steps(i + 5, 0.7 * MIB);
    }
    let spans = [Span { start: 0, end: 40 }, Span { start: 40, end: 60 }];
    let tail = slope(&p[40..]);
    assert!(
        tail.low <= 256.0 && tail.high > 256.0,
        "tail straddles: {tail:?}"
    );
    assert_eq!(
        extend_consistent(&spans, &p, spans[1], 256.0, slope),
        spans[1]
    );
    // A stretch that already answers is left as it is, whatever came before.
    let mut q = pts(|i| 50.0 * i as f64, 60);
    for x in q.iter_mut() {
        x.m = 50.0 * MIB + 3000.0 * x.r;
    }
    assert_eq!(
        extend_consistent(&spans, &q, spans[1], 256.0, slope),
        spans[1]
    );
}

#[test]
fn a_flat_tail_pooled_with_the_fill_before_it_is_flagged() {
    // A fill of 10 MiB over 36 points (~2.9 KiB per request), then 6 flat points: too few to
    // judge alone, so judged_span pools them with the fill; flat_tail says so.
    let p = filled(pts(|i| 100.0 * i as f64, 42), 36);
    let spans = [Span { start: 0, end: 36 }, Span { start: 36, end: 42 }];
    let judged = judged_span(&spans, &p);
    assert_eq!(judged, Span { start: 0, end: 42 });
    let tail = flat_tail(&spans, &p, judged, 256.0, slope).expect("a flat tail");
    assert_eq!(tail.requests, 500.0);
    // 4,100 requests in all: the tail alone needs a third, (4,100 / 3 - 500) / (2 / 3) more.
    assert_eq!(tail.more, 1300.0);
    // A steady leak split in two has no flat tail, and neither has a tail judged alone.
    let mut q = pts(|i| 100.0 * i as f64, 42);
    for x in q.iter_mut() {
        x.m = 50.0 * MIB + 1000.0 * x.r;
    }
    assert_eq!(flat_tail(&spans, &q, judged, 256.0, slope), None);
    assert_eq!(flat_tail(&spans, &p, spans[1], 256.0, slope), None);
}

#[test]
fn a_plateau_pooled_with_its_fill_in_one_segment_is_found() {
    // One segment holds the last 40% of a fill and the plateau after it, with heap-step noise:
    // pooled, the slope straddles 256 B; from the knee on it is flat.
    let mut p = filled(pts(|i| 50.0 * i as f64, 90), 40);
    for (i, x) in p.iter_mut().enumerate() {
        x.m += steps(i, 0.3 * MIB);
    }
    let span = Span { start: 24, end: 90 };
    let pooled = slope(&p[span.start..span.end]);
    assert!(pooled.low <= 256.0 && pooled.high > 256.0, "{pooled:?}");
    let k = plateau_in(&p, span, 256.0, slope).expect("the knee");
    assert!((34..=50).contains(&k), "plateau from point {k}");
    // A steady leak straddling the limit has no plateau to find.
    let mut q = pts(|i| 50.0 * i as f64, 90);
    for (i, x) in q.iter_mut().enumerate() {
        x.m = 50.0 * MIB + 300.0 * x.r + steps(i, 0.7 * MIB);
    }
    let e = slope(&q[24..]);
    assert!(e.low <= 256.0 && e.high > 256.0, "{e:?}");
    assert_eq!(plateau_in(&q, span, 256.0, slope), None);
}
