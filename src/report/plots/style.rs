//! Look and units shared by every plot: the embedded font, colours, and axis labels in human
//! units (KiB/MiB, k/M requests, 1m30s).
//!
//! PNGs are drawn with plotters' `ab_glyph` text renderer and a TTF compiled into the binary,
//! so a plot has readable text on a machine with no fonts installed (a CI container).

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle, RGBColor};

/// DejaVu Sans (Debian's fonts-dejavu-core; license in assets/fonts/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family every plot asks for; plotters maps `FontFamily::SansSerif` to this name.
pub const FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process. Returns false when the font cannot be
/// parsed (cannot happen with the bundled file; a test checks it).
pub fn ensure_font() -> bool {
    static DONE: OnceLock<bool> = OnceLock::new();
    *DONE.get_or_init(|| {
        // Bold and italic fall back to the regular face inside plotters.
        register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
    })
}

pub const INK: RGBColor = RGBColor(40, 44, 52);
pub const GRID: RGBColor = RGBColor(225, 228, 232);
/// The judged metric: the line the verdict is about.
pub const JUDGED: RGBColor = RGBColor(31, 100, 180);
/// The fitted slope and its band.
pub const FIT: RGBColor = RGBColor(214, 39, 40);
/// The request rate on a second axis.
pub const RATE: RGBColor = RGBColor(230, 120, 20);
pub const ERROR: RGBColor = RGBColor(200, 30, 30);
pub const TIMEOUT: RGBColor = RGBColor(150, 60, 170);
/// GC pauses read from the runtime's log, on the latency plot.
pub const GC_PAUSE: RGBColor = RGBColor(20, 150, 140);
pub const EVENT: RGBColor = RGBColor(160, 20, 90);
/// Warm-up: greyed because it is not judged.
pub const WARMUP: RGBColor = RGBColor(120, 120, 120);
/// Alternating phase tints.
pub const PHASE_TINTS: [RGBColor; 2] = [RGBColor(70, 130, 200), RGBColor(60, 170, 110)];
/// Other recorded metrics: quieter than the judged one.
pub const OTHERS: [RGBColor; 5] = [
    RGBColor(120, 120, 120),
    RGBColor(150, 170, 60),
    RGBColor(60, 170, 180),
    RGBColor(190, 140, 70),
    RGBColor(150, 110, 170),
];
/// Latency percentiles p50, p90, p99, max.
pub const PERCENTILES: [RGBColor; 4] = [
    RGBColor(31, 100, 180),
    RGBColor(60, 160, 90),
    RGBColor(230, 120, 20),
    RGBColor(200, 30, 30),
];
/// Before / after in compare.
pub const BEFORE: RGBColor = RGBColor(200, 60, 50);
pub const AFTER: RGBColor = RGBColor(40, 120, 190);

/// A binary byte unit picked for an axis so tick labels are round numbers in that unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByteUnit {
    pub name: &'static str,
    pub bytes: f64,
}

impl ByteUnit {
    /// The largest unit not above `max_abs` bytes (B below 1 KiB).
    pub fn for_max(max_abs: f64) -> ByteUnit {
        const UNITS: [(&str, f64); 4] = [
            ("GiB", 1024.0 * 1024.0 * 1024.0),
            ("MiB", 1024.0 * 1024.0),
            ("KiB", 1024.0),
            ("B", 1.0),
        ];
        let (name, bytes) = UNITS
            .iter()
            .copied()
            .find(|&(_, b)| max_abs >= b)
            .unwrap_or(("B", 1.0));
        ByteUnit { name, bytes }
    }

    /// Bytes in this unit.
    pub fn scale(&self, bytes: f64) -> f64 {
        bytes / self.bytes
    }

    /// A tick label: `12.5 MiB`.
    pub fn label(&self, v: f64) -> String {
        format!("{} {}", short(v), self.name)
    }
}

/// At most 3 significant digits, no trailing zeros: 1.25, 12.5, 125.
pub fn short(v: f64) -> String {
    crate::units::short_number(v)
}

/// A request count for an axis: 950, 1.5k, 20k, 1.2M.
pub fn requests_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", short(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", short(v / 1e3))
    } else {
        short(v)
    }
}

/// Seconds for an axis: 0s, 45s, 1m30s, 1h.
pub fn seconds_label(v: f64) -> String {
    if v.abs() < 1.0 {
        return format!("{}s", short(v));
    }
    let total = v.round() as i64;
    let sign = if total < 0 { "-" } else { "" };
    let total = total.unsigned_abs();
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || (h == 0 && m == 0) {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// The unit of a time axis: seconds for short runs, minutes or hours for long ones, so that
/// plotters' round tick steps (1, 2, 5 x 10^n) land on round times (10m, not 8m20s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale {
    /// Seconds per axis unit.
    pub div: f64,
}

impl TimeScale {
    pub fn for_span(max_s: f64) -> TimeScale {
        let div = if max_s > 15.0 * 3600.0 {
            3600.0
        } else if max_s > 900.0 {
            60.0
        } else {
            1.0
        };
        TimeScale { div }
    }

    /// Seconds to axis units.
    pub fn x(&self, t_s: f64) -> f64 {
        t_s / self.div
    }

    /// An axis value as a time label.
    pub fn label(&self, v: f64) -> String {
        seconds_label(v * self.div)
    }
}

/// Milliseconds for an axis: 0.5ms, 12ms, 1.2s.
pub fn millis_label(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", short(v / 1000.0))
    } else {
        format!("{}ms", short(v))
    }
}

/// A range that shows `lo..hi` with a margin, never empty.
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = (hi.abs() * 0.05).max(1.0);
        return (lo - pad, hi + pad);
    }
    (lo - span * frac, hi + span * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_registers() {
        assert!(ensure_font());
        assert!(
            ensure_font(),
            "second call is a no-op that still reports success"
        );
    }

    #[test]
    fn byte_units_follow_the_largest_value() {
        assert_eq!(ByteUnit::for_max(512.0).name, "B");
        assert_eq!(ByteUnit::for_max(4096.0).name, "KiB");
        let mib = ByteUnit::for_max(50.0 * 1024.0 * 1024.0);
        assert_eq!(mib.name, "MiB");
        assert_eq!(mib.label(mib.scale(12.5 * 1024.0 * 1024.0)), "12.5 MiB");
        assert_eq!(ByteUnit::for_max(3e9).name, "GiB");
        assert_eq!(ByteUnit::for_max(0.0).name, "B");
    }

    #[test]
    fn axis_labels_are_human() {
        assert_eq!(requests_label(950.0), "950");
        assert_eq!(requests_label(1500.0), "1.5k");
        assert_eq!(requests_label(20_000.0), "20k");
        assert_eq!(requests_label(1_250_000.0), "1.25M");
        assert_eq!(seconds_label(0.0), "0s");
        assert_eq!(seconds_label(45.0), "45s");
        assert_eq!(seconds_label(90.0), "1m30s");
        assert_eq!(seconds_label(3600.0), "1h");
        assert_eq!(seconds_label(0.5), "0.5s");
        assert_eq!(millis_label(0.5), "0.5ms");
        assert_eq!(millis_label(1200.0), "1.2s");
    }

    #[test]
    fn long_runs_use_minutes_on_the_time_axis() {
        let short = TimeScale::for_span(45.0);
        assert_eq!((short.x(30.0), short.label(30.0).as_str()), (30.0, "30s"));
        let hour = TimeScale::for_span(3600.0);
        assert_eq!(hour.x(600.0), 10.0);
        assert_eq!(hour.label(10.0), "10m");
        assert_eq!(hour.label(70.0), "1h10m");
        assert_eq!(TimeScale::for_span(86_400.0).label(2.0), "2h");
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded(0.0, 10.0, 0.1), (-1.0, 11.0));
        let (a, b) = padded(5.0, 5.0, 0.1);
        assert!(a < 5.0 && b > 5.0);
        assert_eq!(padded(f64::NAN, 1.0, 0.1), (0.0, 1.0));
    }
}
