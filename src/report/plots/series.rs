//! What the plots draw, read from the timeline: memory lines, rates, latency percentiles.
//!
//! Everything here works per tick (one sampling interval), never per request, and long runs are
//! thinned to a bounded number of points so a one-hour soak renders as fast as a short one.

use std::collections::BTreeMap;

use crate::analysis::LeakReport;
use crate::timeline::{LatencyHist, Timeline};

/// Most points drawn per line; above this a line is thinned (keeping each bucket's extremes).
pub const MAX_POINTS: usize = 1200;
/// Most latency points per line: buckets of ticks are merged into one histogram each.
pub const MAX_LATENCY_POINTS: usize = 300;

/// One memory reading: seconds since start, requests completed, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemPoint {
    pub t_s: f64,
    pub requests: f64,
    pub bytes: f64,
}

/// All readings of one (source, metric) pair.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSeries {
    pub label: String,
    /// The metric the verdict is judged on.
    pub judged: bool,
    pub points: Vec<MemPoint>,
}

/// Every recorded memory metric, the judged one first; metrics that never read above zero
/// (e.g. swap) are left out. Labels are `metric`, or `source/metric` with several sources.
pub fn memory_series(tl: &Timeline, judged_metric: &str) -> Vec<MetricSeries> {
    let mut by_key: BTreeMap<(String, String), Vec<MemPoint>> = BTreeMap::new();
    let mut judged_source: Option<String> = None;
    for s in tl.ticks.iter().filter_map(|t| t.memory.as_ref()) {
        if judged_source.is_none() {
            // Same rule as MemorySample::get: the first source (by name) with the metric.
            judged_source = s
                .readings
                .iter()
                .find(|(_, m)| m.contains_key(judged_metric))
                .map(|(src, _)| src.clone());
        }
        for (src, metrics) in &s.readings {
            for (metric, &v) in metrics {
                by_key
                    .entry((src.clone(), metric.clone()))
                    .or_default()
                    .push(MemPoint {
                        t_s: s.t_s,
                        requests: s.requests as f64,
                        bytes: v as f64,
                    });
            }
        }
    }
    let sources: std::collections::BTreeSet<&String> = by_key.keys().map(|k| &k.0).collect();
    let several = sources.len() > 1;
    let mut out: Vec<MetricSeries> = by_key
        .iter()
        .filter(|(_, pts)| pts.iter().any(|p| p.bytes > 0.0))
        .map(|((src, metric), pts)| MetricSeries {
            label: if several {
                format!("{src}/{metric}")
            } else {
                metric.clone()
            },
            judged: metric == judged_metric && judged_source.as_deref() == Some(src.as_str()),
            points: pts.clone(),
        })
        .collect();
    out.sort_by_key(|s| !s.judged);
    out
}

/// Thins `points` to about `max` by keeping, per bucket, the lowest and highest value (in
/// order), so spikes and the overall shape survive.
pub fn thin<T: Copy>(points: &[T], max: usize, value: impl Fn(&T) -> f64) -> Vec<T> {
    if points.len() <= max || max < 4 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(max / 2);
    let mut out = Vec::with_capacity(max + 2);
    for chunk in points.chunks(per) {
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in chunk.iter().enumerate() {
            if value(p) < value(&chunk[lo]) {
                lo = i;
            }
            if value(p) > value(&chunk[hi]) {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(chunk[a]);
        if b != a {
            out.push(chunk[b]);
        }
    }
    out
}

/// Requests completed at `t_s`, interpolated between memory samples (the x values drawn).
pub fn requests_at(tl: &Timeline, t_s: f64) -> f64 {
    let mut prev = (0.0, 0.0);
    for s in tl.ticks.iter().filter_map(|t| t.memory.as_ref()) {
        let cur = (s.t_s, s.requests as f64);
        if cur.0 >= t_s {
            let span = cur.0 - prev.0;
            if span <= 0.0 {
                return cur.1;
            }
            return prev.1 + (cur.1 - prev.1) * (t_s - prev.0) / span;
        }
        prev = cur;
    }
    prev.1
}

/// Per-tick rates: requests completed, errors and timeouts per second, at each tick's end.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rates {
    pub completed: Vec<(f64, f64)>,
    pub errors: Vec<(f64, f64)>,
    pub timeouts: Vec<(f64, f64)>,
}

pub fn rates(tl: &Timeline) -> Rates {
    let mut r = Rates::default();
    let (mut t0, mut c0, mut e0, mut o0) = (0.0, 0u64, 0u64, 0u64);
    for t in &tl.ticks {
        let dt = t.t_s - t0;
        if dt > 0.0 {
            let per = |now: u64, before: u64| now.saturating_sub(before) as f64 / dt;
            r.completed.push((t.t_s, per(t.completed, c0)));
            r.errors.push((t.t_s, per(t.errors, e0)));
            r.timeouts.push((t.t_s, per(t.timeouts, o0)));
        }
        (t0, c0, e0, o0) = (t.t_s, t.completed, t.errors, t.timeouts);
    }
    r
}

/// Latency percentiles over time for one endpoint (or all of them), in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencyLines {
    pub name: String,
    /// (t_s, [p50, p90, p99, max]) for each bucket of ticks that saw any request.
    pub points: Vec<(f64, [f64; 4])>,
}

/// Percentiles per bucket of ticks, one set of lines per endpoint (`None` merges all of them).
pub fn latency_lines(tl: &Timeline, endpoint: Option<usize>) -> LatencyLines {
    let name = match (endpoint, tl.endpoints.as_slice()) {
        (Some(i), _) => tl.endpoints.get(i).cloned().unwrap_or_default(),
        (None, [only]) => only.clone(),
        (None, _) => "all endpoints".to_string(),
    };
    let per = tl.ticks.len().div_ceil(MAX_LATENCY_POINTS).max(1);
    // One reusable histogram: allocating one per bucket would cost more than the drawing.
    let mut merged = LatencyHist::new();
    let mut points = Vec::new();
    for chunk in tl.ticks.chunks(per) {
        merged.0.reset();
        for t in chunk {
            for (i, e) in t.endpoints.iter().enumerate() {
                if endpoint.is_none_or(|want| want == i) {
                    merged.add_sparse(&e.latency);
                }
            }
        }
        let q = |v: f64| merged.quantile_ms(v);
        if let (Some(p50), Some(p90), Some(p99), Some(max)) =
            (q(0.5), q(0.9), q(0.99), merged.max_ms())
        {
            let t = chunk.last().map_or(0.0, |t| t.t_s);
            points.push((t, [p50, p90, p99, max]));
        }
    }
    LatencyLines { name, points }
}

/// The fitted traffic slope drawn over the judged window: the line and a bow-tie band through
/// the window's centre with the slope's 95% interval (an OLS line passes through the mean).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitLine {
    pub x0: f64,
    pub x1: f64,
    pub x_mean: f64,
    pub intercept: f64,
    pub slope: f64,
    pub low: f64,
    pub high: f64,
}

impl FitLine {
    /// Bytes on the fitted line at `x` requests, with slope `s`, pivoting on the window's mean.
    pub fn at(&self, x: f64, s: f64) -> f64 {
        let y_mean = self.intercept + self.slope * self.x_mean;
        y_mean + s * (x - self.x_mean)
    }
}

/// The fit of `leak` over the samples of the judged window, or None when no line was fitted.
pub fn fit_line(tl: &Timeline, leak: &LeakReport) -> Option<FitLine> {
    let intercept = leak.intercept_bytes?;
    let w = &leak.window;
    let xs: Vec<f64> = tl
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref())
        .filter(|s| s.t_s >= w.from_s && s.t_s <= w.to_s && s.get(&leak.metric).is_some())
        .map(|s| s.requests as f64)
        .collect();
    let (first, last) = (*xs.first()?, *xs.last()?);
    let b = &leak.bytes_per_request;
    Some(FitLine {
        x0: first,
        x1: last,
        x_mean: xs.iter().sum::<f64>() / xs.len() as f64,
        intercept,
        slope: b.estimate,
        low: b.low,
        high: b.high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{EndpointTick, MemorySample, SparseHist, Tick};

    fn sample(t: f64, req: u64, rss: u64, anon: u64) -> MemorySample {
        let mut m = BTreeMap::new();
        m.insert("rss".to_string(), rss);
        m.insert("rss_anon".to_string(), anon);
        m.insert("swap".to_string(), 0);
        let mut readings = BTreeMap::new();
        readings.insert("process".to_string(), m);
        MemorySample {
            t_s: t,
            requests: req,
            readings,
            processes: Some(1),
        }
    }

    fn timeline(n: usize) -> Timeline {
        let mut tl = Timeline {
            endpoints: vec!["a".into(), "b".into()],
            ..Timeline::default()
        };
        for i in 1..=n {
            let mut h = LatencyHist::new();
            h.record_us(1000 * i as u64);
            let e = EndpointTick {
                completed: 50 * i as u64,
                latency: SparseHist::from_hist(&h),
                ..EndpointTick::default()
            };
            tl.ticks.push(Tick {
                t_s: i as f64,
                completed: 100 * i as u64,
                errors: i as u64 / 2,
                endpoints: vec![e.clone(), e],
                memory: Some(sample(
                    i as f64,
                    100 * i as u64,
                    5000 + 10 * i as u64,
                    1000 + 10 * i as u64,
                )),
                ..Tick::default()
            });
        }
        tl
    }

    #[test]
    fn judged_metric_first_and_zero_metrics_dropped() {
        let s = memory_series(&timeline(10), "rss_anon");
        let labels: Vec<&str> = s.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["rss_anon", "rss"]);
        assert!(s[0].judged && !s[1].judged);
        assert_eq!(
            s[0].points[2],
            MemPoint {
                t_s: 3.0,
                requests: 300.0,
                bytes: 1030.0
            }
        );
    }

    #[test]
    fn thinning_keeps_extremes_and_bounds_the_count() {
        let mut pts: Vec<f64> = (0..10_000).map(|i| i as f64).collect();
        pts[5000] = 1e9;
        let t = thin(&pts, 100, |v| *v);
        assert!(t.len() <= 102, "{}", t.len());
        assert!(t.contains(&1e9) && t.contains(&0.0) && t.contains(&9999.0));
        assert_eq!(thin(&pts[..50], 100, |v| *v).len(), 50);
    }

    #[test]
    fn rates_and_interpolated_requests() {
        let tl = timeline(4);
        let r = rates(&tl);
        assert_eq!(
            r.completed,
            vec![(1.0, 100.0), (2.0, 100.0), (3.0, 100.0), (4.0, 100.0)]
        );
        assert_eq!(r.errors[1], (2.0, 1.0));
        assert_eq!(requests_at(&tl, 2.5), 250.0);
        assert_eq!(requests_at(&tl, 99.0), 400.0);
        assert_eq!(requests_at(&tl, 0.5), 50.0);
    }

    #[test]
    fn latency_is_bucketed_for_long_runs() {
        let tl = timeline(900);
        let all = latency_lines(&tl, None);
        assert!(
            all.points.len() <= MAX_LATENCY_POINTS,
            "{}",
            all.points.len()
        );
        // Bucket 0 holds ticks 1..=3 (1, 2, 3 ms): max 3 ms.
        let [p50, _, _, max] = all.points[0].1;
        assert!(
            (max - 3.0).abs() < 0.01 && (p50 - 2.0).abs() < 0.01,
            "{p50} {max}"
        );
        assert_eq!(latency_lines(&tl, Some(1)).name, "b");
    }
}
