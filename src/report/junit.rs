//! junit.xml: one test case per threshold, so CI systems show a leak as a failed test.
//!
//! A run that did not complete adds one `run` case with an error (the thresholds are then
//! judged on partial data, which the CI reader should know).

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use thiserror::Error;

use super::summary::{RunEnd, Summary};

#[derive(Debug, Error)]
#[error("cannot write junit.xml: {0}")]
pub struct JunitError(pub String);

/// The junit.xml text for a run.
pub fn render(summary: &Summary) -> Result<String, JunitError> {
    let classname = format!("leakhound.{}", summary.scenario);
    let mut suite = TestSuite::new(format!("leakhound: {}", summary.scenario));
    suite.set_time(std::time::Duration::from_secs_f64(
        summary.duration_s.max(0.0),
    ));
    suite.add_property(Property::new("verdict", summary.leak.verdict.to_string()));
    suite.add_property(Property::new("metric", summary.leak.metric.clone()));
    suite.add_property(Property::new(
        "leakhound_version",
        summary.leakhound_version.clone(),
    ));

    for t in &summary.thresholds {
        let status = if t.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_type("threshold");
            s.set_message(format!(
                "{}: {} exceeds the limit {}",
                t.name, t.actual, t.limit
            ));
            if t.name == "leak_per_request" {
                s.set_description(summary.leak.reason.clone());
            }
            s
        };
        let mut case = TestCase::new(t.name.clone(), status);
        case.set_classname(classname.clone());
        case.set_system_out(format!("limit {}, actual {}", t.limit, t.actual));
        suite.add_test_case(case);
    }

    let stopped = match &summary.end {
        RunEnd::Completed => None,
        RunEnd::Interrupted { signal } => {
            Some(format!("the run was interrupted by signal {signal}"))
        }
        RunEnd::TargetFailed { detail } => Some(format!("the target failed: {detail}")),
    };
    if let Some(why) = stopped {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_type("run");
        s.set_message(format!("{why}; thresholds were judged on partial data"));
        let mut case = TestCase::new("run", s);
        case.set_classname(classname.clone());
        suite.add_test_case(case);
    }

    let mut report = Report::new("leakhound");
    report.add_test_suite(suite);
    report.to_string().map_err(|e| JunitError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict::{Estimate, Window};
    use crate::analysis::{
        Analysis, LatencySummary, LeakReport, MemorySummary, RequestCounts, ThresholdResult,
        Verdict,
    };

    fn summary(end: RunEnd, thresholds: Vec<ThresholdResult>) -> Summary {
        let analysis = Analysis {
            requests: RequestCounts::default(),
            latency_ms: LatencySummary::default(),
            endpoints: vec![],
            memory: MemorySummary::default(),
            leak: LeakReport {
                verdict: Verdict::Leak,
                metric: "rss_anon".into(),
                bytes_per_request: Estimate {
                    estimate: 553.0,
                    low: 552.0,
                    high: 554.0,
                },
                bytes_per_second: Estimate::default(),
                endpoints: Default::default(),
                reason: "memory grows <553B> per request".into(),
                intercept_bytes: Some(1.0),
                limit_bytes_per_request: 128.0,
                window: Window::default(),
            },
            thresholds,
            achieved_rate: 0.0,
            generator: Default::default(),
        };
        Summary::new("demo & co", &end, &analysis, &[], 45.0)
    }

    fn th(name: &str, passed: bool) -> ThresholdResult {
        ThresholdResult {
            name: name.into(),
            limit: "128B".into(),
            actual: "553B".into(),
            passed,
        }
    }

    #[test]
    fn one_case_per_threshold_failures_marked() {
        let s = summary(
            RunEnd::Completed,
            vec![
                th("leak_per_request", false),
                th("p99", true),
                th("error_rate", true),
            ],
        );
        let xml = render(&s).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 3, "{xml}");
        assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(
            xml.contains("leak_per_request: 553B exceeds the limit 128B"),
            "{xml}"
        );
        assert!(xml.contains("&lt;553B&gt;"), "reason is escaped: {xml}");
        assert!(xml.contains("demo &amp; co"), "{xml}");
    }

    #[test]
    fn an_incomplete_run_adds_an_error_case() {
        let end = RunEnd::TargetFailed {
            detail: "exited with code 1".into(),
        };
        let xml = render(&summary(end, vec![th("leak_per_request", true)])).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
        assert_eq!(xml.matches("<error").count(), 1, "{xml}");
        assert!(xml.contains("exited with code 1"), "{xml}");
    }
}
