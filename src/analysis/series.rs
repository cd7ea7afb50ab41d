//! The series the verdict is judged on: which metric, which samples.
//!
//! - `heap_after_gc` (the `gc_log` source): the heap after each major collection, each at its
//!   own time and request count. It is the retained data itself, without the heap capacity a
//!   runtime grows under load and returns when idle, so every such sample is a point.
//! - Any other metric (RSS and the like): the local minima of the samples ([`floors`]):
//!   garbage-collected runtimes saw up and down between collections, and the floor of a few
//!   ticks follows what is really retained, while one sample may land on any tooth.
//!
//! When `heap_after_gc` is judged but too few major collections happened after warm-up, the
//! series falls back to `rss_anon` (or `rss`) and says why.

use crate::scenario::Plan;
use crate::timeline::Timeline;

/// The judged metric when the runtime's GC log is read.
pub const HEAP_AFTER_GC: &str = "heap_after_gc";
/// Fewer busy major collections than this after warm-up: judge RSS instead.
const MIN_GC_POINTS: usize = 10;
/// Longer series are thinned to about this many points (the fits are quadratic in points).
const MAX_POINTS: usize = 300;

/// One judged point: a reading of the metric with the request counts and time it was taken at.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub t: f64,
    /// Requests completed (all endpoints) when the sample was taken.
    pub r: f64,
    /// Requests completed per endpoint at the end of that tick.
    pub ep: Vec<f64>,
    pub m: f64,
    /// Taken during a phase that sent load (idle phases only tell growth with time).
    pub busy: bool,
}

/// The judged series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The metric judged (the plan's, or the fallback).
    pub metric: String,
    pub points: Vec<Point>,
    /// Samples of the metric after `from_s` (ticks, or major collections).
    pub samples: usize,
    /// Why the plan's metric was not judged, when it fell back.
    pub fallback: Option<String>,
    /// RSS judged in place of `heap_after_gc`: the runtime collects garbage, and its heap
    /// capacity moves RSS by more than its live data does.
    pub gc_runtime: bool,
}

/// The series of the plan's metric after `from_s`, or of RSS when the GC log has too little.
pub fn select(plan: &Plan, timeline: &Timeline, from_s: f64) -> Series {
    let busy = |phase: usize| {
        plan.load
            .phases
            .get(phase)
            .is_none_or(|p| !p.is_idle(plan.load.model))
    };
    let metric = plan.memory.metric.as_str();
    if metric != HEAP_AFTER_GC {
        return floors_of(timeline, metric, from_s, &busy);
    }
    let gc = collections(timeline, from_s, &busy);
    let busy_majors = gc.iter().filter(|p| p.busy).count();
    if busy_majors >= MIN_GC_POINTS {
        return Series {
            metric: metric.to_string(),
            samples: gc.len(),
            points: thin(gc),
            fallback: None,
            gc_runtime: true,
        };
    }
    let rss = ["rss_anon", "rss"]
        .into_iter()
        .find(|m| {
            timeline
                .ticks
                .iter()
                .any(|t| t.memory.as_ref().and_then(|s| s.get(m)).is_some())
        })
        .unwrap_or("rss_anon");
    let mut s = floors_of(timeline, rss, from_s, &busy);
    s.gc_runtime = true;
    s.fallback = Some(format!(
        "judged on {rss}: only {busy_majors} major garbage collections under load after \
         warm-up, and {HEAP_AFTER_GC} needs {MIN_GC_POINTS}"
    ));
    s
}

/// What survived each major collection at or after `from_s`. When some collections carry what
/// the program holds outside the heap (Node's Buffers, read by leakhound's preload), only
/// those are judged: a heap-only figure from before the first reading would read as a rise
/// by every Buffer the program holds.
fn collections(timeline: &Timeline, from_s: f64, busy: &dyn Fn(usize) -> bool) -> Vec<Point> {
    let majors = || {
        timeline
            .ticks
            .iter()
            .flat_map(|tick| tick.gc.iter().filter(|g| g.major).map(move |g| (tick, g)))
    };
    let external = majors().any(|(_, g)| g.external.is_some());
    majors()
        .filter(|(_, g)| g.t_s >= from_s && (!external || g.external.is_some()))
        .map(|(tick, g)| Point {
            t: g.t_s,
            r: g.requests as f64,
            ep: tick.endpoints.iter().map(|e| e.completed as f64).collect(),
            m: g.retained() as f64,
            busy: busy(tick.phase),
        })
        .collect()
}

fn floors_of(
    timeline: &Timeline,
    metric: &str,
    from_s: f64,
    busy: &dyn Fn(usize) -> bool,
) -> Series {
    let samples = timeline
        .ticks
        .iter()
        .filter_map(|t| t.memory.as_ref())
        .filter(|s| s.t_s >= from_s && s.get(metric).is_some())
        .count();
    Series {
        metric: metric.to_string(),
        points: floors(timeline, metric, from_s, window_ticks(samples), busy),
        samples,
        fallback: None,
        gc_runtime: false,
    }
}

/// Half-width of the neighbourhood, in ticks, a sample must be the lowest of to be judged.
pub fn window_ticks(samples: usize) -> usize {
    2.max(samples.div_ceil(MAX_POINTS))
}

/// The troughs of `metric` over the ticks at or after `from_s`: each tick contributes the
/// lowest sample within `half` ticks of it, so a GC sawtooth shorter than the neighbourhood
/// contributes its troughs and a steady trend contributes nearly every sample. Points keep the
/// time, request counts and phase of the sample they came from, so the selection biases no
/// slope, and a trough a runtime reached by returning memory while idle stays an idle point.
pub fn floors(
    timeline: &Timeline,
    metric: &str,
    from_s: f64,
    half: usize,
    busy: &dyn Fn(usize) -> bool,
) -> Vec<Point> {
    let all: Vec<Point> = timeline
        .ticks
        .iter()
        .filter_map(|tick| {
            let s = tick.memory.as_ref()?;
            let v = s.get(metric)?;
            (s.t_s >= from_s).then(|| Point {
                t: s.t_s,
                r: s.requests as f64,
                ep: tick.endpoints.iter().map(|e| e.completed as f64).collect(),
                m: v as f64,
                busy: busy(tick.phase),
            })
        })
        .collect();
    let mut keep = vec![false; all.len()];
    for i in 0..all.len() {
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(all.len());
        let j = (lo..hi)
            .min_by(|&a, &b| all[a].m.total_cmp(&all[b].m))
            .unwrap_or(i);
        keep[j] = true;
    }
    let chosen: Vec<Point> = all
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect();
    if half <= 2 {
        return chosen;
    }
    chosen
        .chunks(half)
        .filter_map(|c| c.iter().min_by(|a, b| a.m.total_cmp(&b.m)).cloned())
        .collect()
}

/// Thins a long series to about [`MAX_POINTS`]: the lowest of each run of consecutive points.
fn thin(points: Vec<Point>) -> Vec<Point> {
    let every = points.len().div_ceil(MAX_POINTS);
    if every <= 1 {
        return points;
    }
    points
        .chunks(every)
        .filter_map(|c| c.iter().min_by(|a, b| a.m.total_cmp(&b.m)).cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{MemorySample, Tick};
    use std::collections::BTreeMap;

    #[test]
    fn minima_follow_the_floor_of_a_sawtooth() {
        let mut tl = Timeline::default();
        for i in 0..12u64 {
            // A GC sawtooth of period 3 on a flat floor of 1000.
            let v = 1000 + (i % 3) * 500;
            let readings = BTreeMap::from([(
                "process".to_string(),
                BTreeMap::from([("rss_anon".to_string(), v)]),
            )]);
            tl.ticks.push(Tick {
                t_s: i as f64,
                phase: usize::from(i >= 6),
                memory: Some(MemorySample {
                    t_s: i as f64,
                    requests: i * 10,
                    readings,
                    processes: None,
                }),
                ..Tick::default()
            });
        }
        let all_busy = |_: usize| true;
        let pts = floors(&tl, "rss_anon", 0.0, 2, &all_busy);
        assert!(pts.len() >= 4, "{pts:?}");
        assert!(pts.iter().all(|p| p.m == 1000.0), "{pts:?}");
        assert!(floors(&tl, "rss_anon", 6.0, 2, &all_busy).len() >= 2);
        // Phase 1 idle: its floors keep their phase.
        let idle_second = |p: usize| p == 0;
        let pts = floors(&tl, "rss_anon", 0.0, 2, &idle_second);
        assert!(pts.iter().any(|p| !p.busy) && pts.iter().any(|p| p.busy));
        assert!(pts.iter().all(|p| p.busy == (p.t < 6.0)), "{pts:?}");
        assert_eq!(window_ticks(3600), 12);
        assert_eq!(window_ticks(70), 2);
    }
}
