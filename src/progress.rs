//! Live progress while a run goes: a status line on a terminal, plain periodic lines in CI logs.
//!
//! Shows the phase, elapsed/total time, achieved rate, requests in flight, the interval's p99,
//! errors, and the judged memory metric with its growth since the start.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::scenario::Plan;
use crate::timeline::{LatencyHist, Tick};
use crate::units::format_size;

/// How often a plain line is printed when stderr is not a terminal.
const LINE_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live status line (stderr is a terminal).
    Bar,
    /// One plain line every few seconds (CI logs).
    Lines,
    /// Nothing until the end.
    Off,
}

impl ProgressMode {
    /// Bar on a terminal, lines otherwise, unless switched off.
    pub fn detect(off: bool) -> ProgressMode {
        if off {
            ProgressMode::Off
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bar
        } else {
            ProgressMode::Lines
        }
    }
}

pub struct Progress {
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    last_line: Option<Instant>,
    start_memory: Option<u64>,
    /// The last reading of the judged metric: heap_after_gc is read only in ticks with a
    /// major collection, and the line keeps showing it in between.
    last_memory: Option<u64>,
}

impl Progress {
    pub fn new(mode: ProgressMode, plan: &Plan) -> Progress {
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar = ProgressBar::new(plan.total_duration().as_secs().max(1));
            // The template is a constant, so it always parses; fall back to the default otherwise.
            let style = ProgressStyle::with_template("{spinner} [{bar:20}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            mode,
            bar,
            last_line: None,
            start_memory: None,
            last_memory: None,
        }
    }

    /// A status message outside the ticks (starting, draining).
    pub fn message(&self, msg: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.set_message(msg.to_string()),
            (None, ProgressMode::Lines) => eprintln!("leakhound: {msg}"),
            _ => {}
        }
    }

    /// Shows one tick.
    pub fn tick(&mut self, plan: &Plan, tick: &Tick, prev: Option<&Tick>) {
        if self.mode == ProgressMode::Off {
            return;
        }
        let memory = tick
            .memory
            .as_ref()
            .and_then(|m| m.get(&plan.memory.metric))
            .or(self.last_memory);
        self.last_memory = memory;
        if self.start_memory.is_none() {
            self.start_memory = prev
                .and_then(|p| p.memory.as_ref()?.get(&plan.memory.metric))
                .or(memory);
        }
        let line = status_line(plan, tick, prev, memory, self.start_memory);
        if let Some(bar) = &self.bar {
            bar.set_position(tick.t_s as u64);
            bar.set_message(line);
        } else if self.last_line.is_none_or(|t| t.elapsed() >= LINE_EVERY) {
            self.last_line = Some(Instant::now());
            eprintln!("leakhound: {line}");
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn status_line(
    plan: &Plan,
    tick: &Tick,
    prev: Option<&Tick>,
    memory: Option<u64>,
    start: Option<u64>,
) -> String {
    let phases = &plan.load.phases;
    let phase = phases.get(tick.phase).map_or("-", |p| p.name.as_str());
    let total = plan.total_duration().as_secs_f64();
    let (dt, dn) = prev.map_or((tick.t_s, tick.completed), |p| {
        (tick.t_s - p.t_s, tick.completed.saturating_sub(p.completed))
    });
    let rate = if dt > 0.0 { dn as f64 / dt } else { 0.0 };
    let mut lat = LatencyHist::new();
    for e in &tick.endpoints {
        lat.add_sparse(&e.latency);
    }
    let p99 = lat
        .quantile_ms(0.99)
        .map_or("-".to_string(), |v| format!("{v:.1}ms"));
    let mem = match (memory, start) {
        (Some(m), Some(s)) => format!(
            "{} {} ({}{})",
            plan.memory.metric,
            format_size(m as f64),
            if m >= s { "+" } else { "" },
            format_size(m as f64 - s as f64)
        ),
        (Some(m), None) => format!("{} {}", plan.memory.metric, format_size(m as f64)),
        _ => format!("{} -", plan.memory.metric),
    };
    format!(
        "{phase} [{}/{}] {:.0}s/{:.0}s | {rate:.0}/s | in flight {} | p99 {p99} | errors {} | {mem}",
        tick.phase + 1,
        phases.len(),
        tick.t_s,
        total,
        tick.in_flight,
        tick.errors,
    )
}
