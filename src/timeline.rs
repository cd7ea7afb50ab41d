//! The timeline: the one data structure a run produces and everything after it reads.
//!
//! A run is a sequence of ticks, one per memory sampling interval. The load engine and the
//! memory collector fill a tick; analysis, reports and compare read them. Latency is kept as
//! per-interval, per-endpoint HdrHistograms (mergeable), so a one-hour soak costs the same
//! memory per tick as a one-minute one and nothing is stored per request.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram records, in microseconds (1 hour); larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A full latency histogram in microseconds: what the load engine records into and what
/// analysis merges intervals into. Ticks store the compact [`SparseHist`] instead.
#[derive(Debug, Clone)]
pub struct LatencyHist(pub Histogram<u64>);

impl LatencyHist {
    pub fn new() -> Self {
        // 3 significant digits: 0.1% resolution, ~ 200 KiB worst case, much less when sparse.
        let h = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static histogram bounds");
        LatencyHist(h)
    }

    /// Records one latency, clamped into the histogram's range.
    pub fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us.clamp(1, MAX_LATENCY_US));
    }

    pub fn add(&mut self, other: &LatencyHist) {
        // Same bounds everywhere, so adding cannot fail; ignore the impossible error.
        let _ = self.0.add(&other.0);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds, or None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.value_at_quantile(q) as f64 / 1000.0)
        }
    }

    pub fn max_ms(&self) -> Option<f64> {
        if self.0.is_empty() {
            None
        } else {
            Some(self.0.max() as f64 / 1000.0)
        }
    }
}

impl Default for LatencyHist {
    fn default() -> Self {
        Self::new()
    }
}

/// One interval's latencies, kept sparse: (bucket value in µs, count) for the buckets that hold
/// anything, in increasing value order. A full HdrHistogram is ~184 KiB whatever it holds; an
/// interval typically fills a few hundred buckets, so a tick stays small and a one-hour soak
/// costs megabytes, not gigabytes. Merging into a [`LatencyHist`] is exact (same buckets).
///
/// The pairs are held encoded (LEB128 varints of value deltas and counts, ~3 bytes a bucket)
/// even in memory: as plain (u64, u64) pairs a 2,000 req/s soak's timeline grew leakhound's
/// own RSS by ~1.5 MiB a minute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseHist {
    bytes: Box<[u8]>,
}

impl SparseHist {
    pub fn from_hist(h: &LatencyHist) -> SparseHist {
        let mut out = Vec::new();
        let mut prev = 0;
        for v in h.0.iter_recorded() {
            let value = v.value_iterated_to();
            put_varint(&mut out, value - prev);
            put_varint(&mut out, v.count_at_value());
            prev = value;
        }
        SparseHist {
            bytes: out.into_boxed_slice(),
        }
    }

    /// The (bucket value in µs, count) pairs, in increasing value order.
    pub fn entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut rest: &[u8] = &self.bytes;
        let mut value = 0u64;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            // Validated when built or decoded, so these cannot fail.
            value = value.checked_add(get_varint(&mut rest)?)?;
            let count = get_varint(&mut rest)?;
            Some((value, count))
        })
    }

    /// Latencies recorded.
    pub fn len(&self) -> u64 {
        self.entries().map(|e| e.1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The latency at quantile `q` (0..=1) in milliseconds, or None when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.len();
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (value, count) in self.entries() {
            seen += count;
            if seen >= rank {
                return Some(value as f64 / 1000.0);
            }
        }
        None
    }

    pub fn max_ms(&self) -> Option<f64> {
        self.entries().last().map(|e| e.0 as f64 / 1000.0)
    }

    /// Compact bytes: LEB128 varints of (value delta, count) pairs.
    fn encode(&self) -> Vec<u8> {
        self.bytes.to_vec()
    }

    fn decode(bytes: &[u8]) -> Option<SparseHist> {
        // Check the whole encoding once, so iterating never meets a broken pair.
        let mut rest = bytes;
        let mut value = 0u64;
        while !rest.is_empty() {
            value = value.checked_add(get_varint(&mut rest)?)?;
            get_varint(&mut rest)?;
        }
        Some(SparseHist {
            bytes: bytes.into(),
        })
    }
}

impl LatencyHist {
    /// Adds one interval's latencies.
    pub fn add_sparse(&mut self, s: &SparseHist) {
        for (value, count) in s.entries() {
            self.0
                .saturating_record_n(value.clamp(1, MAX_LATENCY_US), count);
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

impl Serialize for SparseHist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.encode()))
    }
}

impl<'de> Deserialize<'de> for SparseHist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        SparseHist::decode(&bytes)
            .ok_or_else(|| serde::de::Error::custom("truncated latency histogram"))
    }
}

/// One phase as it actually ran.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhaseSpan {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Target rate at the start (open model), requests per second; 0 for an idle phase.
    pub rate: f64,
    /// Target rate at the end, when the phase ramps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
    /// Concurrent loops (closed model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
}

/// The phases as planned: each starts where the previous ended (the load engine keeps to it).
pub fn planned_spans(plan: &crate::scenario::Plan) -> Vec<PhaseSpan> {
    let mut start = 0.0;
    plan.load
        .phases
        .iter()
        .map(|p| {
            let end = start + p.duration.as_secs_f64();
            let span = PhaseSpan {
                name: p.name.clone(),
                start_s: start,
                end_s: end,
                rate: p.rate,
                ramp_to: p.ramp_to,
                concurrency: (p.concurrency > 0).then_some(p.concurrency),
            };
            start = end;
            span
        })
        .collect()
}

/// Per-endpoint figures of one tick. Counters are cumulative since the run started;
/// `status` and `latency` (microseconds) cover this tick's interval only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointTick {
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<u16, u64>,
    pub latency: SparseHist,
}

/// Memory read at one instant, stamped with the requests completed at that instant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MemorySample {
    /// Seconds since the run started, when the sample was taken.
    pub t_s: f64,
    /// Cumulative completed requests when the sample was taken.
    pub requests: u64,
    /// source -> metric -> bytes, e.g. "process" -> "rss_anon" -> 123456.
    pub readings: BTreeMap<String, BTreeMap<String, u64>>,
    /// Processes summed (the target's tree), when the source is `process`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
}

impl MemorySample {
    /// The reading of `metric` from any source, first source (by name) that has it.
    pub fn get(&self, metric: &str) -> Option<u64> {
        self.readings.values().find_map(|m| m.get(metric).copied())
    }
}

/// One sampling interval.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the run started, at the end of the interval.
    pub t_s: f64,
    /// Index into `Timeline::phases`.
    pub phase: usize,
    /// Cumulative counters over all endpoints.
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Arrivals not sent because the in-flight cap was reached (open model).
    pub overflow: u64,
    /// Arrivals skipped because the generator itself fell behind schedule (open model).
    pub missed: u64,
    /// Requests in flight at the end of the interval.
    pub in_flight: u64,
    /// Per endpoint, in the order of `Timeline::endpoints`.
    pub endpoints: Vec<EndpointTick>,
    /// The memory sample of this tick; None when sampling failed (the reason is an event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemorySample>,
    /// leakhound's own usage at the end of the interval, so a report can show that the
    /// generator stayed flat and was not the bottleneck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorSample>,
    /// Garbage collections the target's runtime reported during the interval (`gc_log`
    /// source), in the order they happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gc: Vec<GcSample>,
}

/// One garbage collection read from the runtime's own GC trace (Node `--trace-gc-nvp`, JVM
/// `-Xlog:gc`, Go `GODEBUG=gctrace=1`), stamped when leakhound read it. Its `heap_after` of a
/// major collection is the `heap_after_gc` metric: live data plus what the collector could not
/// free, without the heap capacity a runtime grows under load and returns when idle.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct GcSample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Cumulative completed requests at that moment.
    pub requests: u64,
    /// A full/major collection (V8 mark-compact, a JVM full GC or the end of a concurrent
    /// mark, every Go cycle): what survives it is what the program still holds.
    pub major: bool,
    /// Heap in use after the collection, bytes.
    pub heap_after: u64,
    /// Heap in use before it, when the runtime says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_before: Option<u64>,
    /// Stop-the-world pause, milliseconds.
    pub pause_ms: f64,
    /// Memory the program's objects hold outside the heap, when leakhound reads it: Node's
    /// ArrayBuffer backing stores (Buffers), read by leakhound's preload right after each full
    /// collection it forces; V8's own collections in between carry the last reading. A major
    /// collection's judged figure is `heap_after` plus this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<u64>,
}

impl GcSample {
    /// What survived the collection: the heap after it, plus the memory its objects hold
    /// outside the heap when that was read.
    pub fn retained(&self) -> u64 {
        self.heap_after + self.external.unwrap_or(0)
    }
}

/// leakhound's own CPU and memory at one instant.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct GeneratorSample {
    /// User + system CPU seconds since leakhound started (all threads).
    pub cpu_s: f64,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

/// Something that happened during the run: the target exited, a sample failed, Ctrl-C.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub t_s: f64,
    pub kind: String,
    pub detail: String,
    /// Cumulative completed requests when it happened.
    #[serde(default)]
    pub requests: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// UTC start time, RFC 3339.
    pub started_at: String,
    pub interval_s: f64,
    pub endpoints: Vec<String>,
    pub phases: Vec<PhaseSpan>,
    pub ticks: Vec<Tick>,
    pub events: Vec<Event>,
}

impl Timeline {
    /// All latencies of the ticks for which `keep` is true, merged over endpoints.
    pub fn merged_latency(&self, keep: impl Fn(&Tick) -> bool) -> LatencyHist {
        let mut all = LatencyHist::new();
        for t in self.ticks.iter().filter(|t| keep(t)) {
            for e in &t.endpoints {
                all.add_sparse(&e.latency);
            }
        }
        all
    }

    /// Latencies of one endpoint over the ticks for which `keep` is true.
    pub fn endpoint_latency(&self, index: usize, keep: impl Fn(&Tick) -> bool) -> LatencyHist {
        let mut all = LatencyHist::new();
        for t in self.ticks.iter().filter(|t| keep(t)) {
            if let Some(e) = t.endpoints.get(index) {
                all.add_sparse(&e.latency);
            }
        }
        all
    }

    pub fn last(&self) -> Option<&Tick> {
        self.ticks.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_histogram_keeps_quantiles_and_round_trips() {
        let mut h = LatencyHist::new();
        for us in 1..=10_000u64 {
            h.record_us(us * 10);
        }
        let s = SparseHist::from_hist(&h);
        assert_eq!(s.len(), 10_000);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            let (a, b) = (s.quantile_ms(q).unwrap(), h.quantile_ms(q).unwrap());
            assert!((a - b).abs() <= b * 0.001, "q {q}: sparse {a} vs full {b}");
        }
        let back: SparseHist = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let mut merged = LatencyHist::new();
        merged.add_sparse(&s);
        merged.add_sparse(&back);
        assert_eq!(merged.len(), 20_000);
        assert_eq!(merged.0.max(), h.0.max());
        assert!(
            serde_json::from_str::<SparseHist>("\"gA==\"").is_err(),
            "truncated varint"
        );
        // Held compact in memory too: a few bytes a bucket, not 16.
        let buckets = s.entries().count();
        assert!(buckets > 1000, "{buckets}");
        assert!(s.bytes.len() <= buckets * 5, "{} bytes", s.bytes.len());
    }

    #[test]
    fn merged_latency_adds_every_endpoint_of_kept_ticks() {
        let mut tl = Timeline::default();
        for phase in 0..2 {
            let mut h = LatencyHist::new();
            h.record_us(1000 * (phase as u64 + 1));
            let e = EndpointTick {
                latency: SparseHist::from_hist(&h),
                ..EndpointTick::default()
            };
            tl.ticks.push(Tick {
                phase,
                endpoints: vec![e.clone(), e],
                ..Tick::default()
            });
        }
        assert_eq!(tl.merged_latency(|_| true).len(), 4);
        assert_eq!(tl.merged_latency(|t| t.phase == 1).len(), 2);
        assert_eq!(
            tl.endpoint_latency(0, |t| t.phase == 1).quantile_ms(1.0),
            Some(2.0)
        );
    }
}
