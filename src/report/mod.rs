//! Reports: the run folder a run leaves behind.
//!
//! `run.json` (plan, environment, timeline: enough to re-analyse), `summary.json` (the verdict,
//! per the output contract), `summary.md` (for a CI job summary or a PR comment), `junit.xml`
//! ([`junit`]), the plots as PNG and SVG ([`plots`]) and `report.html` ([`html`]); [`compare`]
//! sets two run folders side by side. Every file is written whole (temporary name, then
//! rename), so an interrupted run never leaves half a file.

pub mod compare;
mod heap;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod plots;
pub mod record;
pub mod summary;
pub mod write;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::analysis::{self, Analysis};
pub use record::{Environment, ReadError, RunRecord, FORMAT_VERSION};
pub use summary::{Outcome, RunEnd, Summary};
pub use write::{write_atomic, write_json, WriteError};

#[derive(Debug, Error)]
pub enum ReportError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Plot(#[from] plots::PlotError),
    #[error(transparent)]
    Html(#[from] html::HtmlError),
    #[error(transparent)]
    Junit(#[from] junit::JunitError),
    #[error("cannot create the report folder {}: {source}; choose another with --out", path.display())]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Creates the run folder (and parents) and checks that it is writable, before anything runs.
pub fn prepare_folder(dir: &Path) -> Result<(), ReportError> {
    let err = |source| ReportError::Folder {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let probe = dir.join(".leakhound-write-test");
    std::fs::write(&probe, b"").map_err(err)?;
    std::fs::remove_file(&probe).map_err(err)?;
    Ok(())
}

/// The default run folder: `reports/<name>-<UTC timestamp>`.
pub fn default_folder(name: &str, started: std::time::SystemTime) -> PathBuf {
    let stamp: String = humantime::format_rfc3339_seconds(started)
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    PathBuf::from("reports").join(format!("{name}-{stamp}"))
}

/// Analyses a run and writes all its files into `dir`. Returns the summary written.
pub fn write_folder(dir: &Path, record: &RunRecord) -> Result<(Analysis, Summary), ReportError> {
    let analysis = analysis::analyze(&record.plan, &record.timeline);
    let duration_s = record.timeline.last().map_or(0.0, |t| t.t_s);
    let mut summary = Summary::new(
        &record.plan.name,
        &record.end,
        &analysis,
        &record.timeline.events,
        duration_s,
    );
    summary.heap_growth = record.heap_growth.clone();
    write_json(&dir.join("run.json"), record)?;
    write_json(&dir.join("summary.json"), &summary)?;
    write_atomic(
        &dir.join("summary.md"),
        markdown::render(record, &analysis, &summary).as_bytes(),
    )?;
    // junit.xml before the plots: it is what CI needs most.
    write_atomic(&dir.join("junit.xml"), junit::render(&summary)?.as_bytes())?;
    let figures = plots::render_run(record, &analysis)?;
    plots::write_all(dir, &figures)?;
    let page = html::render(dir, record, &analysis, &summary, &figures)?;
    write_atomic(&dir.join("report.html"), page.as_bytes())?;
    Ok((analysis, summary))
}

/// Re-analyses and re-renders a saved run folder (`leakhound report DIR`).
pub fn rerender(dir: &Path) -> Result<Summary, ReportError> {
    let record = RunRecord::read(dir)?;
    Ok(write_folder(dir, &record)?.1)
}
