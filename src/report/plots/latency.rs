//! Timing plots: latency percentiles (p50/p90/p99/max) over time, one panel per endpoint when
//! there are several, and throughput with errors and timeouts over time.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::series::{self, LatencyLines, Rates, MAX_POINTS};
use super::style::{self, FAMILY};
use super::{decor, draw_empty, memory, DrawFailure, Figure};
use crate::analysis::Analysis;
use crate::timeline::Timeline;
use crate::units::{format_count, format_rate};

/// Most endpoint panels drawn; the HTML table covers every endpoint.
const MAX_PANELS: usize = 8;
const PANEL_HEIGHT: u32 = 250;
const TITLE_HEIGHT: u32 = 50;
const PERCENTILE_NAMES: [&str; 4] = ["p50", "p90", "p99", "max"];

pub struct LatencyFigure {
    panels: Vec<LatencyLines>,
    /// The longest GC pause of each tick that had one (`gc_log` source): (x, ms).
    gc_pauses: Vec<(f64, f64)>,
    decor: decor::Decor,
    x_max: f64,
    time: style::TimeScale,
    caption: String,
}

impl LatencyFigure {
    pub fn new(tl: &Timeline, analysis: &Analysis, warmup_end_s: f64) -> LatencyFigure {
        let time = style::TimeScale::for_span(tl.last().map_or(0.0, |t| t.t_s));
        let mut panels: Vec<LatencyLines> = if tl.endpoints.len() > 1 {
            (0..tl.endpoints.len().min(MAX_PANELS))
                .map(|i| series::latency_lines(tl, Some(i)))
                .collect()
        } else {
            vec![series::latency_lines(tl, None)]
        };
        for p in &mut panels {
            for pt in &mut p.points {
                pt.0 = time.x(pt.0);
            }
        }
        let l = &analysis.latency_ms;
        let caption = format!(
            "Latency over time — whole run p50 {}, p99 {}, max {}",
            style::millis_label(l.p50),
            style::millis_label(l.p99),
            style::millis_label(l.max)
        );
        let gc_pauses = tl
            .ticks
            .iter()
            .filter_map(|t| {
                let g =
                    t.gc.iter()
                        .max_by(|a, b| a.pause_ms.total_cmp(&b.pause_ms))?;
                (g.pause_ms > 0.0).then(|| (time.x(g.t_s), g.pause_ms))
            })
            .collect();
        LatencyFigure {
            panels,
            gc_pauses,
            decor: decor::build(
                tl,
                &analysis.leak,
                warmup_end_s,
                |t| time.x(t),
                |e| time.x(e.t_s),
            ),
            x_max: time.x(tl.last().map_or(0.0, |t| t.t_s)),
            time,
            caption,
        }
    }

    pub fn caption(&self) -> String {
        self.caption.clone()
    }
}

impl Figure for LatencyFigure {
    fn size(&self) -> (u32, u32) {
        (
            1200,
            TITLE_HEIGHT + PANEL_HEIGHT * self.panels.len().max(1) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        if self.panels.iter().all(|p| p.points.is_empty()) {
            return draw_empty(root, &self.caption, "no requests completed");
        }
        root.fill(&WHITE)?;
        let root = root.titled(&self.caption, (FAMILY, 22).into_font().color(&style::INK))?;
        let areas = root.split_evenly((self.panels.len(), 1));
        // One y range for all panels so endpoints compare at a glance.
        let values = self
            .panels
            .iter()
            .flat_map(|p| p.points.iter().flat_map(|(_, v)| v.iter().copied()));
        let (lo, hi) = values.fold((f64::INFINITY, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
        // Log scale when max and p50 are orders of magnitude apart, else linear from zero.
        let log = hi / lo.max(1e-9) > 40.0;
        for (n, (panel, area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let last = n + 1 == self.panels.len();
            if log {
                let (y0, y1) = ((lo / 1.6).max(0.001), (hi * 2.5).max(0.01));
                self.panel(area, panel, n, last, (y0..y1).log_scale(), (y0, y1))?;
            } else {
                let y1 = (hi * 1.3).max(0.01);
                self.panel(area, panel, n, last, 0.0..y1, (0.0, y1))?;
            }
        }
        Ok(())
    }
}

impl LatencyFigure {
    /// One endpoint's panel; generic over the y axis (linear or log).
    fn panel<DB, YR>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &LatencyLines,
        n: usize,
        last: bool,
        y: YR,
        (y0, y1): (f64, f64),
    ) -> Result<(), DrawFailure>
    where
        DB: DrawingBackend,
        YR: AsRangedCoord<Value = f64>,
        YR::CoordDescType: ValueFormatter<f64>,
    {
        let x1 = (self.x_max * 1.01).max(1.0);
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("endpoint: {}", panel.name),
                (FAMILY, 16).into_font().color(&style::INK),
            )
            .margin_left(14)
            .margin_right(24)
            .margin_top(4)
            .x_label_area_size(if last { 44 } else { 22 })
            .y_label_area_size(86)
            .build_cartesian_2d(0.0..x1, y)?;
        chart
            .configure_mesh()
            .max_light_lines(1)
            .light_line_style(style::GRID.mix(0.4))
            .bold_line_style(style::GRID)
            .label_style((FAMILY, 13).into_font().color(&style::INK))
            .axis_desc_style((FAMILY, 14).into_font().color(&style::INK))
            .x_label_formatter(&|v| self.time.label(*v))
            .y_label_formatter(&|v| style::millis_label(*v))
            .y_labels(6)
            .x_desc(if last { "time since start" } else { "" })
            .y_desc("latency")
            .draw()?;
        decor::draw(&mut chart, &self.decor, (y0, y1), n == 0)?;
        for (k, name) in PERCENTILE_NAMES.iter().enumerate() {
            let color = style::PERCENTILES[k];
            let width = if k == 2 { 2 } else { 1 };
            let pts = panel.points.iter().map(|(t, v)| (*t, v[k].max(y0)));
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(width)))?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                });
        }
        if !self.gc_pauses.is_empty() {
            // Small dots, so a pause lines up with the latency it caused without hiding it.
            let dot = style::GC_PAUSE.filled();
            let pts = self.gc_pauses.iter().map(|&(t, ms)| (t, ms.clamp(y0, y1)));
            chart
                .draw_series(pts.map(|p| Circle::new(p, 2, dot)))?
                .label("GC pause (longest per tick)")
                .legend(move |(x, y)| Circle::new((x + 11, y), 3, dot));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 13).into_font().color(&style::INK))
            .background_style(WHITE.mix(0.9))
            .border_style(style::GRID)
            .draw()?;
        Ok(())
    }
}

pub struct ThroughputFigure {
    rates: Rates,
    decor: decor::Decor,
    x_max: f64,
    time: style::TimeScale,
    caption: String,
}

impl ThroughputFigure {
    pub fn new(tl: &Timeline, analysis: &Analysis, warmup_end_s: f64) -> ThroughputFigure {
        let time = style::TimeScale::for_span(tl.last().map_or(0.0, |t| t.t_s));
        let r = series::rates(tl);
        let scaled = |v: &[(f64, f64)]| -> Vec<(f64, f64)> {
            series::thin(v, MAX_POINTS, |p| p.1)
                .into_iter()
                .map(|(t, x)| (time.x(t), x))
                .collect()
        };
        let rates = Rates {
            completed: scaled(&r.completed),
            errors: scaled(&r.errors),
            timeouts: scaled(&r.timeouts),
        };
        let q = &analysis.requests;
        let caption = format!(
            "Throughput and errors — {} achieved, {} errors, {} timeouts",
            format_rate(analysis.achieved_rate),
            format_count(q.errors as f64),
            format_count(q.timeouts as f64)
        );
        ThroughputFigure {
            rates,
            decor: decor::build(
                tl,
                &analysis.leak,
                warmup_end_s,
                |t| time.x(t),
                |e| time.x(e.t_s),
            ),
            x_max: time.x(tl.last().map_or(0.0, |t| t.t_s)),
            time,
            caption,
        }
    }

    pub fn caption(&self) -> String {
        self.caption.clone()
    }
}

impl Figure for ThroughputFigure {
    fn size(&self) -> (u32, u32) {
        (1200, 450)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawFailure> {
        if self.rates.completed.is_empty() {
            return draw_empty(root, &self.caption, "no intervals were recorded");
        }
        root.fill(&WHITE)?;
        let top = |v: &[(f64, f64)]| v.iter().map(|p| p.1).fold(0.0_f64, f64::max);
        let r_top = (top(&self.rates.completed) * 1.3).max(1.0);
        let e_top = (top(&self.rates.errors).max(top(&self.rates.timeouts)) * 1.3).max(1.0);
        let x1 = (self.x_max * 1.01).max(1.0);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.caption, (FAMILY, 22).into_font().color(&style::INK))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .right_y_label_area_size(76)
            .build_cartesian_2d(0.0..x1, 0.0..r_top)?
            .set_secondary_coord(0.0..x1, 0.0..e_top);
        chart
            .configure_mesh()
            .max_light_lines(1)
            .light_line_style(style::GRID.mix(0.4))
            .bold_line_style(style::GRID)
            .label_style((FAMILY, 14).into_font().color(&style::INK))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::INK))
            .x_label_formatter(&|v| self.time.label(*v))
            .y_label_formatter(&|v| format!("{}/s", style::short(*v)))
            .x_desc("time since start")
            .y_desc("requests completed")
            .draw()?;
        chart
            .configure_secondary_axes()
            .label_style((FAMILY, 14).into_font().color(&style::ERROR))
            .axis_desc_style((FAMILY, 15).into_font().color(&style::ERROR))
            .y_label_formatter(&|v| format!("{}/s", style::short(*v)))
            .y_desc("errors, timeouts")
            .draw()?;
        decor::draw(&mut chart, &self.decor, (0.0, r_top), true)?;
        let blue = style::JUDGED;
        chart
            .draw_series(
                AreaSeries::new(self.rates.completed.iter().copied(), 0.0, blue.mix(0.12))
                    .border_style(blue.stroke_width(2)),
            )?
            .label("completed/s")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], blue.stroke_width(2))
            });
        for (pts, color, name) in [
            (&self.rates.errors, style::ERROR, "errors/s (right axis)"),
            (
                &self.rates.timeouts,
                style::TIMEOUT,
                "timeouts/s (right axis)",
            ),
        ] {
            chart
                .draw_secondary_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                });
        }
        memory::legend(&mut chart.configure_series_labels())?;
        Ok(())
    }
}
