//! Which stretch of the judged points the verdict is judged on: the last steady segment,
//! widened back over the segments before it that are too small alone, split off by a heap step,
//! or that agree with it ([`extend_consistent`]).

use super::segment::{Point, Span};
use super::verdict::{Estimate, MATERIAL_GROWTH, MIN_POINTS, MIN_REQUESTS};

/// Memory a single heap or arena step moves RSS by, at most, in the runtimes of the zoo (V8
/// and glibc grow in steps of 0.25-0.5 MiB); levels closer than this are one level.
pub(super) const HEAP_STEP: f64 = MATERIAL_GROWTH / 2.0;
/// The judged stretch covers at least this share of the requests after warm-up.
const MIN_JUDGED_SHARE: f64 = 1.0 / 3.0;

/// The last steady stretch to judge: the last segment, extended back over the segments before
/// it until it holds enough points and at least [`MIN_JUDGED_SHARE`] of the requests after
/// warm-up. A short tail after a step (RSS moves in steps of whole heap chunks) judged alone
/// looks like a steep slope; a pause in RSS growth while a leak refills memory the collector
/// freed looks like a plateau (seen: a 512 B/request leak flat for 29,000 of 200,000
/// requests, then growing again); and an idle tail (only time passes) is the very data that
/// tells growth with time from growth with traffic. So tails are merged in, never dropped.
pub(super) fn judged_span(spans: &[Span], pts: &[Point]) -> Span {
    let Some(last) = spans.last().copied().filter(|s| !s.is_empty()) else {
        return Span {
            start: 0,
            end: pts.len(),
        };
    };
    let need = requests_needed(pts);
    let mut start = last.start;
    for s in spans.iter().rev().skip(1) {
        let enough = last.end - start >= MIN_POINTS && pts[last.end - 1].r - pts[start].r >= need;
        if enough {
            break;
        }
        start = s.start;
    }
    // Earlier segments that sit within a heap step of where the judged stretch starts were
    // split off by a step of RSS, not by a change of behaviour: judge them too. A fill or a
    // warm-up moves memory by more and stays out.
    let before: Vec<Span> = spans
        .iter()
        .rev()
        .filter(|s| s.end <= start)
        .copied()
        .collect();
    for s in before {
        let level = first_level(&pts[start..last.end]);
        if pts[s.start..s.end]
            .iter()
            .any(|p| (p.m - level).abs() >= HEAP_STEP)
        {
            break;
        }
        start = s.start;
    }
    Span {
        start,
        end: last.end,
    }
}

/// Requests a stretch must hold to be judged alone: [`MIN_JUDGED_SHARE`] of those after
/// warm-up (all of `pts`), and never fewer than [`MIN_REQUESTS`].
fn requests_needed(pts: &[Point]) -> f64 {
    let total = pts[pts.len() - 1].r - pts[0].r;
    (total * MIN_JUDGED_SHARE).max(MIN_REQUESTS as f64)
}

/// Growth of the minima across a stretch: the level of its last points minus that of its first.
pub(super) fn stretch_growth(pts: &[Point]) -> f64 {
    let level = |it: &mut dyn Iterator<Item = &Point>| {
        it.take(3).map(|p| p.m).fold(f64::INFINITY, f64::min)
    };
    level(&mut pts.iter().rev()) - level(&mut pts.iter())
}

/// The level the judged series starts from: the lowest of its first few points.
pub(super) fn first_level(pts: &[Point]) -> f64 {
    pts.iter()
        .take(3)
        .map(|p| p.m)
        .fold(f64::INFINITY, f64::min)
}

/// `span` widened back over the segments before it while its per-request slope (from `fit`)
/// straddles `limit` and the segment before agrees with it: the two slopes differ by less than
/// their intervals' half-widths combined. Segmentation also splits a steady leak where several heaps happen to step
/// (seen: a Node cluster's three V8 heaps, judged on its last 3,876 of 10,000 requests, 1.1 KiB
/// per request with an interval of -377 B to 1.8 KiB); a segment that truly differs, a cache
/// filling before its plateau or a warm-up step, has a slope that differs by more and stays out. A stretch that already answers (interval wholly above or below) is not touched.
pub(super) fn extend_consistent(
    spans: &[Span],
    pts: &[Point],
    span: Span,
    limit: f64,
    fit: impl Fn(&[Point]) -> Estimate,
) -> Span {
    let mut cur = span;
    let mut est = fit(&pts[cur.start..cur.end]);
    while est.low <= limit && est.high > limit {
        let Some(prev) = spans.iter().rev().find(|s| s.start < cur.start) else {
            break;
        };
        let seg = &pts[prev.start..cur.start];
        if seg.len() < MIN_POINTS || seg[seg.len() - 1].r - seg[0].r < MIN_REQUESTS as f64 {
            break;
        }
        let other = fit(seg);
        // Two independent estimates agree when they differ by less than their half-widths
        // (each on the side facing the other) combined.
        let toward = |e: &Estimate, v: f64| {
            if v >= e.estimate {
                e.high - e.estimate
            } else {
                e.estimate - e.low
            }
        };
        let apart = (est.estimate - other.estimate).abs();
        if apart > toward(&est, other.estimate).hypot(toward(&other, est.estimate)) {
            break;
        }
        cur.start = prev.start;
        est = fit(&pts[cur.start..cur.end]);
    }
    cur
}

/// Where a plateau starts inside `span`, when segmentation missed the knee: the earliest of a
/// few evenly spaced points after which the stretch is flat (upper bound within `limit`), holds
/// at least [`MIN_JUDGED_SHARE`] of the requests after warm-up (as a plateau segmentation had
/// found would have to), and before which it grew faster than `limit` (lower bound). Only
/// sought when the whole stretch straddles `limit`: a fill and its plateau pooled in one
/// segment read as a middling slope (seen once in CI: a 1,000-entry LRU judged over the end of
/// its fill and its plateau, 303 B/request with 0 B to 942 B, against a 256 B limit).
pub(super) fn plateau_in(
    pts: &[Point],
    span: Span,
    limit: f64,
    fit: impl Fn(&[Point]) -> Estimate,
) -> Option<usize> {
    const CANDIDATES: usize = 16;
    let whole = fit(&pts[span.start..span.end]);
    if !(whole.low <= limit && whole.high > limit) || span.len() < 2 * MIN_POINTS {
        return None;
    }
    let need = requests_needed(pts);
    let last = pts[span.end - 1].r;
    let step = (span.len() / CANDIDATES).max(1);
    (span.start + MIN_POINTS..=span.end - MIN_POINTS)
        .step_by(step)
        .take_while(|&k| last - pts[k].r >= need)
        .find(|&k| fit(&pts[k..span.end]).high <= limit && fit(&pts[span.start..k]).low > limit)
}

/// A flat last segment that had to be judged together with a fill before it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatTail {
    /// Requests in the flat last segment.
    pub requests: f64,
    /// More requests at the same level that would let it be judged alone.
    pub more: f64,
}

/// `Some` when `judged` was widened back from the last segment over earlier ones that grew
/// faster than `limit` (lower bound), while the last segment alone is flat (upper bound within
/// `limit`). Such a stretch is two behaviours: a fill and a plateau too short to judge alone,
/// or a leak whose RSS paused while it refilled memory the collector freed. Its pooled slope
/// describes neither (seen: a 1,000-entry LRU, flat for its last 1,750 of 6,000 requests,
/// judged over all of them as a 1 KiB/request leak), so the verdict cannot be `leak`.
pub(super) fn flat_tail(
    spans: &[Span],
    pts: &[Point],
    judged: Span,
    limit: f64,
    fit: impl Fn(&[Point]) -> Estimate,
) -> Option<FlatTail> {
    let tail = spans.last().copied()?;
    if tail.start <= judged.start || tail.end != judged.end || tail.len() < MIN_POINTS {
        return None;
    }
    let before = &pts[judged.start..tail.start];
    if before.len() < MIN_POINTS {
        return None;
    }
    let flat = fit(&pts[tail.start..tail.end]).high <= limit;
    let grew = fit(before).low > limit;
    (flat && grew).then(|| {
        let requests = pts[tail.end - 1].r - pts[tail.start].r;
        // The tail is judged alone once it holds MIN_JUDGED_SHARE of the requests:
        // requests + x >= (total + x) / 3.
        let more = ((requests_needed(pts) - requests) / (1.0 - MIN_JUDGED_SHARE))
            .ceil()
            .max(MIN_REQUESTS as f64);
        FlatTail { requests, more }
    })
}

#[cfg(test)]
#[path = "stretch_tests.rs"]
mod tests;
