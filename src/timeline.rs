//! The timeline: the one data structure a run produces and everything after it reads.
//!
//! A run is a sequence of ticks, one per memory sampling interval. The load engine and the
//! memory collector fill a tick; analysis, reports and compare read them. Latency is kept as
//! per-interval, per-endpoint HdrHistograms (mergeable), so a one-hour soak costs the same
//! memory per tick as a one-minute one and nothing is stored per request.

use std::collections::BTreeMap;

use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram records, in microseconds (1 hour); larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds, serialised as base64 of HdrHistogram's V2+deflate form
/// (the format other HdrHistogram tools read).
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

impl Serialize for LatencyHist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.0, &mut buf)
            .map_err(|e| serde::ser::Error::custom(format!("histogram: {e:?}")))?;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(buf))
    }
}

impl<'de> Deserialize<'de> for LatencyHist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| serde::de::Error::custom(format!("histogram: {e:?}")))?;
        Ok(LatencyHist(h))
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

/// Per-endpoint figures of one tick. Counters are cumulative since the run started;
/// `status` and `latency` cover this tick's interval only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointTick {
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<u16, u64>,
    pub latency: LatencyHist,
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
                all.add(&e.latency);
            }
        }
        all
    }

    /// Latencies of one endpoint over the ticks for which `keep` is true.
    pub fn endpoint_latency(&self, index: usize, keep: impl Fn(&Tick) -> bool) -> LatencyHist {
        let mut all = LatencyHist::new();
        for t in self.ticks.iter().filter(|t| keep(t)) {
            if let Some(e) = t.endpoints.get(index) {
                all.add(&e.latency);
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
    fn histogram_round_trips_through_json() {
        let mut h = LatencyHist::new();
        for us in [120, 250, 250, 9_000, 1_500_000] {
            h.record_us(us);
        }
        let text = serde_json::to_string(&h).unwrap();
        let back: LatencyHist = serde_json::from_str(&text).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.0.max(), h.0.max());
        assert_eq!(back.quantile_ms(0.5), h.quantile_ms(0.5));
    }

    #[test]
    fn merged_latency_adds_every_endpoint_of_kept_ticks() {
        let mut tl = Timeline::default();
        for phase in 0..2 {
            let mut e = EndpointTick::default();
            e.latency.record_us(1000 * (phase as u64 + 1));
            tl.ticks.push(Tick { phase, endpoints: vec![e.clone(), e], ..Tick::default() });
        }
        assert_eq!(tl.merged_latency(|_| true).len(), 4);
        assert_eq!(tl.merged_latency(|t| t.phase == 1).len(), 2);
        assert_eq!(tl.endpoint_latency(0, |t| t.phase == 1).quantile_ms(1.0), Some(2.0));
    }
}
