//! Growth with time: memory = a + b·requests + c·seconds over the judged stretch, trusted only
//! when the load design told requests and seconds apart.
//!
//! Both are cumulative, so they rise together; only a design whose phases ran at clearly
//! different levels (idle next to busy, one rate 1.5 times another) separates them. Then c is
//! taken robustly from the idle stretches (requests unchanged: only time can move memory
//! there) when they hold enough points, else from the joint least-squares fit.

use super::linfit::{self, t_quantile};
use super::robust::{autocorr_inflation, lag1, median, theil_sen_grouped};
use super::series::Point;
use super::verdict::Estimate;
use crate::timeline::Timeline;

/// Above this variance inflation factor requests and seconds rose together too closely
/// (correlation > 0.99975) for their effects to be told apart. Even a well-varied run (busy,
/// idle and half-rate phases) has a VIF of ~300; a constant-rate run, where only the rate's
/// jitter separates them, one in the tens of thousands.
pub(crate) const VIF_MAX: f64 = 2000.0;
/// Idle points needed to measure growth with time from the idle stretches alone.
const MIN_IDLE_POINTS: usize = 8;

/// Growth with time over a stretch, when the design separated it from growth with requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct TimeSlope {
    /// Bytes per second (0 with an infinite interval... never used when not separable).
    pub per_second: Estimate,
    /// True when requests and time were told apart.
    pub separable: bool,
    /// Mean requests per second over the stretch, to carry c's uncertainty into b's.
    pub rate: f64,
}

/// The 95% interval of a least-squares coefficient, widened for autocorrelated residuals.
pub(super) fn ols_estimate(coef: f64, se: f64, df: f64, inflation: f64) -> Estimate {
    let half = t_quantile(0.975, df.max(1.0)) * se * inflation.sqrt();
    Estimate {
        estimate: coef,
        low: coef - half,
        high: coef + half,
    }
}

/// True when the phases planned between `from_s` and `to_s` ran at clearly different load
/// levels (one at least 1.5 times another, or idle next to busy). A generator that falls
/// behind also varies the rate, but by accident and too little: a joint fit on that jitter
/// gave a steady 2.3 KiB/request Buffer leak a time slope of 775 KB/s.
pub(super) fn load_varied(timeline: &Timeline, from_s: f64, to_s: f64) -> bool {
    if timeline.phases.is_empty() {
        return true; // no plan recorded: the fit's own VIF decides
    }
    let levels: Vec<f64> = timeline
        .phases
        .iter()
        .filter(|p| p.end_s > from_s && p.start_s < to_s)
        .flat_map(|p| match p.concurrency {
            Some(c) => vec![c as f64],
            None => std::iter::once(p.rate).chain(p.ramp_to).collect(),
        })
        .collect();
    let hi = levels.iter().copied().fold(0.0, f64::max);
    let lo = levels.iter().copied().fold(f64::INFINITY, f64::min);
    hi > 0.0 && lo * 1.5 <= hi
}

/// Growth with time over `pts` (busy and idle), when `designed` and the fit agree that the
/// run separated it from growth with requests. `knee` is the request count where the
/// per-request model changes slope, if it does: the joint model then has both slopes, so a
/// cache that filled is not read as time.
pub(super) fn slope(pts: &[Point], designed: bool, knee: Option<f64>) -> TimeSlope {
    let r: Vec<f64> = pts.iter().map(|p| p.r).collect();
    let t: Vec<f64> = pts.iter().map(|p| p.t).collect();
    let m: Vec<f64> = pts.iter().map(|p| p.m).collect();
    let rate = linfit::fit(&[&t], &r).map_or(0.0, |g| g.coef[0].max(0.0));
    let (u, w): (Vec<f64>, Vec<f64>) = match knee {
        Some(k) => r.iter().map(|v| (v.min(k), (v - k).max(0.0))).unzip(),
        None => (r.clone(), Vec::new()),
    };
    let mut cols: Vec<&[f64]> = vec![&u];
    if knee.is_some() {
        cols.push(&w);
    }
    cols.push(&t);
    let joint = linfit::fit(&cols, &m).filter(|f| designed && f.vif.iter().all(|&v| v <= VIF_MAX));
    let Some(f) = joint else {
        return TimeSlope {
            per_second: Estimate::default(),
            separable: false,
            rate,
        };
    };
    let last = f.coef.len() - 1;
    let ols = ols_estimate(
        f.coef[last],
        f.se[last],
        f.df,
        autocorr_inflation(lag1(&f.resid)),
    );
    // The idle stretches measure it robustly; the joint model from every point: keep the
    // tighter.
    let per_second = match idle_slope(&r, &t, &m) {
        Some(g) if g.high - g.low <= ols.high - ols.low => g,
        _ => ols,
    };
    TimeSlope {
        per_second,
        separable: true,
        rate,
    }
}

/// Theil–Sen of memory on seconds pooled over the idle stretches (runs of points with the same
/// request count), each at its own level; None with too few idle points.
fn idle_slope(r: &[f64], t: &[f64], m: &[f64]) -> Option<Estimate> {
    let n = m.len();
    let mut groups: Vec<(&[f64], &[f64])> = Vec::new();
    let mut start = 0;
    for i in 1..=n {
        if i == n || r[i] != r[start] {
            if i - start >= 4 {
                groups.push((&t[start..i], &m[start..i]));
            }
            start = i;
        }
    }
    let idle_points: usize = groups.iter().map(|g| g.0.len()).sum();
    if idle_points < MIN_IDLE_POINTS {
        return None;
    }
    let g = theil_sen_grouped(&groups, 0.95, 1.0)?;
    let resid: Vec<f64> = groups
        .iter()
        .flat_map(|(x, y)| {
            let level = median(
                &(0..x.len())
                    .map(|i| y[i] - g.slope * x[i])
                    .collect::<Vec<_>>(),
            );
            (0..x.len()).map(move |i| y[i] - g.slope * x[i] - level)
        })
        .collect();
    let infl = autocorr_inflation(lag1(&resid));
    let ci = theil_sen_grouped(&groups, 0.95, infl).unwrap_or(g);
    Some(Estimate {
        estimate: g.slope,
        low: ci.low,
        high: ci.high,
    })
}
