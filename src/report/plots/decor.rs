//! What sits behind the data lines: phases shaded and labelled, warm-up greyed (it is not
//! judged), idle phases and events (target exits, restarts, OOM) marked with vertical lines.
//!
//! Computed once per x axis (requests or seconds) and drawn on any chart whose x axis is f64.

use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, FAMILY};
use super::DrawFailure;
use crate::analysis::LeakReport;
use crate::timeline::{PhaseSpan, Timeline};
use crate::units::format_rate;

/// A shaded span of the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub x0: f64,
    pub x1: f64,
    pub label: String,
    /// Index into the phase tints; None = warm-up grey.
    pub tint: Option<usize>,
    /// Label row (0 = top), alternating so narrow neighbours do not overwrite each other.
    pub row: u32,
    /// A lighter grey: not judged, but not warm-up either.
    pub faint: bool,
}

/// A vertical line: an idle phase (no width in requests) or an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub label: String,
    pub event: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decor {
    pub bands: Vec<Band>,
    pub marks: Vec<Mark>,
    /// Frequent, routine events (GCs forced by the inspector source): short light ticks at the
    /// bottom, unlabelled but one, so hundreds of them never hide the data or the other events.
    pub ticks: Vec<f64>,
}

/// Event kinds drawn as ticks rather than labelled lines.
const TICK_KINDS: &[&str] = &["forced_gc"];

/// Most events drawn; past this, the HTML table lists them all.
const MAX_EVENTS: usize = 12;

/// `soak · 600/s`, `ramp · 400→800/s`, `rest · idle`, `soak · 50 loops`.
pub fn phase_label(p: &PhaseSpan) -> String {
    let load = match (p.concurrency, p.ramp_to) {
        (Some(c), _) if c > 0 => format!("{c} loops"),
        (_, Some(to)) => format!(
            "{}→{}",
            format_rate(p.rate).trim_end_matches("/s"),
            format_rate(to)
        ),
        _ if p.rate <= 0.0 => "idle".to_string(),
        _ => format_rate(p.rate),
    };
    format!("{} · {load}", p.name)
}

/// Builds the decor for an x axis: `x_of(t_s)` maps seconds to x, `event_x` places events.
/// `warmup_end_s` is where the planned warm-up ends; the judged window (`leak.window`) may
/// start later still, when the analysis skipped a step or a fill before a steady stretch.
pub fn build(
    tl: &Timeline,
    leak: &LeakReport,
    warmup_end_s: f64,
    x_of: impl Fn(f64) -> f64,
    event_x: impl Fn(&crate::timeline::Event) -> f64,
) -> Decor {
    let mut d = Decor::default();
    let end_x = x_of(tl.last().map_or(0.0, |t| t.t_s));
    let tiny = end_x.abs().max(1.0) * 0.004;
    // A boundary within one and a half sampling intervals of another is the same boundary.
    let slack = tl.interval_s.max(0.0) * 1.5 + 1e-6;
    let warm_end = (warmup_end_s > 0.0).then_some(warmup_end_s);
    let mut warm_labelled = false;
    for (i, p) in tl.phases.iter().enumerate() {
        let (x0, x1) = (x_of(p.start_s), x_of(p.end_s));
        let mut label = phase_label(p);
        if warm_end.is_some_and(|w| i == 0 && (w - p.end_s).abs() <= slack) {
            label.push_str(" · warm-up, not judged");
            warm_labelled = true;
        }
        if x1 - x0 <= tiny {
            d.marks.push(Mark {
                x: x0,
                label,
                event: false,
            });
        } else {
            d.bands.push(Band {
                x0,
                x1,
                label,
                tint: Some(i % 2),
                row: (i % 2) as u32,
                faint: false,
            });
        }
    }
    if let Some(w) = warm_end {
        let x1 = x_of(w);
        if x1 > x_of(0.0) {
            let label = if warm_labelled {
                String::new()
            } else {
                "warm-up, not judged".to_string()
            };
            d.bands.push(Band {
                x0: x_of(0.0),
                x1,
                label,
                tint: None,
                row: 2,
                faint: false,
            });
        }
    }
    let from = leak.window.from_s;
    if leak.window.samples > 0 && from > warm_end.unwrap_or(0.0) + slack {
        let x0 = x_of(warm_end.unwrap_or(0.0));
        d.bands.push(Band {
            x0,
            x1: x_of(from),
            label: "not judged: before the steady stretch".to_string(),
            tint: None,
            row: 2,
            faint: true,
        });
    }
    for e in tl
        .events
        .iter()
        .filter(|e| TICK_KINDS.contains(&e.kind.as_str()))
    {
        d.ticks.push(event_x(e));
    }
    let notable = tl
        .events
        .iter()
        .filter(|e| !TICK_KINDS.contains(&e.kind.as_str()));
    for e in notable.take(MAX_EVENTS) {
        d.marks.push(Mark {
            x: event_x(e),
            label: e.kind.replace('_', " "),
            event: true,
        });
    }
    d
}

/// Draws the decor behind the data, over y from `y0` to `y1` (data units).
pub fn draw<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, Y>>,
    d: &Decor,
    (y0, y1): (f64, f64),
    labels: bool,
) -> Result<(), DrawFailure> {
    let font = (FAMILY, 14).into_font();
    let right_px = chart.plotting_area().get_pixel_range().0.end;
    let x_end = chart.x_range().end;
    for b in &d.bands {
        let fill = match b.tint {
            Some(i) => style::PHASE_TINTS[i % style::PHASE_TINTS.len()]
                .mix(0.07)
                .filled(),
            None if b.faint => style::WARMUP.mix(0.12).filled(),
            None => style::WARMUP.mix(0.22).filled(),
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(b.x0, y0), (b.x1, y1)],
            fill,
        )))?;
        if labels && !b.label.is_empty() {
            let color = match b.tint {
                Some(i) => style::PHASE_TINTS[i % style::PHASE_TINTS.len()],
                None => style::WARMUP,
            };
            let x_px = chart.backend_coord(&(b.x0, y1)).0;
            let at = place(&b.label, b.x0, x_px, right_px, x_end);
            let text = font.clone().color(&color).pos(Pos::new(at.1, VPos::Top));
            let dy = 6 + 18 * b.row as i32;
            chart.draw_series(std::iter::once(
                EmptyElement::at((at.0, y1)) + Text::new(b.label.clone(), (at.2, dy), text),
            ))?;
        }
    }
    for m in &d.marks {
        let color = if m.event { style::EVENT } else { style::WARMUP };
        let line = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: 2,
        };
        chart.draw_series(DashedLineSeries::new(
            vec![(m.x, y0), (m.x, y1)],
            6,
            4,
            line,
        ))?;
        if labels {
            let x_px = chart.backend_coord(&(m.x, y1)).0;
            let (_, hpos, dx) = place(&m.label, m.x, x_px, right_px, x_end);
            let text = font.clone().color(&color).pos(Pos::new(hpos, VPos::Top));
            // Events at the bottom, idle phases at the top.
            let (y, dy) = if m.event { (y0, -24) } else { (y1, 6) };
            chart.draw_series(std::iter::once(
                EmptyElement::at((m.x, y)) + Text::new(m.label.clone(), (dx, dy), text),
            ))?;
        }
    }
    if let Some(&first) = d.ticks.first() {
        let color = style::EVENT.mix(0.45);
        let height = (y1 - y0) * 0.035;
        let thin = ShapeStyle {
            color: color.to_rgba(),
            filled: false,
            stroke_width: 1,
        };
        chart.draw_series(
            d.ticks
                .iter()
                .map(|&x| PathElement::new(vec![(x, y0), (x, y0 + height)], thin)),
        )?;
        if labels {
            let x_px = chart.backend_coord(&(first, y0)).0;
            let label = "forced GC";
            let (_, hpos, dx) = place(label, first, x_px, right_px, x_end);
            let text = (FAMILY, 12)
                .into_font()
                .color(&color)
                .pos(Pos::new(hpos, VPos::Bottom));
            chart.draw_series(std::iter::once(
                EmptyElement::at((first, y0 + height)) + Text::new(label, (dx, -2), text),
            ))?;
        }
    }
    Ok(())
}

/// Where a label starting at `x` goes: right of it, or, when it would run past the plot's
/// right edge, right-aligned against that edge (bands) or left of the line (marks).
/// Returns (anchor x, alignment, pixel offset). Width is estimated at 8 px per character.
fn place(label: &str, x: f64, x_px: i32, right_px: i32, x_end: f64) -> (f64, HPos, i32) {
    let width = 8 * label.chars().count() as i32;
    if x_px + 6 + width <= right_px {
        (x, HPos::Left, 6)
    } else if x_px - width - 6 > 0 && x_px > right_px - 40 {
        (x, HPos::Right, -6)
    } else {
        (x_end, HPos::Right, -6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::verdict::{Estimate, Verdict, Window};
    use crate::timeline::{Event, Tick};

    fn leak(from_s: f64) -> LeakReport {
        LeakReport {
            verdict: Verdict::None,
            metric: "rss_anon".into(),
            bytes_per_request: Estimate::default(),
            bytes_per_second: Estimate::default(),
            endpoints: Default::default(),
            reason: String::new(),
            intercept_bytes: None,
            limit_bytes_per_request: 128.0,
            window: Window {
                from_s,
                to_s: 45.0,
                samples: 80,
                requests: 1000,
            },
        }
    }

    fn phase(name: &str, a: f64, b: f64, rate: f64) -> PhaseSpan {
        PhaseSpan {
            name: name.into(),
            start_s: a,
            end_s: b,
            rate,
            ramp_to: None,
            concurrency: None,
        }
    }

    #[test]
    fn phases_warmup_idle_and_events() {
        let tl = Timeline {
            interval_s: 0.5,
            phases: vec![
                phase("warmup", 0.0, 5.0, 200.0),
                phase("soak", 5.0, 40.0, 600.0),
                phase("rest", 40.0, 45.0, 0.0),
            ],
            ticks: vec![Tick {
                t_s: 45.0,
                ..Tick::default()
            }],
            events: vec![
                Event {
                    t_s: 30.0,
                    kind: "target_exited".into(),
                    detail: String::new(),
                    requests: 7,
                },
                Event {
                    t_s: 31.0,
                    kind: "forced_gc".into(),
                    detail: String::new(),
                    requests: 9,
                },
            ],
            ..Timeline::default()
        };
        // Requests stop growing after 40 s: the idle phase has no width on a requests axis.
        let x = |t: f64| t.min(40.0) * 100.0;
        let d = build(&tl, &leak(5.0005), 5.0, x, |e| e.requests as f64);
        assert_eq!(d.bands.len(), 3, "{d:?}");
        assert_eq!(d.bands[0].label, "warmup · 200/s · warm-up, not judged");
        assert_eq!(d.bands[1].label, "soak · 600/s");
        assert_eq!(
            (d.bands[2].tint, d.bands[2].label.as_str()),
            (None, ""),
            "grey, labelled by the phase"
        );
        assert_eq!(
            d.marks[0],
            Mark {
                x: 4000.0,
                label: "rest · idle".into(),
                event: false
            }
        );
        assert_eq!(
            d.marks[1],
            Mark {
                x: 7.0,
                label: "target exited".into(),
                event: true
            }
        );
        // A forced GC is a tick, not a labelled line.
        assert_eq!(d.marks.len(), 2);
        assert_eq!(d.ticks, vec![9.0]);
    }

    #[test]
    fn warmup_without_a_matching_phase_gets_its_own_label() {
        let tl = Timeline {
            interval_s: 1.0,
            phases: vec![phase("soak", 0.0, 100.0, 50.0)],
            ticks: vec![Tick {
                t_s: 100.0,
                ..Tick::default()
            }],
            ..Timeline::default()
        };
        let d = build(&tl, &leak(20.5), 20.0, |t| t, |e| e.t_s);
        assert_eq!(
            d.bands.len(),
            2,
            "the judged window starts with the warm-up's end: {d:?}"
        );
        assert_eq!(d.bands[1].label, "warm-up, not judged");
        assert_eq!(d.bands[1].x1, 20.0);
        // The analysis judged only a later steady stretch: the part before it is greyed too.
        let d = build(&tl, &leak(60.0), 20.0, |t| t, |e| e.t_s);
        assert_eq!((d.bands[2].x0, d.bands[2].x1), (20.0, 60.0));
        assert_eq!(d.bands[2].label, "not judged: before the steady stretch");
        let ramp = PhaseSpan {
            ramp_to: Some(800.0),
            ..phase("ramp", 0.0, 1.0, 400.0)
        };
        assert_eq!(phase_label(&ramp), "ramp · 400→800/s");
    }
}
