//! Tests of the judged stretch: which segments the verdict is judged on.

use super::*;

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
