//! Ordinary least squares with a confidence interval for the slope.
//!
//! The first verdict fits memory = a + b * requests and reports b with a two-sided 95%
//! interval from Student's t. Kept separate so the fuller analysis can reuse or replace it.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A fitted slope with its two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlopeFit {
    pub slope: f64,
    pub low: f64,
    pub high: f64,
    pub intercept: f64,
    /// Points used.
    pub n: usize,
}

/// Least-squares fit of y on x, with a `level` (e.g. 0.95) interval for the slope.
/// None when there are fewer than 3 points or x does not vary.
pub fn ols(x: &[f64], y: &[f64], level: f64) -> Option<SlopeFit> {
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = x[..n].iter().sum::<f64>() / nf;
    let my = y[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        let dx = x[i] - mx;
        sxx += dx * dx;
        sxy += dx * (y[i] - my);
    }
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = (0..n)
        .map(|i| {
            let r = y[i] - (intercept + slope * x[i]);
            r * r
        })
        .sum();
    let df = nf - 2.0;
    let se = (sse / df / sxx).sqrt();
    let t = t_quantile(0.5 + level / 2.0, df);
    Some(SlopeFit {
        slope,
        low: slope - t * se,
        high: slope + t * se,
        intercept,
        n,
    })
}

/// Quantile `p` of Student's t with `df` degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => dist.inverse_cdf(p),
        // Only reachable with df <= 0, which ols() rules out; fall back to the normal quantile.
        Err(_) => 1.959_963_984_540_054,
    }
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
    fn exact_line_has_zero_width_interval() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let y: Vec<f64> = x.iter().map(|v| 5.0 + 3.0 * v).collect();
        let f = ols(&x, &y, 0.95).unwrap();
        assert!((f.slope - 3.0).abs() < 1e-12);
        assert!((f.intercept - 5.0).abs() < 1e-9);
        assert!((f.high - f.low).abs() < 1e-9);
    }

    #[test]
    fn interval_matches_a_worked_example() {
        // x = 1..5, y = [2, 4, 5, 4, 5]: slope 0.6, SE = sqrt(2.4/3/10) = 0.28284,
        // t(0.975, 3) = 3.18245 -> half width 0.90014 (checked with R's confint(lm(y ~ x))).
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        let f = ols(&x, &y, 0.95).unwrap();
        assert!((f.slope - 0.6).abs() < 1e-12);
        assert!((f.low - (0.6 - 0.900_14)).abs() < 1e-4, "{f:?}");
        assert!((f.high - (0.6 + 0.900_14)).abs() < 1e-4, "{f:?}");
    }

    #[test]
    fn degenerate_inputs_give_none() {
        assert!(ols(&[1.0, 2.0], &[1.0, 2.0], 0.95).is_none());
        assert!(ols(&[3.0, 3.0, 3.0], &[1.0, 2.0, 3.0], 0.95).is_none());
    }
}
