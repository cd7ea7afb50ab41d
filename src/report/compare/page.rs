//! compare.html and compare.md: the before/after comparison for a person and for a PR comment.

use std::fmt::Write as _;

use serde::Serialize;

use super::verdict::{slope_text, CompareVerdict, Side};
use super::Comparison;
use crate::report::html::{ms, render_page, Card, HtmlError, PlotView};
use crate::report::plots::Rendered;
use crate::units::{format_count, format_rate, format_size};

fn headline(c: &Comparison) -> &'static str {
    match c.verdict {
        CompareVerdict::Fixed => "Fixed: the leak is gone",
        CompareVerdict::Regressed => "Regressed: after leaks more than before",
        CompareVerdict::Improved if c.after.verdict == crate::analysis::Verdict::Leak => {
            "Improved, but the leak is still there"
        }
        CompareVerdict::Improved => "Improved",
        CompareVerdict::Unchanged if c.after.verdict == crate::analysis::Verdict::Leak => {
            "Unchanged: the leak is still there"
        }
        CompareVerdict::Unchanged => "Unchanged",
    }
}

/// The reason without its leading `fixed: ` (the headline already says it).
fn without_verdict(c: &Comparison) -> String {
    let prefix = format!("{}: ", c.verdict);
    c.reason
        .strip_prefix(&prefix)
        .unwrap_or(&c.reason)
        .to_string()
}

fn slope(s: &Side) -> String {
    if s.fitted {
        slope_text(&s.bytes_per_request)
    } else {
        "no fitted slope".to_string()
    }
}

fn signed(bytes: i64) -> String {
    let t = format_size(bytes as f64);
    if bytes > 0 {
        format!("+{t}")
    } else {
        t
    }
}

/// `+12%` / `-40%` / `—`.
fn change(before: f64, after: f64) -> String {
    if before <= 0.0 {
        return "—".to_string();
    }
    let pct = (after / before - 1.0) * 100.0;
    format!("{}{pct:.0}%", if pct > 0.0 { "+" } else { "" })
}

#[derive(Serialize)]
struct SideRow {
    label: String,
    before: String,
    after: String,
}

#[derive(Serialize)]
struct ComparePage {
    version: String,
    verdict: String,
    headline: &'static str,
    reason: String,
    exit_note: String,
    warnings: Vec<String>,
    cards: Vec<Card>,
    plots: Vec<PlotView>,
    rows: Vec<SideRow>,
    latency: Vec<SideRow>,
    latency_change: Vec<String>,
    reasons: [String; 2],
}

fn rows(c: &Comparison) -> Vec<SideRow> {
    let (b, a) = (&c.before, &c.after);
    let row = |label: &str, f: &dyn Fn(&Side) -> String| SideRow {
        label: label.to_string(),
        before: f(b),
        after: f(a),
    };
    vec![
        row("run folder", &|s| s.dir.clone()),
        row("scenario", &|s| s.scenario.clone()),
        row("leak verdict", &|s| s.verdict.to_string()),
        row("bytes / request", &slope),
        row("limit", &|s| {
            format!("{} per request", format_size(s.limit_bytes_per_request))
        }),
        row("memory growth", &|s| {
            format!("{} ({})", signed(s.growth_bytes), s.metric)
        }),
        row("requests", &|s| format_count(s.requests as f64)),
        row("achieved rate", &|s| format_rate(s.achieved_rate)),
    ]
}

/// compare.html.
pub fn html(c: &Comparison, figures: &[Rendered]) -> Result<String, HtmlError> {
    let (b, a) = (&c.before, &c.after);
    let lb = [
        b.latency_ms.p50,
        b.latency_ms.p90,
        b.latency_ms.p99,
        b.latency_ms.max,
    ];
    let la = [
        a.latency_ms.p50,
        a.latency_ms.p90,
        a.latency_ms.p99,
        a.latency_ms.max,
    ];
    let names = ["p50", "p90", "p99", "max"];
    let page = ComparePage {
        version: env!("CARGO_PKG_VERSION").to_string(),
        verdict: c.verdict.to_string(),
        headline: headline(c),
        reason: without_verdict(c),
        exit_note: if c.exit_code == 0 {
            "exit code 0".to_string()
        } else {
            "exit code 1: a regression, or a leak that is still there".to_string()
        },
        warnings: c.warnings.clone(),
        cards: vec![
            Card {
                label: "before".into(),
                value: short_slope(b),
                sub: Some(b.verdict.to_string()),
            },
            Card {
                label: "after".into(),
                value: short_slope(a),
                sub: Some(a.verdict.to_string()),
            },
            Card {
                label: format!("{} growth", a.metric),
                value: format!("{} → {}", signed(b.growth_bytes), signed(a.growth_bytes)),
                sub: Some("whole run, before → after".into()),
            },
            Card {
                label: "p99 latency".into(),
                value: format!("{} → {}", ms(lb[2]), ms(la[2])),
                sub: Some(change(lb[2], la[2])),
            },
        ],
        plots: figures.iter().map(PlotView::from_rendered).collect(),
        rows: rows(c),
        latency: names
            .iter()
            .enumerate()
            .map(|(i, n)| SideRow {
                label: n.to_string(),
                before: ms(lb[i]),
                after: ms(la[i]),
            })
            .collect(),
        latency_change: (0..4).map(|i| change(lb[i], la[i])).collect(),
        reasons: [b.reason.clone(), a.reason.clone()],
    };
    render_page("compare.html", &page)
}

/// `+2.1KiB/request` or `no slope`.
fn short_slope(s: &Side) -> String {
    if !s.fitted {
        return "no slope".to_string();
    }
    let e = s.bytes_per_request.estimate;
    let t = format_size(e);
    let sign = if e > 0.0 && t != "0B" { "+" } else { "" };
    format!("{sign}{t}/request")
}

/// compare.md: fits a PR comment or `$GITHUB_STEP_SUMMARY`; the PNG is referenced relatively.
pub fn markdown(c: &Comparison) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "## leakhound compare — {}\n",
        c.verdict.to_string().to_uppercase()
    );
    let _ = writeln!(s, "**{}** — {}\n", headline(c), without_verdict(c));
    for w in &c.warnings {
        let _ = writeln!(s, "> warning: {w}\n");
    }
    let _ = writeln!(s, "| | before | after |\n|---|---|---|");
    for r in rows(c) {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            r.label,
            r.before.replace('|', "\\|"),
            r.after.replace('|', "\\|")
        );
    }
    let (b, a) = (&c.before.latency_ms, &c.after.latency_ms);
    let _ = writeln!(
        s,
        "| latency p50 / p99 | {} / {} | {} / {} |\n",
        ms(b.p50),
        ms(b.p99),
        ms(a.p50),
        ms(a.p99)
    );
    let _ = writeln!(
        s,
        "![memory growth vs requests, before and after](compare-memory.png)\n"
    );
    let _ = writeln!(
        s,
        "<sub>leakhound {} · {}</sub>",
        c.leakhound_version,
        if c.exit_code == 0 { "exit 0" } else { "exit 1" }
    );
    s
}
