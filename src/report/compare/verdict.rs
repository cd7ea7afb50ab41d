//! The compare verdict: did the fix fix it?
//!
//! - `fixed`: before leaked, and after's 95% interval lies below the before slope and within
//!   after's limit;
//! - `regressed`: after leaks where before did not, or leaks clearly faster (intervals apart);
//! - `improved`: after's interval lies entirely below before's, without being a fix;
//! - `unchanged`: anything else (the intervals overlap, or a run has no fitted slope).
//!
//! Exit code 1 on `regressed` or whenever after still leaks.

use serde::{Deserialize, Serialize};

use crate::analysis::{Estimate, LatencySummary, Verdict};
use crate::units::format_size;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CompareVerdict {
    Fixed,
    Regressed,
    Improved,
    Unchanged,
}

impl std::fmt::Display for CompareVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CompareVerdict::Fixed => "fixed",
            CompareVerdict::Regressed => "regressed",
            CompareVerdict::Improved => "improved",
            CompareVerdict::Unchanged => "unchanged",
        })
    }
}

/// One side of a comparison: what its analysis found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Side {
    /// The run folder, as given.
    pub dir: String,
    pub scenario: String,
    pub metric: String,
    pub verdict: Verdict,
    pub reason: String,
    pub bytes_per_request: Estimate,
    /// False when the run has no fitted slope (too short); then the estimate means nothing.
    pub fitted: bool,
    pub limit_bytes_per_request: f64,
    pub requests: u64,
    pub achieved_rate: f64,
    pub growth_bytes: i64,
    pub latency_ms: LatencySummary,
}

/// `+2.1KiB per request (95% CI 2KiB to 2.2KiB)`.
pub fn slope_text(e: &Estimate) -> String {
    let sign = if e.estimate > 0.0 && format_size(e.estimate) != "0B" {
        "+"
    } else {
        ""
    };
    format!(
        "{sign}{} per request (95% CI {} to {})",
        format_size(e.estimate),
        format_size(e.low),
        format_size(e.high)
    )
}

/// The verdict and its one-sentence reason.
pub fn judge(before: &Side, after: &Side) -> (CompareVerdict, String) {
    let m = &after.metric;
    if !before.fitted || !after.fitted {
        let which = if !before.fitted {
            ("before", before)
        } else {
            ("after", after)
        };
        return (
            CompareVerdict::Unchanged,
            format!(
                "cannot compare slopes: the {} run has no fitted slope ({})",
                which.0, which.1.reason
            ),
        );
    }
    let (b, a) = (&before.bytes_per_request, &after.bytes_per_request);
    let limit = format_size(after.limit_bytes_per_request);
    let both = format!("before {}, after {}", slope_text(b), slope_text(a));
    let before_leaked = before.verdict == Verdict::Leak;
    let after_leaks = after.verdict == Verdict::Leak;
    let below_before = a.high < b.estimate;
    let within = a.high <= after.limit_bytes_per_request;
    if before_leaked && below_before && within {
        return (
            CompareVerdict::Fixed,
            format!("fixed: {m} {both}; after's interval is within the {limit} limit and excludes the before slope"),
        );
    }
    if after_leaks && (!before_leaked || a.low > b.high) {
        let how = if before_leaked {
            "leaks faster than before"
        } else {
            "leaks where before did not"
        };
        return (
            CompareVerdict::Regressed,
            format!("regressed: {m} {both}; after {how}, above the {limit} limit"),
        );
    }
    if a.high < b.low {
        let still = if after_leaks {
            format!("; the leak is still there, above the {limit} limit")
        } else if within {
            // Not `fixed` only because the before run was not a clear leak.
            format!(
                "; after is within the {limit} limit, but the before run was `{}`, not a clear leak",
                before.verdict
            )
        } else {
            format!("; after is not yet clearly within the {limit} limit")
        };
        return (
            CompareVerdict::Improved,
            format!("improved: {m} {both}{still}"),
        );
    }
    let still = if after_leaks {
        format!("; the leak is still there, above the {limit} limit")
    } else {
        String::new()
    };
    (
        CompareVerdict::Unchanged,
        format!("unchanged: {m} {both}; the intervals overlap{still}"),
    )
}

/// 1 on `regressed` or when after still leaks, else 0.
pub fn exit_code(verdict: CompareVerdict, after: &Side) -> i32 {
    if verdict == CompareVerdict::Regressed || after.verdict == Verdict::Leak {
        1
    } else {
        0
    }
}

/// Warnings about comparing unlike runs (compared anyway).
pub fn warnings(before: &Side, after: &Side) -> Vec<String> {
    let mut w = Vec::new();
    if before.scenario != after.scenario {
        w.push(format!(
            "the runs come from different scenarios (`{}` and `{}`); compared anyway",
            before.scenario, after.scenario
        ));
    }
    if before.metric != after.metric {
        w.push(format!(
            "the runs judge different metrics ({} and {}); slopes may not be comparable",
            before.metric, after.metric
        ));
    }
    let (rb, ra) = (before.achieved_rate, after.achieved_rate);
    if rb > 0.0 && ra > 0.0 && (ra / rb - 1.0).abs() > 0.25 {
        w.push(format!(
            "the achieved request rates differ ({rb:.0}/s and {ra:.0}/s); latency is not comparable"
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(verdict: Verdict, est: f64, low: f64, high: f64) -> Side {
        Side {
            dir: "d".into(),
            scenario: "listener-leak".into(),
            metric: "rss_anon".into(),
            verdict,
            reason: "r".into(),
            bytes_per_request: Estimate {
                estimate: est,
                low,
                high,
            },
            fitted: true,
            limit_bytes_per_request: 256.0,
            requests: 1000,
            achieved_rate: 500.0,
            growth_bytes: 0,
            latency_ms: LatencySummary::default(),
        }
    }

    #[test]
    fn leak_then_flat_is_fixed() {
        let before = side(Verdict::Leak, 2100.0, 2000.0, 2200.0);
        let after = side(Verdict::None, 3.0, -10.0, 16.0);
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Fixed, "{reason}");
        assert!(
            reason.contains("+2.05KiB per request") && reason.contains("256B limit"),
            "{reason}"
        );
        assert_eq!(exit_code(v, &after), 0);
    }

    #[test]
    fn flat_then_leak_is_regressed_and_fails() {
        let before = side(Verdict::None, 3.0, -10.0, 16.0);
        let after = side(Verdict::Leak, 900.0, 800.0, 1000.0);
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Regressed);
        assert!(reason.contains("leaks where before did not"), "{reason}");
        assert_eq!(exit_code(v, &after), 1);
        // Swapping the runs is a fix.
        assert_eq!(judge(&after, &before).0, CompareVerdict::Fixed);
    }

    #[test]
    fn smaller_leak_is_improved_but_still_fails() {
        let before = side(Verdict::Leak, 2100.0, 2000.0, 2200.0);
        let after = side(Verdict::Leak, 900.0, 800.0, 1000.0);
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Improved);
        assert!(reason.contains("still there"), "{reason}");
        assert_eq!(exit_code(v, &after), 1, "a leak still there fails");
        let worse = side(Verdict::Leak, 3000.0, 2900.0, 3100.0);
        assert_eq!(judge(&before, &worse).0, CompareVerdict::Regressed);
    }

    #[test]
    fn overlapping_intervals_are_unchanged() {
        let before = side(Verdict::Leak, 2100.0, 2000.0, 2200.0);
        let after = side(Verdict::Leak, 2150.0, 2050.0, 2250.0);
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Unchanged);
        assert!(reason.contains("still there"), "{reason}");
        assert_eq!(exit_code(v, &after), 1);
        let flat = side(Verdict::None, 1.0, -5.0, 7.0);
        assert_eq!(
            judge(&flat, &flat),
            (CompareVerdict::Unchanged, judge(&flat, &flat).1)
        );
        assert_eq!(exit_code(CompareVerdict::Unchanged, &flat), 0);
    }

    #[test]
    fn fixed_needs_the_interval_within_the_limit() {
        let before = side(Verdict::Leak, 2100.0, 2000.0, 2200.0);
        // Below the before slope but straddling the limit: improved, not fixed.
        let after = side(Verdict::Inconclusive, 250.0, 100.0, 400.0);
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Improved);
        assert!(
            reason.contains("not yet clearly within the 256B limit"),
            "{reason}"
        );
        // Within the limit, but the before run was only inconclusive: improved, not fixed.
        let unclear = side(Verdict::Inconclusive, 6900.0, 160.0, 13_700.0);
        let flat = side(Verdict::None, 36.0, 33.0, 39.0);
        let (v, reason) = judge(&unclear, &flat);
        assert_eq!(v, CompareVerdict::Improved);
        assert!(
            reason.contains("within the 256B limit, but the before run was `inconclusive`"),
            "{reason}"
        );
    }

    #[test]
    fn unfitted_runs_and_unlike_runs() {
        let before = side(Verdict::Leak, 2100.0, 2000.0, 2200.0);
        let mut after = side(Verdict::Inconclusive, 0.0, 0.0, 0.0);
        after.fitted = false;
        after.reason = "only 2 samples".into();
        let (v, reason) = judge(&before, &after);
        assert_eq!(v, CompareVerdict::Unchanged);
        assert!(
            reason.contains("after run has no fitted slope (only 2 samples)"),
            "{reason}"
        );
        after.scenario = "other".into();
        after.achieved_rate = 100.0;
        let w = warnings(&before, &after);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("different scenarios"));
        assert!(warnings(&before, &before).is_empty());
    }
}
