//! `leakhound compare BEFORE AFTER`: did the fix fix it?
//!
//! Reads two run folders, re-analyses both, and writes into the output folder compare.html
//! (self-contained), compare.md (for a PR comment), compare.json (for scripts) and the plots
//! compare-memory.{png,svg} (both curves normalised to each run's start) and
//! compare-latency.{png,svg}. Runs of different scenarios are compared with a warning.

pub mod page;
pub mod plot;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plots::{self, style};
use super::record::RunRecord;
use super::write::{write_atomic, write_json};
use super::ReportError;
use crate::analysis::{self, Analysis};
pub use verdict::{CompareVerdict, Side};

/// The result of a comparison, as written to compare.json.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub verdict: CompareVerdict,
    pub reason: String,
    /// 1 on `regressed` or when after still leaks, else 0.
    pub exit_code: i32,
    pub warnings: Vec<String>,
    pub before: Side,
    pub after: Side,
    pub leakhound_version: String,
}

fn side(dir: &Path, record: &RunRecord, a: &Analysis) -> Side {
    let growth = a.memory.end_bytes as i64 - a.memory.start_bytes as i64;
    Side {
        dir: dir.display().to_string(),
        scenario: record.plan.name.clone(),
        metric: a.leak.metric.clone(),
        verdict: a.leak.verdict,
        reason: a.leak.reason.clone(),
        bytes_per_request: a.leak.bytes_per_request,
        fitted: a.leak.intercept_bytes.is_some(),
        limit_bytes_per_request: a.leak.limit_bytes_per_request,
        requests: a.requests.completed,
        achieved_rate: a.achieved_rate,
        growth_bytes: growth,
        latency_ms: a.latency_ms.clone(),
    }
}

/// A short name for a run folder in legends: its last path component.
fn short_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Compares two run folders and writes the comparison into `out`.
pub fn compare(before_dir: &Path, after_dir: &Path, out: &Path) -> Result<Comparison, ReportError> {
    let before = RunRecord::read(before_dir)?;
    let after = RunRecord::read(after_dir)?;
    super::prepare_folder(out)?;
    let ab = analysis::analyze(&before.plan, &before.timeline);
    let aa = analysis::analyze(&after.plan, &after.timeline);
    let (sb, sa) = (side(before_dir, &before, &ab), side(after_dir, &after, &aa));
    let (verdict, reason) = verdict::judge(&sb, &sa);
    let cmp = Comparison {
        verdict,
        reason,
        exit_code: verdict::exit_code(verdict, &sa),
        warnings: verdict::warnings(&sb, &sa),
        before: sb,
        after: sa,
        leakhound_version: env!("CARGO_PKG_VERSION").to_string(),
    };

    let names = [
        format!("before ({})", short_name(before_dir)),
        format!("after ({})", short_name(after_dir)),
    ];
    let mem = plot::CompareMemoryFigure::new(
        plot::Curve::new(&names[0], style::BEFORE, &before.timeline, &ab),
        plot::Curve::new(&names[1], style::AFTER, &after.timeline, &aa),
        verdict,
        &cmp.after.metric,
    );
    let lat = plot::CompareLatencyFigure {
        values: [lat4(&ab), lat4(&aa)],
        names: names.clone(),
        caption: "Latency, whole run: before and after".to_string(),
    };
    let figures = vec![
        plots::render("compare-memory", mem.caption.clone(), &mem)?,
        plots::render("compare-latency", lat.caption.clone(), &lat)?,
    ];
    plots::write_all(out, &figures)?;
    write_json(&out.join("compare.json"), &cmp)?;
    write_atomic(&out.join("compare.md"), page::markdown(&cmp).as_bytes())?;
    write_atomic(
        &out.join("compare.html"),
        page::html(&cmp, &figures)?.as_bytes(),
    )?;
    Ok(cmp)
}

fn lat4(a: &Analysis) -> [f64; 4] {
    let l = &a.latency_ms;
    [l.p50, l.p90, l.p99, l.max]
}

/// The default output folder: `reports/compare-<UTC timestamp>`.
pub fn default_folder(now: std::time::SystemTime) -> PathBuf {
    super::default_folder("compare", now)
}

/// What the CLI prints after a comparison.
pub fn text(c: &Comparison, out: &Path, quiet: bool) -> String {
    let head = c.verdict.to_string().to_uppercase();
    if quiet {
        return format!("{head}: {} -> {}", c.reason, out.display());
    }
    let mut s = format!("\nleakhound compare — {head}\n  {}\n", c.reason);
    for w in &c.warnings {
        s.push_str(&format!("  warning    {w}\n"));
    }
    for (name, side) in [("before", &c.before), ("after", &c.after)] {
        s.push_str(&format!(
            "  {name:<10} {}: {} ({})\n",
            side.dir,
            side.verdict,
            if side.fitted {
                verdict::slope_text(&side.bytes_per_request)
            } else {
                "no fitted slope".into()
            }
        ));
    }
    s.push_str(&format!("  folder     {}", out.display()));
    s
}

#[cfg(test)]
mod tests;
