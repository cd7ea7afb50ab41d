//! Compare plots: the two memory-vs-requests curves overlaid, each normalised to its run's
//! start (growth since the first sample against requests since then) with its fitted slope and
//! band, and the two runs' latency percentiles side by side.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::verdict::{slope_text, CompareVerdict};
use crate::analysis::Analysis;
use crate::report::plots::series::{self, FitLine, MAX_POINTS};
use crate::report::plots::style::{self, ByteUnit, FAMILY};
use crate::report::plots::{draw_empty, DrawFailure, Figure};
use crate::timeline::Timeline;

/// One run's curve, normalised.
pub struct Curve {
    pub label: String,
    pub color: RGBColor,
    /// (requests since the first sample, bytes grown since it).
    pub points: Vec<(f64, f64)>,
    /// The fitted line, normalised the same way: (x0, x1, x_mean, y at mean, slope, low, high).
    pub fit: Option<(FitLine, f64, f64)>,
}

impl Curve {
    pub fn new(name: &str, color: RGBColor, tl: &Timeline, analysis: &Analysis) -> Curve {
        let series = series::memory_series(tl, &analysis.leak.metric);
        let judged = series.into_iter().find(|s| s.judged);
        let pts = judged.map(|s| s.points).unwrap_or_default();
        let origin = pts.first().map_or((0.0, 0.0), |p| (p.requests, p.bytes));
        let points: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| (p.requests - origin.0, p.bytes - origin.1))
            .collect();
        let points = series::thin(&points, MAX_POINTS, |p| p.1);
        let fit = series::fit_line(tl, &analysis.leak).map(|f| (f, origin.0, origin.1));
        let label = match &fit {
            Some(_) => format!("{name}: {}", slope_text(&analysis.leak.bytes_per_request)),
            None => format!("{name}: no fitted slope"),
        };
        Curve {
            label,
            color,
            points,
            fit,
        }
    }
}

pub struct CompareMemoryFigure {
    pub curves: [Curve; 2],
    pub caption: String,
}

impl CompareMemoryFigure {
    pub fn new(
        before: Curve,
        after: Curve,
        verdict: CompareVerdict,
        metric: &str,
    ) -> CompareMemoryFigure {
        let caption = format!("{metric} growth vs requests, before and after — {verdict}");
        CompareMemoryFigure {
            curves: [before, after],
            caption,
        }
    }
}

impl Figure for CompareMemoryFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        let all = self.curves.iter().flat_map(|c| c.points.iter());
        let (mut lo, mut hi, mut xmax) = (0.0_f64, f64::NEG_INFINITY, 0.0_f64);
        for p in all {
            lo = lo.min(p.1);
            hi = hi.max(p.1);
            xmax = xmax.max(p.0);
        }
        if !hi.is_finite() {
            return draw_empty(root, &self.caption, "neither run recorded memory samples");
        }
        root.fill(&WHITE)?;
        let unit = ByteUnit::for_max(hi.abs().max(lo.abs()));
        let (y0, y1) = style::padded(unit.scale(lo), unit.scale(hi), 0.08);
        let x1 = (xmax * 1.02).max(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.caption, (FAMILY, 22).into_font().color(&style::INK))
            .margin(14)
            .x_label_area_size(48)
            .y_label_area_size(86)
            .build_cartesian_2d(0.0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .max_light_lines(1)
            .light_line_style(style::GRID.mix(0.5))
            .bold_line_style(style::GRID)
            .label_style((FAMILY, 14).into_font().color(&style::INK))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::INK))
            .x_label_formatter(&|v| style::requests_label(*v))
            .y_label_formatter(&|v| unit.label(*v))
            .x_desc("requests since the run's first sample")
            .y_desc("growth since the run's first sample")
            .draw()?;
        for c in &self.curves {
            if let Some((f, ox, oy)) = &c.fit {
                let p = |x: f64, s: f64| (x - ox, unit.scale(f.at(x, s) - oy));
                let centre = p(f.x_mean, f.slope);
                let fill = c.color.mix(0.15).filled();
                chart.draw_series([
                    Polygon::new(vec![p(f.x0, f.low), centre, p(f.x0, f.high)], fill),
                    Polygon::new(vec![p(f.x1, f.low), centre, p(f.x1, f.high)], fill),
                ])?;
            }
        }
        for c in &self.curves {
            let color = c.color;
            chart
                .draw_series(LineSeries::new(
                    c.points.iter().map(|p| (p.0, unit.scale(p.1))),
                    color.stroke_width(3),
                ))?
                .label(c.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            if let Some((f, ox, oy)) = &c.fit {
                let line = vec![
                    (f.x0 - ox, unit.scale(f.at(f.x0, f.slope) - oy)),
                    (f.x1 - ox, unit.scale(f.at(f.x1, f.slope) - oy)),
                ];
                let stroke = ShapeStyle {
                    color: style::INK.mix(0.7),
                    filled: false,
                    stroke_width: 1,
                };
                chart.draw_series(DashedLineSeries::new(line, 8, 6, stroke))?;
            }
        }
        let dashed = ShapeStyle {
            color: style::INK.mix(0.7),
            filled: false,
            stroke_width: 1,
        };
        chart
            .draw_series(LineSeries::new(std::iter::empty::<(f64, f64)>(), dashed))?
            .label("dashed: each run's fitted slope, shaded: its 95% band")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 8, y), (x + 14, y), (x + 22, y)], dashed)
            });
        // Upper left: a leak climbs away from it and a flat line stays at the bottom.
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 14).into_font().color(&style::INK))
            .background_style(WHITE.mix(0.9))
            .border_style(style::GRID)
            .draw()?;
        Ok(())
    }
}

/// Whole-run latency percentiles of both runs, side by side.
pub struct CompareLatencyFigure {
    /// [p50, p90, p99, max] in ms for before and after.
    pub values: [[f64; 4]; 2],
    pub names: [String; 2],
    pub caption: String,
}

const GROUPS: [&str; 4] = ["p50", "p90", "p99", "max"];

impl Figure for CompareLatencyFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 420)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        let top = self
            .values
            .iter()
            .flatten()
            .copied()
            .fold(0.0_f64, f64::max);
        if top <= 0.0 {
            return draw_empty(root, &self.caption, "neither run completed a request");
        }
        root.fill(&WHITE)?;
        let y1 = top * 1.2;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.caption, (FAMILY, 22).into_font().color(&style::INK))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5..3.5, 0.0..y1)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(1)
            .light_line_style(style::GRID.mix(0.5))
            .bold_line_style(style::GRID)
            .label_style((FAMILY, 14).into_font().color(&style::INK))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::INK))
            .x_labels(4)
            .x_label_formatter(&|v: &f64| {
                let i = v.round();
                if (v - i).abs() < 0.01 && (0.0..4.0).contains(&i) {
                    GROUPS[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|v| style::millis_label(*v))
            .y_desc("latency")
            .draw()?;
        let colors = [style::BEFORE, style::AFTER];
        for (side, vals) in self.values.iter().enumerate() {
            let color = colors[side];
            let dx = if side == 0 { -0.36 } else { 0.02 };
            let bars = vals.iter().enumerate().map(move |(i, v)| {
                let x = i as f64 + dx;
                Rectangle::new([(x, 0.0), (x + 0.34, *v)], color.mix(0.85).filled())
            });
            chart
                .draw_series(bars)?
                .label(self.names[side].clone())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 18, y + 6)], color.filled())
                });
            let font = (FAMILY, 13)
                .into_font()
                .color(&style::INK)
                .pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series(vals.iter().enumerate().map(|(i, v)| {
                EmptyElement::at((i as f64 + dx + 0.17, *v))
                    + Text::new(style::millis_label(*v), (0, -4), font.clone())
            }))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FAMILY, 14).into_font().color(&style::INK))
            .background_style(WHITE.mix(0.9))
            .border_style(style::GRID)
            .draw()?;
        Ok(())
    }
}
