//! The samples the verdict is judged on, and their segmentation into steady stretches.
//!
//! [`points`] keeps the local minima of the judged metric: garbage-collected runtimes saw up
//! and down between collections, and the floor of a few ticks follows what is really retained,
//! while a single sample may land on any tooth. [`segments`] then splits the series where its behaviour
//! changes (binary segmentation of piecewise fits of memory = a + b·requests + c·seconds, with
//! requests per endpoint when there are several, and a BIC-like penalty), so a warm-up step or a cache that fills and goes flat becomes its own
//! segment and the verdict can judge the last steady one.

use crate::timeline::Timeline;

/// One judged point: the minimum of the metric over a window of ticks, with the request
/// counts and time of the tick that held it.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub t: f64,
    /// Requests completed (all endpoints) when the sample was taken.
    pub r: f64,
    /// Requests completed per endpoint at the end of that tick.
    pub ep: Vec<f64>,
    pub m: f64,
}

/// Half-width of the neighbourhood, in ticks, a sample must be the lowest of to be judged.
pub fn window_ticks(samples: usize) -> usize {
    const MAX_POINTS: usize = 300;
    2.max(samples.div_ceil(MAX_POINTS))
}

/// The troughs of `metric` over the ticks at or after `from_s`: each tick contributes the
/// lowest sample within `half` ticks of it, so a GC sawtooth shorter than
/// the neighbourhood contributes its troughs and a steady trend contributes nearly every
/// sample. Points keep the time and request counts of the sample they came from, so the
/// selection biases no slope. Long runs are thinned to one point per `half` ticks.
pub fn points(timeline: &Timeline, metric: &str, from_s: f64, half: usize) -> Vec<Point> {
    let mut all: Vec<(usize, Point)> = Vec::new();
    for tick in &timeline.ticks {
        let Some(s) = tick.memory.as_ref() else {
            continue;
        };
        if s.t_s < from_s {
            continue;
        }
        let Some(v) = s.get(metric) else { continue };
        all.push((
            tick.phase,
            Point {
                t: s.t_s,
                r: s.requests as f64,
                ep: tick.endpoints.iter().map(|e| e.completed as f64).collect(),
                m: v as f64,
            },
        ));
    }
    let mut keep = vec![false; all.len()];
    for i in 0..all.len() {
        let lo = i.saturating_sub(half);
        let hi = (i + half + 1).min(all.len());
        let j = (lo..hi)
            .min_by(|&a, &b| all[a].1.m.total_cmp(&all[b].1.m))
            .unwrap_or(i);
        keep[j] = true;
    }
    let chosen: Vec<Point> = all
        .into_iter()
        .zip(keep)
        .filter_map(|((_, p), k)| k.then_some(p))
        .collect();
    // Thin long runs: the lowest of each run of `half` consecutive points.
    if half <= 2 {
        return chosen;
    }
    chosen
        .chunks(half)
        .filter_map(|c| c.iter().min_by(|a, b| a.m.total_cmp(&b.m)).cloned())
        .collect()
}

/// Prefix sums of the cross products of z = (1, x_1..x_q, m), relative to the first point for
/// precision, so the fit of any stretch costs O(q^2) whatever its length.
struct Cross {
    /// Regressors per point: q.
    q: usize,
    /// prefix[i] holds the upper triangle of sum(z z^T) over points[..i], row-major (q+2)^2.
    prefix: Vec<Vec<f64>>,
}

impl Cross {
    /// Regressors: requests per endpoint when there are several (the mix may vary), else
    /// total requests; and seconds.
    fn new(points: &[Point]) -> Cross {
        let first = &points[0];
        let per_endpoint = first.ep.len() >= 2;
        let q = if per_endpoint { first.ep.len() + 1 } else { 2 };
        let d = q + 2;
        let mut acc = vec![0.0; d * d];
        let mut prefix = Vec::with_capacity(points.len() + 1);
        prefix.push(acc.clone());
        let mut z = vec![0.0; d];
        for p in points {
            z[0] = 1.0;
            if per_endpoint {
                for (j, (a, b)) in p.ep.iter().zip(&first.ep).enumerate() {
                    z[1 + j] = a - b;
                }
            } else {
                z[1] = p.r - first.r;
            }
            z[q] = p.t - first.t;
            z[q + 1] = p.m - first.m;
            for a in 0..d {
                for b in a..d {
                    acc[a * d + b] += z[a] * z[b];
                }
            }
            prefix.push(acc.clone());
        }
        Cross { q, prefix }
    }

    /// Residual sum of squares of m on the regressors over `s`, by sweeping in each regressor
    /// that is not (nearly) collinear with those already in: a constant-rate stretch fits on
    /// one of requests and seconds, a stretch where nothing varies on the mean alone.
    fn rss(&self, s: Span) -> f64 {
        let d = self.q + 2;
        let (hi, lo) = (&self.prefix[s.end], &self.prefix[s.start]);
        let sum = |a: usize, b: usize| {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            hi[a * d + b] - lo[a * d + b]
        };
        let n = sum(0, 0);
        if n < 1.0 {
            return 0.0;
        }
        // Centered cross products of regressors 1..=q and m (index q+1), shifted to 0-based.
        let k = d - 1;
        let mut c = vec![0.0; k * k];
        for a in 0..k {
            for b in 0..k {
                c[a * k + b] = sum(a + 1, b + 1) - sum(0, a + 1) * sum(0, b + 1) / n;
            }
        }
        let diag: Vec<f64> = (0..k).map(|a| c[a * k + a]).collect();
        for j in 0..self.q {
            let pivot = c[j * k + j];
            if pivot.is_nan() || pivot <= 1e-9 * diag[j] || pivot <= 0.0 {
                continue;
            }
            for a in 0..k {
                if a == j {
                    continue;
                }
                let f = c[a * k + j] / pivot;
                if f == 0.0 {
                    continue;
                }
                for b in 0..k {
                    if b != j {
                        c[a * k + b] -= f * c[j * k + b];
                    }
                }
            }
            for b in 0..k {
                c[j * k + b] = 0.0;
                c[b * k + j] = 0.0;
            }
        }
        c[(k - 1) * k + (k - 1)].max(0.0)
    }
}

/// A stretch of points `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Smallest segment, in points.
pub fn min_segment(points: usize) -> usize {
    6.max(points / 12)
}

/// Most segments kept: warm-up, a fill, a plateau and a little room.
const MAX_SEGMENTS: usize = 6;
/// Penalty per extra segment in units of ln(n): 4 parameters (3 coefficients and the
/// change point) times 3, because memory residuals are autocorrelated and BIC's own penalty
/// would split an ordinary noisy leak.
const PENALTY_PER_LN_N: f64 = 12.0;

/// Splits `points` into steady segments, in order. `floor` is the smallest per-point noise
/// variance worth modelling (memory is counted in pages), so perfectly flat stretches do not
/// give infinite likelihood gains.
pub fn segments(points: &[Point], floor: f64) -> Vec<Span> {
    let n = points.len();
    let whole = Span { start: 0, end: n };
    let min_len = min_segment(n);
    if n < 2 * min_len {
        return vec![whole];
    }
    let cross = Cross::new(points);
    let cost = |s: Span| {
        let k = s.len() as f64;
        k * (cross.rss(s) / k).max(floor).ln()
    };
    let penalty = PENALTY_PER_LN_N * (n as f64).ln();
    let mut done = vec![];
    let mut todo = vec![whole];
    while let Some(seg) = todo.pop() {
        if done.len() + todo.len() + 1 >= MAX_SEGMENTS || seg.len() < 2 * min_len {
            done.push(seg);
            continue;
        }
        let whole_cost = cost(seg);
        let best = (seg.start + min_len..=seg.end - min_len)
            .map(|k| {
                let c = cost(Span {
                    start: seg.start,
                    end: k,
                }) + cost(Span {
                    start: k,
                    end: seg.end,
                });
                (k, c)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((k, c)) if whole_cost - c > penalty => {
                todo.push(Span {
                    start: seg.start,
                    end: k,
                });
                todo.push(Span {
                    start: k,
                    end: seg.end,
                });
            }
            _ => done.push(seg),
        }
    }
    done.sort_by_key(|s| s.start);
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(f: impl Fn(f64) -> (f64, f64)) -> Vec<Point> {
        (0..120)
            .map(|i| {
                let t = f64::from(i);
                let (r, m) = f(t);
                let wobble = f64::from(i * 7919 % 101) / 50.0 - 1.0;
                Point {
                    t,
                    r,
                    ep: vec![r],
                    m: m + 20_000.0 * wobble,
                }
            })
            .collect()
    }

    #[test]
    fn a_steady_leak_is_one_segment() {
        let pts = series(|t| (t * 100.0, 50e6 + 1000.0 * t * 100.0));
        assert_eq!(segments(&pts, 1e6), vec![Span { start: 0, end: 120 }]);
    }

    #[test]
    fn a_staircase_leak_with_idle_phases_is_one_segment() {
        // Busy 10 s, idle 5 s, repeated: memory only grows while requests complete.
        let r = |t: f64| {
            let cycles = (t / 15.0).floor();
            let within = (t - cycles * 15.0).min(10.0);
            (cycles * 10.0 + within) * 200.0
        };
        let pts = series(|t| (r(t), 80e6 + 2000.0 * r(t)));
        assert_eq!(segments(&pts, 1e6).len(), 1);
    }

    #[test]
    fn a_cache_that_fills_then_goes_flat_is_two_segments() {
        let pts = series(|t| (t * 100.0, 50e6 + 1500.0 * (t.min(70.0)) * 100.0));
        let segs = segments(&pts, 1e6);
        assert_eq!(segs.len(), 2, "{segs:?}");
        assert!((segs[1].start as i64 - 70).abs() <= 2, "{segs:?}");
    }

    #[test]
    fn a_warm_up_step_is_split_off() {
        let pts = series(|t| (t * 100.0, 50e6 + if t < 20.0 { t * 1e6 } else { 20e6 }));
        let segs = segments(&pts, 1e6);
        assert!(segs.len() >= 2, "{segs:?}");
        assert!(
            (segs.last().unwrap().start as i64 - 20).abs() <= 2,
            "{segs:?}"
        );
    }

    #[test]
    fn minima_follow_the_floor_of_a_sawtooth() {
        use crate::timeline::{MemorySample, Tick};
        use std::collections::BTreeMap;
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
        let pts = points(&tl, "rss_anon", 0.0, 2);
        assert!(pts.len() >= 4, "{pts:?}");
        assert!(pts.iter().all(|p| p.m == 1000.0), "{pts:?}");
        assert!(points(&tl, "rss_anon", 6.0, 2).len() >= 2);
        assert_eq!(window_ticks(3600), 12);
        assert_eq!(window_ticks(70), 2);
    }
}
