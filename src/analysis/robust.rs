//! Rank-based trend statistics: the Theil–Sen slope with Sen's (1968) confidence interval and
//! the Mann–Kendall trend test with tie correction.
//!
//! Both are robust to the outliers and skew memory series have (a GC that returns pages, a
//! burst of allocation): one wild sample moves a median of pairwise slopes very little. Their
//! variances assume independent samples; memory samples are autocorrelated, so callers pass
//! an `inflation` factor (see [`autocorr_inflation`]) that widens the interval and the test's
//! variance accordingly (the "effective sample size" correction).

use statrs::distribution::{ContinuousCDF, Normal};

/// The standard normal quantile at `p`.
pub fn z_quantile(p: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.inverse_cdf(p.clamp(1e-12, 1.0 - 1e-12)),
        Err(_) => 1.959_963_984_540_054,
    }
}

/// The standard normal CDF at `z`.
fn phi(z: f64) -> f64 {
    match Normal::new(0.0, 1.0) {
        Ok(n) => n.cdf(z),
        Err(_) => 0.5,
    }
}

/// Sum of t(t-1)(2t+5) over groups of equal values: the tie correction of Kendall's S variance.
fn tie_term(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mut sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i + 1;
        while j < v.len() && v[j] == v[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        sum += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    sum
}

/// Variance of Kendall's S for `n` values, less the tie terms.
fn s_variance(n: usize, ties: f64) -> f64 {
    let n = n as f64;
    ((n * (n - 1.0) * (2.0 * n + 5.0) - ties) / 18.0).max(0.0)
}

/// A Theil–Sen fit: the median pairwise slope, its interval, and the median intercept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TheilSen {
    pub slope: f64,
    pub low: f64,
    pub high: f64,
    /// median(y - slope * x).
    pub intercept: f64,
    /// Pairs with distinct x, over which the median is taken.
    pub pairs: usize,
}

/// Theil–Sen slope of y on x with a two-sided `level` interval by Sen's (1968) equation 2.6
/// (variance of S less the ties in x and in y, as in SciPy's `theilslopes`), the variance
/// multiplied by `inflation` (1 for independent samples). None with fewer than 3 points or
/// when x never varies.
pub fn theil_sen(x: &[f64], y: &[f64], level: f64, inflation: f64) -> Option<TheilSen> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    for i in 0..n {
        for j in (i + 1)..n {
            let dx = x[j] - x[i];
            if dx != 0.0 {
                slopes.push((y[j] - y[i]) / dx);
            }
        }
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let nt = slopes.len();
    let slope = median_sorted(&slopes);
    let mut resid: Vec<f64> = (0..n).map(|i| y[i] - slope * x[i]).collect();
    resid.sort_unstable_by(f64::total_cmp);
    let intercept = median_sorted(&resid);

    let var = (s_variance(n, tie_term(&x[..n]) + tie_term(&y[..n])) * inflation.max(1.0)).max(0.0);
    let z = z_quantile(0.5 + level / 2.0);
    let c = z * var.sqrt();
    let nt_f = nt as f64;
    // 0-based order statistics, rounded half to even like NumPy so the reference values match.
    let upper = (((nt_f + c) / 2.0).round_ties_even() as usize).min(nt - 1);
    let lower = ((((nt_f - c) / 2.0).round_ties_even() - 1.0).max(0.0) as usize).min(nt - 1);
    Some(TheilSen {
        slope,
        low: slopes[lower],
        high: slopes[upper],
        intercept,
        pairs: nt,
    })
}

/// Theil–Sen pooled over groups, in the manner of the seasonal Kendall slope (Hirsch et al.
/// 1982): pairwise slopes only within each group, the interval from the summed variances of
/// the groups' S. Used for growth with time over idle stretches, where each stretch has its own
/// level but the same slope. None when no group has two distinct x values.
pub fn theil_sen_grouped(
    groups: &[(&[f64], &[f64])],
    level: f64,
    inflation: f64,
) -> Option<TheilSen> {
    let mut slopes = Vec::new();
    let mut var = 0.0;
    for (x, y) in groups {
        let n = x.len().min(y.len());
        if n < 2 {
            continue;
        }
        for i in 0..n {
            for j in (i + 1)..n {
                let dx = x[j] - x[i];
                if dx != 0.0 {
                    slopes.push((y[j] - y[i]) / dx);
                }
            }
        }
        var += s_variance(n, tie_term(&x[..n]) + tie_term(&y[..n]));
    }
    if slopes.is_empty() {
        return None;
    }
    slopes.sort_unstable_by(f64::total_cmp);
    let nt = slopes.len();
    let slope = median_sorted(&slopes);
    let c = z_quantile(0.5 + level / 2.0) * (var * inflation.max(1.0)).sqrt();
    let nt_f = nt as f64;
    let upper = (((nt_f + c) / 2.0).round_ties_even() as usize).min(nt - 1);
    let lower = ((((nt_f - c) / 2.0).round_ties_even() - 1.0).max(0.0) as usize).min(nt - 1);
    Some(TheilSen {
        slope,
        low: slopes[lower],
        high: slopes[upper],
        intercept: 0.0,
        pairs: nt,
    })
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `v` (0 when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable_by(f64::total_cmp);
    median_sorted(&s)
}

/// The Mann–Kendall test of a monotonic trend in `y` taken in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Kendall's S: concordant minus discordant pairs.
    pub s: f64,
    /// Variance of S after the tie correction (and inflation).
    pub var_s: f64,
    /// Continuity-corrected normal score.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Mann–Kendall on `y` in the given order, with the tie correction and the variance
/// multiplied by `inflation`. None with fewer than 3 values.
pub fn mann_kendall(y: &[f64], inflation: f64) -> Option<MannKendall> {
    let n = y.len();
    if n < 3 {
        return None;
    }
    let mut s = 0.0;
    for i in 0..n {
        for j in (i + 1)..n {
            s += match y[j].partial_cmp(&y[i]) {
                Some(std::cmp::Ordering::Greater) => 1.0,
                Some(std::cmp::Ordering::Less) => -1.0,
                _ => 0.0,
            };
        }
    }
    let var_s = s_variance(n, tie_term(y)) * inflation.max(1.0);
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let p = (2.0 * (1.0 - phi(z.abs()))).clamp(0.0, 1.0);
    Some(MannKendall { s, var_s, z, p })
}

/// Lag-1 autocorrelation of `resid`, clamped to 0..=0.9 (negative values give no inflation).
pub fn lag1(resid: &[f64]) -> f64 {
    let n = resid.len();
    if n < 4 {
        return 0.0;
    }
    let mean = resid.iter().sum::<f64>() / n as f64;
    let d: Vec<f64> = resid.iter().map(|r| r - mean).collect();
    let den: f64 = d.iter().map(|v| v * v).sum();
    if den <= 0.0 {
        return 0.0;
    }
    let num: f64 = d.windows(2).map(|w| w[0] * w[1]).sum();
    (num / den).clamp(0.0, 0.9)
}

/// Variance inflation for AR(1)-like residuals with lag-1 autocorrelation `rho`:
/// n / n_eff = (1 + rho) / (1 - rho).
pub fn autocorr_inflation(rho: f64) -> f64 {
    let r = rho.clamp(0.0, 0.9);
    (1.0 + r) / (1.0 - r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn theil_sen_matches_scipy() {
        // scipy.stats.theilslopes(y, x, 0.95, method='joint') (SciPy 1.17.1):
        // slope 0.708333, intercept 1.458333, low -1.0, high 2.0 (ties in y shrink the variance).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        let f = theil_sen(&x, &y, 0.95, 1.0).unwrap();
        assert!(close(f.slope, 0.708_333_333, 1e-9), "{f:?}");
        assert!(close(f.intercept, 1.458_333_333, 1e-9), "{f:?}");
        assert!(
            close(f.low, -1.0, 1e-12) && close(f.high, 2.0, 1e-12),
            "{f:?}"
        );
    }

    #[test]
    fn theil_sen_interval_matches_scipy_on_a_longer_series() {
        // y = 3x + deterministic wobble, x = 0..30 with a repeated x value (an idle window).
        // Reference: scipy.stats.theilslopes(y, x, 0.95, method='joint') -> slope 3.02, intercept -0.41,
        // low 2.875, high 3.3333333.
        let (x, y) = wobble_series();
        let f = theil_sen(&x, &y, 0.95, 1.0).unwrap();
        assert!(close(f.slope, 3.02, 1e-9), "{f:?}");
        assert!(close(f.intercept, -0.41, 1e-9), "{f:?}");
        assert!(close(f.low, 2.875, 1e-9), "{f:?}");
        assert!(close(f.high, 3.333_333_333, 1e-9), "{f:?}");
        // Inflating the variance widens the interval and keeps the slope.
        let g = theil_sen(&x, &y, 0.95, 3.0).unwrap();
        assert_eq!(g.slope, f.slope);
        assert!(
            g.low <= f.low && g.high >= f.high && g.high - g.low > f.high - f.low,
            "{g:?}"
        );
    }

    pub(super) fn wobble_series() -> (Vec<f64>, Vec<f64>) {
        let mut x: Vec<f64> = (0..30).map(f64::from).collect();
        x[10] = 9.0;
        let y = x
            .iter()
            .enumerate()
            .map(|(i, v)| 3.0 * v + ((i * 37 % 11) as f64 - 5.0))
            .collect();
        (x, y)
    }

    #[test]
    fn grouped_theil_sen_pools_slopes_within_groups_only() {
        // Two groups with slope 2 and very different levels: the pooled slope ignores the jump.
        let (x1, y1) = ([0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.1, 6.0]);
        let (x2, y2) = ([10.0, 11.0, 12.0, 13.0], [500.0, 502.0, 503.9, 506.0]);
        let g = theil_sen_grouped(&[(&x1, &y1), (&x2, &y2)], 0.95, 1.0).unwrap();
        assert_eq!(g.pairs, 12);
        assert!((g.slope - 2.0).abs() < 1e-9, "{g:?}");
        assert!(g.low <= 2.0 && g.high >= 2.0, "{g:?}");
        // One group alone equals the ordinary estimator.
        let one = theil_sen_grouped(&[(&x1, &y1)], 0.95, 1.0).unwrap();
        let plain = theil_sen(&x1, &y1, 0.95, 1.0).unwrap();
        assert_eq!(
            (one.slope, one.low, one.high),
            (plain.slope, plain.low, plain.high)
        );
    }

    #[test]
    fn mann_kendall_matches_a_hand_computation() {
        // y = [1, 2, 3, 2, 4]: S = 8 - 1 = 7; one tie of 2 -> Var = (5*4*15 - 2*1*9)/18 = 15.667;
        // Z = (7 - 1)/sqrt(15.667) = 1.515873; p = 2(1 - Phi(1.515873)) = 0.129551.
        let m = mann_kendall(&[1.0, 2.0, 3.0, 2.0, 4.0], 1.0).unwrap();
        assert_eq!(m.s, 7.0);
        assert!(close(m.var_s, 15.666_667, 1e-6), "{m:?}");
        assert!(close(m.z, 1.515_873, 1e-6), "{m:?}");
        assert!(close(m.p, 0.129_551, 1e-5), "{m:?}");
    }

    #[test]
    fn mann_kendall_matches_a_longer_reference() {
        // The wobble series, checked with a direct Python computation (SciPy's normal CDF):
        // S = 410, Var(S) = 3140.6667 (two tied pairs), Z = 7.298143, p = 2.92e-13.
        let (_, y) = wobble_series();
        let m = mann_kendall(&y, 1.0).unwrap();
        assert_eq!(m.s, 410.0, "{m:?}");
        assert!(close(m.var_s, 3_140.666_667, 1e-9), "{m:?}");
        assert!(close(m.z, 7.298_143_28, 1e-8), "{m:?}");
        assert!(m.p < 1e-12);
        let flat = mann_kendall(&[5.0, 5.0, 5.0, 5.0], 1.0).unwrap();
        assert_eq!((flat.z, flat.p), (0.0, 1.0));
    }

    #[test]
    fn autocorrelation_of_a_trend_free_alternation_gives_no_inflation() {
        assert_eq!(lag1(&[1.0, -1.0, 1.0, -1.0, 1.0, -1.0]), 0.0);
        let smooth: Vec<f64> = (0..40).map(|i| (f64::from(i) / 6.0).sin()).collect();
        let rho = lag1(&smooth);
        assert!(rho > 0.8, "{rho}");
        assert!(autocorr_inflation(rho) > 9.0);
        assert!((z_quantile(0.975) - 1.959_964).abs() < 1e-5);
    }
}
