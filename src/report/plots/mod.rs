//! Plots of a run, drawn with plotters as PNG (bitmap, embedded font) and SVG (inlined into
//! report.html): memory vs requests (first: a leak is a line you can see), memory vs time with
//! the request rate, latency percentiles over time, throughput and errors.
//!
//! Each figure implements [`Figure`] once, generic over the plotters backend, and [`render`]
//! draws it into both formats in memory so the files can be written atomically.

pub mod decor;
pub mod latency;
pub mod memory;
pub mod series;
pub mod style;
pub mod synthetic;

use std::error::Error as StdError;
use std::path::Path;

use plotters::coord::Shift;
use plotters::drawing::DrawingAreaErrorKind;
use plotters::prelude::*;
use thiserror::Error;

use super::record::RunRecord;
use super::write::{write_atomic, WriteError};
use crate::analysis::Analysis;

#[derive(Debug, Error)]
pub enum PlotError {
    #[error("cannot draw the {plot} plot: {detail}")]
    Draw { plot: &'static str, detail: String },
    #[error("cannot encode the {plot} plot as PNG: {detail}")]
    Png { plot: &'static str, detail: String },
    #[error("the embedded plot font cannot be loaded")]
    Font,
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A drawing failure inside a figure, before it is named by [`render`].
#[derive(Debug)]
pub struct DrawFailure(pub String);

impl<E: StdError + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawFailure {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawFailure(e.to_string())
    }
}

/// One figure, drawable on any plotters backend.
pub trait Figure {
    /// Pixel size (width, height).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure>;
}

/// A figure drawn in both formats.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// File name without extension, e.g. `memory-vs-requests`.
    pub stem: &'static str,
    /// What it shows, for the HTML report and alt text.
    pub title: String,
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
    pub svg: String,
}

/// Draws `fig` as PNG and SVG.
pub fn render<F: Figure>(
    stem: &'static str,
    title: String,
    fig: &F,
) -> Result<Rendered, PlotError> {
    if !style::ensure_font() {
        return Err(PlotError::Font);
    }
    let (width, height) = fig.size();
    let fail = |e: DrawFailure| PlotError::Draw {
        plot: stem,
        detail: e.0,
    };
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        fig.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.into()))?;
    }
    let png =
        encode_png(&rgb, width, height).map_err(|detail| PlotError::Png { plot: stem, detail })?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        fig.draw(&root).map_err(fail)?;
        root.present().map_err(|e| fail(e.into()))?;
    }
    Ok(Rendered {
        stem,
        title,
        width,
        height,
        png,
        svg,
    })
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Default, not Fast: plots come out about 5x smaller for a few milliseconds more.
    enc.set_compression(png::Compression::Default);
    let mut w = enc.write_header().map_err(|e| e.to_string())?;
    w.write_image_data(rgb).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Every plot of a run, memory vs requests first.
pub fn render_run(record: &RunRecord, analysis: &Analysis) -> Result<Vec<Rendered>, PlotError> {
    let tl = &record.timeline;
    let warm = crate::analysis::verdict::warmup_end_s(&record.plan, tl);
    let mem = memory::MemoryFigure::new(tl, analysis, memory::XAxis::Requests, warm);
    let time = memory::MemoryFigure::new(tl, analysis, memory::XAxis::Time, warm);
    let lat = latency::LatencyFigure::new(tl, analysis, warm);
    let thr = latency::ThroughputFigure::new(tl, analysis, warm);
    Ok(vec![
        render("memory-vs-requests", mem.caption(), &mem)?,
        render("memory-vs-time", time.caption(), &time)?,
        render("latency", lat.caption(), &lat)?,
        render("throughput", thr.caption(), &thr)?,
    ])
}

/// Writes `<stem>.png` and `<stem>.svg` for each plot into `dir`.
pub fn write_all(dir: &Path, plots: &[Rendered]) -> Result<(), PlotError> {
    for p in plots {
        write_atomic(&dir.join(format!("{}.png", p.stem)), &p.png)?;
        write_atomic(&dir.join(format!("{}.svg", p.stem)), p.svg.as_bytes())?;
    }
    Ok(())
}

/// Draws "no data" in the middle of an empty plot, so a run that measured nothing still gets
/// a readable figure instead of an error.
pub(crate) fn draw_empty<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    caption: &str,
    message: &str,
) -> Result<(), DrawFailure> {
    root.fill(&WHITE)?;
    let (w, h) = root.dim_in_pixel();
    let title = TextStyle::from((style::FAMILY, 22).into_font()).color(&style::INK);
    root.draw(&Text::new(caption.to_string(), (20, 14), title))?;
    let body = TextStyle::from((style::FAMILY, 18).into_font())
        .color(&style::WARMUP)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    root.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        body,
    ))?;
    Ok(())
}

#[cfg(test)]
mod tests;
