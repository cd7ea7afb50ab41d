//! Memory plots: memory vs requests completed (the judged metric, the other metrics, the fitted
//! traffic slope with its 95% band) and memory vs time with the request rate on a second axis,
//! where growth with time shows even while the rate is zero.

use plotters::chart::SeriesLabelStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

use super::series::{self, FitLine, MetricSeries, MAX_POINTS};
use super::style::{self, ByteUnit, FAMILY};
use super::{decor, draw_empty, DrawFailure, Figure};
use crate::analysis::{Analysis, Verdict};
use crate::timeline::Timeline;
use crate::units::format_size;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Cumulative requests completed.
    Requests,
    /// Seconds since the run started (with the request rate on a second axis).
    Time,
}

pub struct MemoryFigure {
    axis: XAxis,
    series: Vec<MetricSeries>,
    fit: Option<FitLine>,
    decor: decor::Decor,
    rate: Vec<(f64, f64)>,
    caption: String,
    x_max: f64,
    /// Time axis unit (Time only).
    time: style::TimeScale,
}

/// A short verdict phrase for captions.
pub fn verdict_phrase(v: Verdict) -> &'static str {
    match v {
        Verdict::Leak => "leak: grows with requests",
        Verdict::TimeGrowth => "grows with time",
        Verdict::Bounded => "bounded: grew, then levelled",
        Verdict::None => "no leak",
        Verdict::Inconclusive => "inconclusive",
    }
}

impl MemoryFigure {
    pub fn new(tl: &Timeline, analysis: &Analysis, axis: XAxis, warmup_end_s: f64) -> MemoryFigure {
        let leak = &analysis.leak;
        let mut series = series::memory_series(tl, &leak.metric);
        // Before thinning, which keeps extremes rather than the exact first and last points.
        let growth = overall_growth(&series);
        for s in &mut series {
            s.points = series::thin(&s.points, MAX_POINTS, |p| p.bytes);
        }
        let b = &leak.bytes_per_request;
        let caption = match axis {
            XAxis::Requests if leak.intercept_bytes.is_some() => format!(
                "Memory vs requests — {} {}/request (95% CI {} to {}): {}",
                leak.metric,
                signed_size(b.estimate),
                format_size(b.low),
                format_size(b.high),
                verdict_phrase(leak.verdict)
            ),
            XAxis::Requests => format!("Memory vs requests — {}", verdict_phrase(leak.verdict)),
            // A plain fact, not the model: bytes_per_second may be time's share net of traffic.
            XAxis::Time => match growth {
                Some((bytes, secs)) => format!(
                    "Memory and request rate over time — {} {} in {}",
                    leak.metric,
                    signed_size(bytes),
                    style::seconds_label(secs)
                ),
                None => "Memory and request rate over time".to_string(),
            },
        };
        let time = style::TimeScale::for_span(tl.last().map_or(0.0, |t| t.t_s));
        let (decor, x_max, rate) = match axis {
            XAxis::Requests => (
                decor::build(
                    tl,
                    leak,
                    warmup_end_s,
                    |t| series::requests_at(tl, t),
                    |e| e.requests as f64,
                ),
                tl.last().map_or(0.0, |t| t.completed as f64),
                Vec::new(),
            ),
            XAxis::Time => (
                decor::build(tl, leak, warmup_end_s, |t| time.x(t), |e| time.x(e.t_s)),
                time.x(tl.last().map_or(0.0, |t| t.t_s)),
                series::thin(&series::rates(tl).completed, MAX_POINTS, |p| p.1)
                    .into_iter()
                    .map(|(t, r)| (time.x(t), r))
                    .collect(),
            ),
        };
        // With growth in time the per-request line leaves time's share out, so drawn against
        // requests alone it would not follow the data: the time plot tells that story.
        let fit = match axis {
            XAxis::Requests if leak.verdict != Verdict::TimeGrowth => series::fit_line(tl, leak),
            _ => None,
        };
        MemoryFigure {
            axis,
            series,
            fit,
            decor,
            rate,
            caption,
            x_max,
            time,
        }
    }

    pub fn caption(&self) -> String {
        self.caption.clone()
    }

    fn x_of(&self, p: &series::MemPoint) -> f64 {
        match self.axis {
            XAxis::Requests => p.requests,
            XAxis::Time => self.time.x(p.t_s),
        }
    }
}

/// Growth of the judged metric from its first to its last sample, and the seconds between.
fn overall_growth(series: &[MetricSeries]) -> Option<(f64, f64)> {
    let pts = &series.iter().find(|s| s.judged)?.points;
    let (a, z) = (pts.first()?, pts.last()?);
    Some((z.bytes - a.bytes, z.t_s - a.t_s))
}

/// `+553B`, `-1.2KiB`, `0B`.
pub fn signed_size(v: f64) -> String {
    let s = format_size(v);
    if v > 0.0 && s != "0B" {
        format!("+{s}")
    } else {
        s
    }
}

impl Figure for MemoryFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        let all = self.series.iter().flat_map(|s| s.points.iter());
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.bytes), b.max(p.bytes))
        });
        if !lo.is_finite() {
            return draw_empty(root, &self.caption, "no memory samples were recorded");
        }
        root.fill(&WHITE)?;
        let unit = ByteUnit::for_max(hi.abs().max(lo.abs()));
        // Show at least a quarter of the peak, so sampling noise on a flat line stays flat.
        let floor = lo.min(hi * 0.75).max(0.0_f64.min(lo));
        let (mut y0, mut y1) = style::padded(unit.scale(floor), unit.scale(hi), 0.06);
        y0 = if floor >= 0.0 { y0.max(0.0) } else { y0 };
        // Room at the top for the phase labels.
        y1 += (y1 - y0) * 0.12;
        let x1 = (self.x_max * 1.02).max(1.0);
        let mut builder = ChartBuilder::on(root);
        builder
            .caption(&self.caption, (FAMILY, 22).into_font().color(&style::INK))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(86);
        if self.axis == XAxis::Time {
            builder.right_y_label_area_size(76);
        }
        let chart = builder.build_cartesian_2d(0.0..x1, y0..y1)?;
        if self.axis == XAxis::Requests {
            let mut chart = chart;
            self.body(&mut chart, unit, (y0, y1))?;
            legend(&mut chart.configure_series_labels())?;
            return Ok(());
        }
        let r_max = self.rate.iter().map(|p| p.1).fold(0.0_f64, f64::max);
        let r_top = (r_max * 1.25).max(1.0);
        // Secondary first: it takes the right label area, so the primary mesh stays left.
        let mut dual = chart.set_secondary_coord(0.0..x1, 0.0..r_top);
        self.body(&mut dual, unit, (y0, y1))?;
        dual.configure_secondary_axes()
            .label_style((FAMILY, 14).into_font().color(&style::RATE))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::RATE))
            .y_label_formatter(&|v| format!("{}/s", style::short(*v)))
            .y_desc("request rate")
            .draw()?;
        dual.draw_secondary_series(LineSeries::new(
            self.rate.iter().copied(),
            style::RATE.mix(0.8).stroke_width(1),
        ))?
        .label("request rate (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style::RATE.stroke_width(2)));
        legend(&mut dual.configure_series_labels())?;
        Ok(())
    }
}

impl MemoryFigure {
    /// Mesh, decor, the memory lines and the fit, on the primary axes.
    fn body<DB: DrawingBackend>(
        &self,
        chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
        unit: ByteUnit,
        (y0, y1): (f64, f64),
    ) -> Result<(), DrawFailure> {
        let time = self.time;
        let x_label: &dyn Fn(&f64) -> String = match self.axis {
            XAxis::Requests => &|v| style::requests_label(*v),
            XAxis::Time => &move |v| time.label(*v),
        };
        let y_label = |v: &f64| unit.label(*v);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .light_line_style(style::GRID.mix(0.5))
            .bold_line_style(style::GRID)
            .label_style((FAMILY, 14).into_font().color(&style::INK))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::INK))
            .x_label_formatter(x_label)
            .y_label_formatter(&y_label)
            .x_desc(match self.axis {
                XAxis::Requests => "requests completed",
                XAxis::Time => "time since start",
            })
            .y_desc("memory")
            .draw()?;
        decor::draw(chart, &self.decor, (y0, y1), true)?;

        for (i, s) in self.series.iter().filter(|s| !s.judged).enumerate() {
            let color = style::OTHERS[i % style::OTHERS.len()];
            let pts = s.points.iter().map(|p| (self.x_of(p), unit.scale(p.bytes)));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(1)))?
                .label(s.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                });
        }
        if let Some(f) = &self.fit {
            // Two triangles meeting at the window's centre: the bow-tie of slopes the 95%
            // interval allows.
            let p = |x: f64, s: f64| (x, unit.scale(f.at(x, s)));
            let c = p(f.x_mean, f.slope);
            let fill = style::FIT.mix(0.18).filled();
            chart.draw_series([
                Polygon::new(vec![p(f.x0, f.low), c, p(f.x0, f.high)], fill),
                Polygon::new(vec![p(f.x1, f.low), c, p(f.x1, f.high)], fill),
            ])?;
        }
        for s in self.series.iter().filter(|s| s.judged) {
            let pts = s.points.iter().map(|p| (self.x_of(p), unit.scale(p.bytes)));
            chart
                .draw_series(LineSeries::new(pts, style::JUDGED.stroke_width(3)))?
                .label(format!("{} (judged)", s.label))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], style::JUDGED.stroke_width(3))
                });
        }
        if let Some(f) = &self.fit {
            let line = vec![
                (f.x0, unit.scale(f.at(f.x0, f.slope))),
                (f.x1, unit.scale(f.at(f.x1, f.slope))),
            ];
            let stroke = ShapeStyle {
                color: style::FIT.to_rgba(),
                filled: false,
                stroke_width: 2,
            };
            chart
                .draw_series(DashedLineSeries::new(line, 9, 9, stroke))?
                .label(format!(
                    "fit {}/request, 95% band {} to {}",
                    signed_size(f.slope),
                    format_size(f.low),
                    format_size(f.high)
                ))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], stroke));
        }
        Ok(())
    }
}

/// The legend box, lower right (where a rising line leaves room).
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    labels: &mut SeriesLabelStyle<'a, '_, DB, CT>,
) -> Result<(), DrawFailure> {
    labels
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FAMILY, 14).into_font().color(&style::INK))
        .background_style(WHITE.mix(0.9))
        .border_style(style::GRID)
        .draw()?;
    Ok(())
}
