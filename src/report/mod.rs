//! Reports: the run folder a run leaves behind.
//!
//! `run.json` (plan, environment, timeline: enough to re-analyse), `summary.json` (the verdict,
//! per the output contract), `summary.md` (for a CI job summary or a PR comment), `junit.xml`
//! ([`junit`]), the plots as PNG and SVG ([`plots`]) and `report.html` ([`html`]); [`compare`]
//! sets two run folders side by side. Every file is written whole (temporary name, then
//! rename), so an interrupted run never leaves half a file; summary.json is written last, so
//! it is there only when the whole folder is (see [`write_folder`]).

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
pub use write::{json_bytes, write_atomic, write_json, WriteError};

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
    /// run.json was written, a later file was not: the folder holds the measurements only.
    #[error(
        "{source}; the report is not written (no summary.json), but the measurements are kept \
         in {}: once this is fixed (is the disk full?), `leakhound report {}` writes the rest",
        .dir.join("run.json").display(), .dir.display()
    )]
    Incomplete {
        dir: PathBuf,
        #[source]
        source: Box<ReportError>,
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
///
/// The order keeps what is on disk true to the exit code: run.json first (the measurements:
/// whatever fails later, `leakhound report DIR` re-renders from it), then the plots,
/// report.html, summary.md and junit.xml, and summary.json last. A summary.json already there
/// (a re-render) is removed first, and when any later file cannot be written all of them are
/// removed again, so no file states a verdict while leakhound exits 2: a run folder has a
/// summary.json exactly when it is complete.
pub fn write_folder(dir: &Path, record: &RunRecord) -> Result<(Analysis, Summary), ReportError> {
    write_folder_with(dir, record, write_atomic)
}

/// [`write_folder`] with the writer for the files after run.json given (tests inject failures).
fn write_folder_with(
    dir: &Path,
    record: &RunRecord,
    write: impl FnMut(&Path, &[u8]) -> Result<(), WriteError>,
) -> Result<(Analysis, Summary), ReportError> {
    let mut analysis = analysis::analyze(&record.plan, &record.timeline);
    if let Some(reason) = summary::stopped_before_load(&record.end, &analysis.requests) {
        analysis.leak.reason = reason;
    }
    let duration_s = record.timeline.last().map_or(0.0, |t| t.t_s);
    let mut summary = Summary::new(
        &record.plan.name,
        &record.end,
        &analysis,
        &record.timeline.events,
        duration_s,
    );
    summary.heap_growth = record.heap_growth.clone();
    summary.gc = summary::GcSummary::from_timeline(&record.timeline);
    let summary_path = dir.join("summary.json");
    remove_if_there(&summary_path)?;
    write_json(&dir.join("run.json"), record)?;
    render_views(dir, record, &analysis, &summary)
        .and_then(|views| write_views(&views, write))
        .map_err(|e| ReportError::Incomplete {
            dir: dir.to_path_buf(),
            source: Box::new(e),
        })?;
    Ok((analysis, summary))
}

/// Removes `path` if it exists; a file that is there and cannot be removed is an error.
fn remove_if_there(path: &Path) -> Result<(), WriteError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(WriteError {
            path: path.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Every file after run.json, in the order written: plots, report.html, summary.md,
/// junit.xml (what CI reads most, after the page a person opens), summary.json last.
fn render_views(
    dir: &Path,
    record: &RunRecord,
    analysis: &Analysis,
    summary: &Summary,
) -> Result<Vec<(PathBuf, Vec<u8>)>, ReportError> {
    let figures = plots::render_run(record, analysis)?;
    let mut views = Vec::with_capacity(2 * figures.len() + 4);
    for f in &figures {
        views.push((dir.join(format!("{}.png", f.stem)), f.png.clone()));
        views.push((
            dir.join(format!("{}.svg", f.stem)),
            f.svg.clone().into_bytes(),
        ));
    }
    let page = html::render(dir, record, analysis, summary, &figures)?;
    views.push((dir.join("report.html"), page.into_bytes()));
    let md = markdown::render(record, analysis, summary);
    views.push((dir.join("summary.md"), md.into_bytes()));
    views.push((dir.join("junit.xml"), junit::render(summary)?.into_bytes()));
    let summary_path = dir.join("summary.json");
    let json = json_bytes(&summary_path, summary)?;
    views.push((summary_path, json));
    Ok(views)
}

/// Writes `views` in order; on a failure removes all of them (best effort: the disk may be
/// full, but removing frees space) and returns the failure, which names its file.
fn write_views(
    views: &[(PathBuf, Vec<u8>)],
    mut write: impl FnMut(&Path, &[u8]) -> Result<(), WriteError>,
) -> Result<(), ReportError> {
    for (path, bytes) in views {
        if let Err(e) = write(path, bytes) {
            for (p, _) in views {
                let _ = std::fs::remove_file(p);
            }
            return Err(e.into());
        }
    }
    Ok(())
}

/// Re-analyses and re-renders a saved run folder (`leakhound report DIR`).
pub fn rerender(dir: &Path) -> Result<Summary, ReportError> {
    let record = RunRecord::read(dir)?;
    Ok(write_folder(dir, &record)?.1)
}

#[cfg(test)]
#[path = "folder_tests.rs"]
mod folder_tests;
