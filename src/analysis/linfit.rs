//! Least squares with several regressors: memory = a + b1·x1 + ... + bk·xk, with standard
//! errors and variance inflation factors (how collinear the regressors are).
//!
//! The traffic-vs-time model (memory = a + b·requests + c·seconds) and the per-endpoint model
//! (one requests column per endpoint) both use it. The VIFs say whether the run's design can
//! tell the regressors apart at all: at a constant rate requests and seconds rise together, the
//! VIF is huge, and no estimate of b or c alone can be trusted.

/// A fitted linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct LinFit {
    pub intercept: f64,
    /// One coefficient per regressor.
    pub coef: Vec<f64>,
    /// Standard error of each coefficient (assuming independent residuals).
    pub se: Vec<f64>,
    /// Variance inflation factor of each regressor: 1 = independent of the others.
    pub vif: Vec<f64>,
    pub resid: Vec<f64>,
    /// Residual degrees of freedom: n - k - 1.
    pub df: f64,
}

/// Quantile `p` of Student's t with `df` degrees of freedom (the normal's for df <= 0).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => dist.inverse_cdf(p),
        Err(_) => 1.959_963_984_540_054,
    }
}

/// Regressors whose correlation matrix has a pivot below this are treated as collinear.
const SINGULAR: f64 = 1e-10;

/// Fits y on the columns of `cols` (each as long as y) with an intercept. None when there are
/// not at least k + 2 points, a column is constant, or the columns are exactly collinear.
pub fn fit(cols: &[&[f64]], y: &[f64]) -> Option<LinFit> {
    let n = y.len();
    let k = cols.len();
    if k == 0 || n < k + 2 || cols.iter().any(|c| c.len() != n) {
        return None;
    }
    let nf = n as f64;
    let means: Vec<f64> = cols.iter().map(|c| c.iter().sum::<f64>() / nf).collect();
    let my = y.iter().sum::<f64>() / nf;
    let mut s = vec![vec![0.0; k]; k];
    let mut v = vec![0.0; k];
    for i in 0..n {
        let dy = y[i] - my;
        for a in 0..k {
            let da = cols[a][i] - means[a];
            v[a] += da * dy;
            for b in a..k {
                s[a][b] += da * (cols[b][i] - means[b]);
            }
        }
    }
    #[allow(clippy::needless_range_loop)] // a symmetric matrix: mirror the upper triangle
    for a in 0..k {
        for b in 0..a {
            s[a][b] = s[b][a];
        }
    }
    let d: Vec<f64> = (0..k).map(|a| s[a][a].sqrt()).collect();
    if d.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
        return None;
    }
    // The correlation matrix, inverted; its diagonal is the VIFs.
    let r: Vec<Vec<f64>> = (0..k)
        .map(|a| (0..k).map(|b| s[a][b] / (d[a] * d[b])).collect())
        .collect();
    let rinv = invert(r)?;
    let coef: Vec<f64> = (0..k)
        .map(|a| (0..k).map(|b| rinv[a][b] * v[b] / (d[a] * d[b])).sum())
        .collect();
    let intercept = my - coef.iter().zip(&means).map(|(c, m)| c * m).sum::<f64>();
    let resid: Vec<f64> = (0..n)
        .map(|i| y[i] - intercept - (0..k).map(|a| coef[a] * cols[a][i]).sum::<f64>())
        .collect();
    let df = (n - k - 1) as f64;
    let sigma2 = resid.iter().map(|e| e * e).sum::<f64>() / df;
    let se = (0..k)
        .map(|a| (sigma2 * rinv[a][a] / s[a][a]).max(0.0).sqrt())
        .collect();
    let vif = (0..k).map(|a| rinv[a][a]).collect();
    Some(LinFit {
        intercept,
        coef,
        se,
        vif,
        resid,
        df,
    })
}

/// For each regressor, the most its coefficient moves when one unit step (0 before some
/// point, 1 from it on) is added to y, over every place the step could fall.
///
/// Memory moves in steps (a heap chunk, an arena) that no regressor explains. A step that
/// happens to fall while one endpoint was favoured is read as that endpoint's slope, and the
/// least-squares standard error, which assumes many small independent errors, does not cover it.
/// Multiplied by the size of the largest unexplained jump, this is the error one such step can
/// cause. None when the columns cannot be fitted.
pub fn step_sensitivity(cols: &[&[f64]]) -> Option<Vec<f64>> {
    let n = cols.first()?.len();
    let mut worst = vec![0.0f64; cols.len()];
    let mut step = vec![0.0; n];
    for k in 1..n {
        step[k - 1] = 0.0;
        step[k..].iter_mut().for_each(|v| *v = 1.0);
        let f = fit(cols, &step)?;
        for (w, c) in worst.iter_mut().zip(&f.coef) {
            *w = w.max(c.abs());
        }
    }
    Some(worst)
}

/// Gauss–Jordan inverse with partial pivoting; None when (nearly) singular.
fn invert(mut a: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let k = a.len();
    let mut inv: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for col in 0..k {
        let pivot = (col..k).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < SINGULAR {
            return None;
        }
        a.swap(col, pivot);
        inv.swap(col, pivot);
        let p = a[col][col];
        for j in 0..k {
            a[col][j] /= p;
            inv[col][j] /= p;
        }
        for row in 0..k {
            if row != col {
                let f = a[row][col];
                if f != 0.0 {
                    for j in 0..k {
                        a[row][j] -= f * a[col][j];
                        inv[row][j] -= f * inv[col][j];
                    }
                }
            }
        }
    }
    Some(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Reference values from standard t tables.
        assert!((t_quantile(0.975, 1.0) - 12.706).abs() < 1e-3);
        assert!((t_quantile(0.975, 10.0) - 2.228).abs() < 1e-3);
        assert!((t_quantile(0.975, 30.0) - 2.042).abs() < 1e-3);
    }

    #[test]
    fn recovers_two_coefficients_exactly() {
        let x1: Vec<f64> = (0..20).map(|i| f64::from(i * i % 7)).collect();
        let x2: Vec<f64> = (0..20).map(f64::from).collect();
        let y: Vec<f64> = (0..20).map(|i| 10.0 + 3.0 * x1[i] - 2.0 * x2[i]).collect();
        let f = fit(&[&x1, &x2], &y).unwrap();
        assert!(
            (f.coef[0] - 3.0).abs() < 1e-9 && (f.coef[1] + 2.0).abs() < 1e-9,
            "{f:?}"
        );
        assert!((f.intercept - 10.0).abs() < 1e-8);
        assert!(f.se.iter().all(|s| *s < 1e-6));
    }

    #[test]
    fn matches_a_worked_multiple_regression() {
        // y = [1, 3, 2, 5, 4, 6], x1 = [1..6], x2 = [0, 1, 0, 1, 0, 1]. Reference from
        // numpy.linalg.lstsq and the usual sigma^2 (X'X)^-1 formula:
        // b1 = 0.75, b2 = 1.583333, a = 0.083333; se(b1) = 0.0833333, se(b2) = 0.2846375;
        // corr(x1, x2) = 0.29277 -> VIF = 1/(1 - 0.085714) = 1.09375.
        let x1 = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let x2 = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0];
        let f = fit(&[&x1, &x2], &y).unwrap();
        assert!((f.coef[0] - 0.75).abs() < 1e-9, "{f:?}");
        assert!((f.coef[1] - 1.583_333_333).abs() < 1e-8, "{f:?}");
        assert!((f.intercept - 0.083_333_333).abs() < 1e-8, "{f:?}");
        assert!((f.se[0] - 0.083_333_33).abs() < 1e-7, "{f:?}");
        assert!((f.se[1] - 0.284_637_52).abs() < 1e-7, "{f:?}");
        assert!((f.vif[0] - 1.093_75).abs() < 1e-9, "{f:?}");
        assert_eq!(f.df, 3.0);
    }

    #[test]
    fn a_step_moves_a_slope_most_when_it_falls_mid_range() {
        // x = 0..9: a unit step at 5 gives slope cov(x, s)/var(x) = 12.5 / 82.5; a step
        // anywhere else moves it less.
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let s = step_sensitivity(&[&x]).unwrap();
        assert!((s[0] - 12.5 / 82.5).abs() < 1e-12, "{s:?}");
        // A regressor that only varies in a short stretch is moved far more by a step there.
        let short: Vec<f64> = (0..10).map(|i| f64::from(i.clamp(4, 6))).collect();
        let t = step_sensitivity(&[&short]).unwrap();
        assert!(t[0] > 3.0 * s[0], "{t:?}");
    }

    #[test]
    fn collinear_or_constant_columns_are_refused() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let twice: Vec<f64> = x.iter().map(|v| 2.0 * v + 1.0).collect();
        let y = x.clone();
        assert!(fit(&[&x, &twice], &y).is_none());
        assert!(fit(&[&[1.0; 10]], &y).is_none());
        assert!(fit(&[&x], &y[..2]).is_none());
    }
}
