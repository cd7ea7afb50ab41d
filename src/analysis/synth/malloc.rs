//! Runtimes without a collector log: CPython (pymalloc arenas) and native servers (glibc or
//! jemalloc). RSS is the allocator's high-water mark in steps: it grows to hold live data plus
//! the requests in flight and is rarely given back, so a burst's working set stays.

use rand::rngs::SmallRng;
use rand::Rng;

use super::design::Design;
use super::runtime::Step;
use super::{log_uniform, normal, KIB, MIB};

#[derive(Debug, Clone)]
pub(crate) struct Malloc {
    base_anon: f64,
    pub(crate) live0: f64,
    /// Arena (or heap extension) size: RSS moves in these.
    step: f64,
    arena: f64,
    /// Bytes a request in flight holds, and how long it is in flight.
    working: f64,
    latency_s: f64,
    /// Chance per idle tick that free arenas are returned (malloc_trim, pymalloc freeing an
    /// empty arena).
    trim_p: f64,
    /// Busy seconds at which the allocator takes a step of its own (fragmentation, a new
    /// thread arena), in order.
    steps_at: Vec<f64>,
    busy_s: f64,
    /// The highest rate the design asks for, for the label's noise scale.
    peak_rate: f64,
}

impl Malloc {
    pub(crate) fn draw(rng: &mut SmallRng, python: bool, design: &Design) -> Malloc {
        let (live0, step, base) = if python {
            (
                log_uniform(rng, 8.0, 150.0) * MIB,
                [256.0 * KIB, 1.0 * MIB][rng.random_range(0..2)],
                log_uniform(rng, 4.0, 40.0) * MIB,
            )
        } else {
            (
                log_uniform(rng, 1.0, 80.0) * MIB,
                log_uniform(rng, 0.25, 4.0) * MIB,
                log_uniform(rng, 1.0, 20.0) * MIB,
            )
        };
        let total = design.total_s();
        let mut steps_at: Vec<f64> = (0..rng.random_range(0..=3))
            .map(|_| rng.random_range(0.0..total))
            .collect();
        steps_at.sort_by(f64::total_cmp);
        let working = log_uniform(rng, 4.0, 64.0) * KIB;
        let latency_s = log_uniform(rng, 0.002, 0.05);
        Malloc {
            base_anon: base,
            live0,
            step,
            // Arenas for the live data only: the working set of the load comes with it.
            arena: (live0 / step).ceil() * step,
            working,
            latency_s,
            trim_p: rng.random_range(0.0..0.05),
            steps_at,
            busy_s: 0.0,
            peak_rate: design.peak_rate(),
        }
    }

    pub(crate) fn rss_noise(&self) -> f64 {
        // One step, or the in-flight working set of the busiest moment, which the high-water
        // mark keeps once reached.
        self.step
            .max(self.working * self.peak_rate * self.latency_s)
    }

    pub(crate) fn step(&mut self, rng: &mut SmallRng, s: &Step) -> f64 {
        let in_flight = s.rate() * self.latency_s * (1.0 + 0.3 * normal(rng)).max(0.2);
        let used = (s.live)(1.0) + self.working * in_flight;
        if s.requests > 0.0 {
            self.busy_s += s.dt();
            while self.steps_at.first().is_some_and(|&at| at <= self.busy_s) {
                self.steps_at.remove(0);
                self.arena += self.step;
            }
        } else if rng.random_bool(self.trim_p) {
            let floor = (used / self.step).ceil() * self.step;
            self.arena = floor.max(self.arena - rng.random_range(1.0..8.0) * MIB);
        }
        if used > self.arena {
            self.arena += self.step * ((used - self.arena) / self.step).ceil();
        }
        self.base_anon + self.arena
    }
}
