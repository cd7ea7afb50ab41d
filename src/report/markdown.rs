//! summary.md: a compact Markdown summary that fits `$GITHUB_STEP_SUMMARY` or a PR comment.

use std::fmt::Write as _;

use super::record::RunRecord;
use super::summary::{Outcome, Summary};
use crate::analysis::Analysis;
use crate::units::format_size;

pub fn render(record: &RunRecord, analysis: &Analysis, summary: &Summary) -> String {
    let mut s = String::new();
    let badge = match summary.outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Error => "ERROR",
    };
    let partial = if summary.completed {
        ""
    } else {
        " (run stopped early)"
    };
    // Writing to a String cannot fail; the results are ignored throughout.
    let _ = writeln!(s, "## leakhound: {} — {badge}{partial}\n", summary.scenario);
    let _ = writeln!(
        s,
        "**Verdict: `{}`** — {}\n",
        summary.leak.verdict, summary.leak.reason
    );
    let m = &summary.memory;
    let _ = writeln!(s, "| figure | value |\n|---|---|");
    let _ = writeln!(
        s,
        "| requests | {} completed, {} errors, {} timeouts |",
        summary.requests.completed, summary.requests.errors, summary.requests.timeouts
    );
    let _ = writeln!(s, "| achieved rate | {:.1}/s |", analysis.achieved_rate);
    let g = &analysis.generator;
    if let (Some(cpu), Some(rss)) = (g.cpu_percent, g.rss_peak_bytes) {
        let state = if g.saturated.is_some() {
            "**saturated**"
        } else {
            "kept up"
        };
        let _ = writeln!(
            s,
            "| leakhound itself | {cpu:.0}% CPU, peak RSS {}, {state} |",
            format_size(rss as f64)
        );
    }
    let l = &summary.latency_ms;
    let _ = writeln!(
        s,
        "| latency | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        l.p50, l.p99, l.max
    );
    let _ = writeln!(
        s,
        "| memory ({}) | {} → {} (peak {}) |",
        m.metric,
        format_size(m.start_bytes as f64),
        format_size(m.end_bytes as f64),
        format_size(m.peak_bytes as f64)
    );
    let b = &summary.leak.bytes_per_request;
    let _ = writeln!(
        s,
        "| per request | {} (95% CI {} to {}) |",
        format_size(b.estimate),
        format_size(b.low),
        format_size(b.high)
    );
    let _ = writeln!(s, "| duration | {:.1} s |\n", summary.duration_s);
    // Relative, so it shows wherever the folder is published (CI artifact, PR comment upload).
    let _ = writeln!(s, "![memory vs requests](memory-vs-requests.png)\n");

    if let Some(g) = &summary.heap_growth {
        let _ = writeln!(s, "{}\n", super::heap::markdown_line(g));
    }
    if let Some(gc) = &summary.gc {
        let _ = writeln!(s, "GC (the runtime's own log): {}.\n", gc.text());
    }
    if let Some(gc) = &summary.forced_gc {
        let _ = writeln!(s, "Inspector: {}.\n", gc.text());
    }
    if !summary.thresholds.is_empty() {
        let _ = writeln!(
            s,
            "| threshold | limit | actual | result |\n|---|---|---|---|"
        );
        for t in &summary.thresholds {
            let r = if t.passed { "pass" } else { "**fail**" };
            let _ = writeln!(s, "| {} | {} | {} | {r} |", t.name, t.limit, t.actual);
        }
        let _ = writeln!(s);
    }
    if !summary.events.is_empty() {
        let _ = writeln!(s, "Events:");
        for e in &summary.events {
            let _ = writeln!(
                s,
                "- {:.1} s, after {} requests: {} — {}",
                e.t_s, e.requests, e.kind, e.detail
            );
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "Full report: `report.html` (self-contained) · CI: `junit.xml`\n"
    );
    let _ = writeln!(
        s,
        "<sub>leakhound {} · reproduce: `{}`</sub>",
        record.environment.leakhound_version,
        record.environment.command_line.join(" ")
    );
    s
}
