//! The per-request model of memory: one slope, or two joined at a knee.
//!
//! Over the busy points of the judged stretch (memory against cumulative requests, corrected
//! for growth with time when the design measured it), two explicit models compete:
//! - **linear**: m = a + b·r — flat when b is within the limit, a leak when it is above;
//! - **knee**: m = a + b1·min(r, k) + b2·max(r − k, 0), continuous at an unknown request count
//!   k — a cache that fills and stops (b2 ≈ 0), a warm-up that settles, a leak that starts late.
//!
//! Least squares picks the knee; a BIC whose sample size is discounted for the residuals'
//! lag-1 autocorrelation (memory series are smooth, so n points carry far fewer than n
//! independent errors) says whether the knee earns its two extra parameters, and a knee is
//! kept only when the slope really changes there: one is at least twice the other, counting
//! a slope under the limit as the limit. A steady leak whose slope wobbles by a tenth (GC
//! timing, page faults) fits a knee better than a line, but the line measures it over more
//! requests. The verdict is
//! read off the slope of the *last* stretch, so a knee must leave enough requests after it to
//! measure that slope; a preferred knee with too few requests after it says "run longer".
//! Idle samples never enter: they say nothing about growth per request.

use super::linfit;
use super::robust::{autocorr_inflation, lag1};
use super::series::Point;

/// Fewer points than this on either side of a knee cannot support it.
pub(super) const MIN_SIDE: usize = 5;
/// Residual variance below a page squared is not noise worth modelling: a perfectly flat
/// series would otherwise give the knee an infinite likelihood gain.
const NOISE_FLOOR: f64 = 4096.0 * 4096.0;
/// A knee must change the slope by at least this factor.
const SLOPE_CHANGE: f64 = 2.0;
/// Extra parameters of the knee model over the linear one: its position and second slope.
const KNEE_PARAMS: f64 = 2.0;

/// Which model the busy points chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// One slope over the whole stretch.
    Linear,
    /// Two slopes; the last stretch starts at point `at` and holds enough requests to judge.
    Knee { at: usize },
    /// The data prefer a knee at `at`, but too few requests follow it to judge the slope there.
    ShortTail { at: usize },
}

/// Chooses between the linear and the knee model for `ys` (memory) against the points'
/// requests. `need` is the requests the last stretch must hold to be judged alone; `limit`
/// the bytes per request a leak exceeds.
pub(super) fn choose(pts: &[Point], ys: &[f64], need: f64, limit: f64) -> Shape {
    let n = pts.len();
    if n < 2 * MIN_SIDE {
        return Shape::Linear;
    }
    let x: Vec<f64> = pts.iter().map(|p| p.r).collect();
    let Some(lin) = linfit::fit(&[&x], ys) else {
        return Shape::Linear;
    };
    let Some((at, knee)) = best_knee(&x, ys) else {
        return Shape::Linear;
    };
    let floor = n as f64 * NOISE_FLOOR;
    let rss = |r: &[f64]| r.iter().map(|e| e * e).sum::<f64>().max(floor);
    let n_eff = n as f64 / autocorr_inflation(lag1(&knee.resid));
    let gain = n_eff * (rss(&lin.resid) / rss(&knee.resid)).ln();
    let (b1, b2) = (knee.coef[0].max(limit), knee.coef[1].max(limit));
    if gain <= KNEE_PARAMS * n_eff.max(2.0).ln() || b1.max(b2) < SLOPE_CHANGE * b1.min(b2) {
        return Shape::Linear;
    }
    if x[n - 1] - x[at] >= need {
        Shape::Knee { at }
    } else {
        Shape::ShortTail { at }
    }
}

/// The least-squares knee: the point index from which the second slope applies, and its fit.
fn best_knee(x: &[f64], ys: &[f64]) -> Option<(usize, linfit::LinFit)> {
    let n = x.len();
    let mut best: Option<(usize, linfit::LinFit, f64)> = None;
    for k in MIN_SIDE..=n - MIN_SIDE {
        let xk = x[k];
        // A knee needs requests on both sides of it.
        if xk <= x[0] || xk >= x[n - 1] {
            continue;
        }
        let u: Vec<f64> = x.iter().map(|v| v.min(xk)).collect();
        let w: Vec<f64> = x.iter().map(|v| (v - xk).max(0.0)).collect();
        let Some(f) = linfit::fit(&[&u, &w], ys) else {
            continue;
        };
        let rss: f64 = f.resid.iter().map(|e| e * e).sum();
        if best.as_ref().is_none_or(|b| rss < b.2) {
            best = Some((k, f, rss));
        }
    }
    best.map(|(k, f, _)| (k, f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(f: impl Fn(f64) -> f64) -> (Vec<Point>, Vec<f64>) {
        let p: Vec<Point> = (0..80)
            .map(|i| {
                let r = f64::from(i) * 100.0;
                let wobble = f64::from(i * 7919 % 101) / 50.0 - 1.0;
                Point {
                    t: f64::from(i),
                    r,
                    ep: vec![r],
                    m: 50e6 + f(r) + 30_000.0 * wobble,
                    busy: true,
                }
            })
            .collect();
        let ys = p.iter().map(|q| q.m).collect();
        (p, ys)
    }

    #[test]
    fn a_steady_leak_is_linear() {
        let (p, ys) = pts(|r| 1000.0 * r);
        assert_eq!(choose(&p, &ys, 2000.0, 128.0), Shape::Linear);
    }

    #[test]
    fn a_leak_that_slows_but_stays_above_the_limit_is_linear() {
        let (p, ys) = pts(|r| 1000.0 * r.min(3000.0) + 600.0 * (r - 3000.0).max(0.0));
        assert_eq!(choose(&p, &ys, 2000.0, 128.0), Shape::Linear);
    }

    #[test]
    fn flat_memory_is_linear_with_no_slope() {
        let (p, ys) = pts(|_| 0.0);
        assert_eq!(choose(&p, &ys, 2000.0, 128.0), Shape::Linear);
    }

    #[test]
    fn a_cache_that_fills_has_a_knee_where_it_filled() {
        let (p, ys) = pts(|r| 1000.0 * r.min(3000.0));
        match choose(&p, &ys, 2000.0, 128.0) {
            Shape::Knee { at } => assert!((p[at].r - 3000.0).abs() <= 200.0, "{at}"),
            s => panic!("{s:?}"),
        }
        // The same fill judged against a longer need: a preferred knee with a short tail.
        assert!(matches!(
            choose(&p, &ys, 6000.0, 128.0),
            Shape::ShortTail { .. }
        ));
    }
}
