//! One line of a runtime's GC trace -> one [`GcSample`] (unstamped: the source stamps the time
//! and requests when it reads the line). Lines that are not GC lines (the program's own
//! output) give nothing, whatever they hold.
//!
//! - V8 `--trace-gc-nvp`: `... pause=5.9 ... gc=mc ... total_size_before=N total_size_after=N`
//!   (bytes of objects). Major: `gc=mc`/`ms` (mark-compact); scavenges and minor mark-sweeps
//!   are minor. V8 `--trace-gc` (a user's own flag): `Mark-Compact 92.2 (111.8) -> 86.1 (121.4)
//!   MB, 12.50 / 0.14 ms`, MiB with one decimal.
//! - HotSpot `-Xlog:gc` (any decorations): `GC(7) Pause Young (Normal) (G1 Evacuation Pause)
//!   6M->3M(64M) 5.326ms`. Major: `Pause Full` (every collector); for G1, the first young pause
//!   after a concurrent mark cycle ended, unless it starts mixed collections (then the first
//!   young pause after them): what survives it is the old generation after marking freed what
//!   it could, plus the survivors (Remark and Cleanup still count young garbage). ZGC's
//!   `Garbage Collection (...) A(x%)->B(y%)` and Shenandoah's `Concurrent cleanup A->B(C)` mark
//!   the whole heap every cycle, so they are major; their pauses are not on these lines (ZGC:
//!   0; Shenandoah: the cycle's `Pause ...` lines, summed into the cleanup's sample).
//! - Go `GODEBUG=gctrace=1`: `gc 5 @0.014s 5%: 0.007+2.8+0.001 ms clock, ..., 50->57->55 MB,
//!   ...`. Every cycle marks the whole heap: major, heap_after = the live heap (third figure,
//!   MiB), pause = the two stop-the-world phases (first and last clock figures).
//! - leakhound's Node preload, after each collection it forces: `[leakhound-gc PID]
//!   array_buffers=N` ([`preload_buffers`]), the Buffers that survived it, which V8's own line
//!   (written just before) does not count.

use crate::scenario::GcRuntime;
use crate::timeline::GcSample;

const MIB: f64 = 1024.0 * 1024.0;

/// Reads GC lines of one runtime, or of any (recognised line by line). Holds the little state
/// HotSpot's G1 and Shenandoah lines need.
#[derive(Debug, Default)]
pub struct GcParser {
    runtime: Option<GcRuntime>,
    /// A G1 concurrent mark cycle is running (a full GC aborts it).
    g1_in_cycle: bool,
    /// A G1 concurrent mark cycle ended and its post-marking young pause is still to come.
    g1_cycle_ended: bool,
    /// Pauses logged without heap figures (Shenandoah), owed to the next sample.
    owed_pause_ms: f64,
}

impl GcParser {
    pub fn new(runtime: Option<GcRuntime>) -> GcParser {
        GcParser {
            runtime,
            ..GcParser::default()
        }
    }

    /// The runtime whose lines alone are read, if one was given.
    pub fn runtime(&self) -> Option<GcRuntime> {
        self.runtime
    }

    /// The collection `line` reports, if it is a GC line of an accepted runtime.
    pub fn line(&mut self, line: &str) -> Option<GcSample> {
        let any = self.runtime.is_none();
        let node = any || self.runtime == Some(GcRuntime::Node);
        if node && line.contains(" gc=") {
            return node_nvp(line);
        }
        if node && line.contains(" ms: ") {
            if let Some(s) = node_trace(line) {
                return Some(s);
            }
        }
        if (any || self.runtime == Some(GcRuntime::Go)) && line.trim_start().starts_with("gc ") {
            if let Some(s) = go(line) {
                return Some(s);
            }
        }
        if (any || self.runtime == Some(GcRuntime::Jvm)) && line.contains("GC(") {
            return self.jvm(line);
        }
        None
    }

    fn jvm(&mut self, line: &str) -> Option<GcSample> {
        let rest = &line[line.find("GC(")? + 3..];
        let close = rest.find(')')?;
        rest[..close].parse::<u64>().ok()?;
        let what = rest[close + 1..].trim();
        if let Some(tail) = what.strip_prefix("Concurrent Mark Cycle") {
            // The cycle's end carries its duration; its start does not. A cycle a full GC
            // aborted (its end is logged after the full GC) marked nothing worth a sample.
            let ended = trailing_ms(tail).is_some();
            self.g1_cycle_ended |= ended && self.g1_in_cycle;
            self.g1_in_cycle = !ended;
            return None;
        }
        let major = if let Some(pause) = what.strip_prefix("Pause ") {
            if !pause.contains("->") {
                // A pause without heap figures (Shenandoah's Init/Final Mark, ZGC's under
                // -Xlog:gc*): owed to the cycle's sample.
                self.owed_pause_ms += trailing_ms(what).unwrap_or(0.0);
                return None;
            }
            if pause.starts_with("Full") {
                (self.g1_in_cycle, self.g1_cycle_ended) = (false, false);
                true
            } else {
                let mixed = pause.contains("Mixed)");
                pause.starts_with("Young") && !mixed && std::mem::take(&mut self.g1_cycle_ended)
            }
        } else if what.starts_with("Garbage Collection (") || what.starts_with("Concurrent cleanup")
        {
            true
        } else {
            return None;
        };
        let (before, after) = jvm_sizes(what)?;
        // ZGC and Shenandoah's trailing figure is concurrent time, not a pause.
        let own = if what.starts_with("Pause ") {
            trailing_ms(what).unwrap_or(0.0)
        } else {
            0.0
        };
        Some(GcSample {
            major,
            heap_after: after,
            heap_before: Some(before),
            pause_ms: own + std::mem::take(&mut self.owed_pause_ms),
            ..GcSample::default()
        })
    }
}

/// `[leakhound-gc PID] array_buffers=N`: the process and the bytes of ArrayBuffers (Buffers)
/// that survived the collection it just forced.
pub fn preload_buffers(line: &str) -> Option<(u32, u64)> {
    let rest = line.strip_prefix("[leakhound-gc ")?;
    let (pid, rest) = rest.split_once("] array_buffers=")?;
    Some((pid.parse().ok()?, rest.trim_end().parse().ok()?))
}

/// `... pause=5.9 ... gc=mc ... total_size_before=N total_size_after=N ...`
fn node_nvp(line: &str) -> Option<GcSample> {
    let (mut kind, mut pause, mut before, mut after) = (None, None, None, None);
    for (key, value) in line
        .split_ascii_whitespace()
        .filter_map(|t| t.split_once('='))
    {
        match key {
            "gc" => kind = Some(value),
            "pause" => pause = value.parse::<f64>().ok(),
            "total_size_before" => before = value.parse::<u64>().ok(),
            "total_size_after" => after = value.parse::<u64>().ok(),
            _ => {}
        }
    }
    Some(GcSample {
        major: matches!(kind?, "mc" | "ms"),
        heap_after: after?,
        heap_before: before,
        pause_ms: pause.filter(|p| p.is_finite() && *p >= 0.0).unwrap_or(0.0),
        ..GcSample::default()
    })
}

/// `[pid:0x...]  375 ms: Mark-Compact 92.2 (111.8) -> 86.1 (121.4) MB, 12.50 / 0.14 ms ...`
fn node_trace(line: &str) -> Option<GcSample> {
    let rest = &line[line.find(" ms: ")? + 5..];
    let mut words = rest.split_ascii_whitespace();
    // The collector's name runs up to the first figure ("Mark-Compact (reduce)").
    let mut name = String::new();
    let before: f64 = loop {
        let w = words.next()?;
        match w.parse() {
            Ok(v) => break v,
            Err(_) => name.push_str(w),
        }
    };
    if !matches!(
        name.trim_end_matches("(reduce)"),
        "Scavenge" | "Mark-Compact" | "Mark-Sweep" | "MinorMark-Compact" | "MinorMark-Sweep"
    ) {
        return None;
    }
    let (_cap, arrow, after, _cap2, unit) = (
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
        words.next()?,
    );
    if arrow != "->" || unit != "MB," {
        return None;
    }
    let after: f64 = after.parse().ok()?;
    let pause: f64 = words.next()?.parse().ok()?;
    Some(GcSample {
        major: name.starts_with("Mark-"),
        heap_after: (after * MIB) as u64,
        heap_before: Some((before * MIB) as u64),
        pause_ms: pause,
        ..GcSample::default()
    })
}

/// `gc 5 @0.014s 5%: 0.007+2.8+0.001 ms clock, ..., 50->57->55 MB, 55 MB goal, ...`
fn go(line: &str) -> Option<GcSample> {
    let mut words = line.split_ascii_whitespace();
    if words.next()? != "gc" {
        return None;
    }
    words.next()?.parse::<u64>().ok()?;
    if !words.next()?.starts_with('@') {
        return None;
    }
    let words: Vec<&str> = words.collect();
    let clock = words
        .windows(3)
        .find(|w| w[1] == "ms" && w[2] == "clock,")?[0];
    let phases: Vec<f64> = clock
        .split('+')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let heap = words
        .windows(2)
        .find(|w| w[1] == "MB," && w[0].contains("->"))?[0];
    let sizes: Vec<u64> = heap
        .split("->")
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let (&first, &live) = (sizes.first()?, sizes.last()?);
    Some(GcSample {
        major: true,
        heap_after: live << 20,
        heap_before: Some(first << 20),
        pause_ms: phases.first()? + phases.last()?,
        ..GcSample::default()
    })
}

/// `6M->3M(64M)` or `64M(100%)->16M(25%)`: heap before and after, bytes.
fn jvm_sizes(what: &str) -> Option<(u64, u64)> {
    let token = what.split_ascii_whitespace().find(|t| t.contains("->"))?;
    let (before, after) = token.split_once("->")?;
    Some((jvm_size(before)?, jvm_size(after)?))
}

/// `64M`, `64M(100%)`, `512K(1M)`: the leading size, bytes.
fn jvm_size(text: &str) -> Option<u64> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = text[..digits].parse().ok()?;
    let shift = match text[digits..].chars().next()? {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// The milliseconds in a trailing `5.326ms`.
fn trailing_ms(text: &str) -> Option<f64> {
    let last = text.split_ascii_whitespace().next_back()?;
    last.strip_suffix("ms")?
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}
