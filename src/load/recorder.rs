//! Per-interval recording of request outcomes: the only place request results go.
//!
//! Run-wide counters are atomics (read at any time, e.g. by the memory sampler). Per endpoint,
//! the cumulative counters, the interval's status counts and its latency histogram sit behind
//! one short `Mutex` each: a completion holds it for a histogram increment and a few adds, and
//! `snapshot` swaps the interval's figures out, so memory stays flat however long the run.
//! Nothing is kept per request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::timeline::{EndpointTick, LatencyHist, SparseHist};

/// How one finished request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The response status, when a response head arrived.
    pub status: Option<u16>,
    /// Status >= 400, a transport error (refused, reset, body error) or a timeout.
    pub error: bool,
    /// The request's timeout fired (also an error).
    pub timeout: bool,
}

impl Outcome {
    pub fn response(status: u16) -> Outcome {
        Outcome {
            status: Some(status),
            error: status >= 400,
            timeout: false,
        }
    }

    pub fn transport(status: Option<u16>) -> Outcome {
        Outcome {
            status,
            error: true,
            timeout: false,
        }
    }

    pub fn timed_out(status: Option<u16>) -> Outcome {
        Outcome {
            status,
            error: true,
            timeout: true,
        }
    }
}

/// The figures of one interval, as handed to the run orchestrator.
#[derive(Debug, Clone, Default)]
pub struct LoadSnapshot {
    /// Requests actually started (cumulative).
    pub sent: u64,
    /// Requests finished with any outcome (cumulative).
    pub completed: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Open-model arrivals not sent because `max_in_flight` was reached (cumulative).
    pub overflow: u64,
    /// Open-model arrivals skipped because the generator fell behind (cumulative).
    pub missed: u64,
    pub in_flight: u64,
    /// Per endpoint, in plan order: cumulative counters, this interval's status and latency.
    pub endpoints: Vec<EndpointTick>,
}

/// Keeps counters that different threads hammer on separate cache lines.
#[repr(align(64))]
#[derive(Default)]
struct Line<T>(T);

#[derive(Default)]
struct StartSide {
    sent: AtomicU64,
    overflow: AtomicU64,
    missed: AtomicU64,
}

#[derive(Default)]
struct EndpointStats {
    completed: u64,
    errors: u64,
    timeouts: u64,
    /// Interval status counts; a short vec beats a map for the handful of codes seen.
    status: Vec<(u16, u64)>,
    latency: LatencyHist,
}

/// Shared by the schedulers, every request task and the run orchestrator.
pub struct Recorder {
    start: Line<StartSide>,
    in_flight: Line<AtomicU64>,
    completed: Line<AtomicU64>,
    phase: AtomicUsize,
    endpoints: Box<[Line<Mutex<EndpointStats>>]>,
}

impl Recorder {
    pub fn new(endpoints: usize) -> Recorder {
        Recorder {
            start: Line::default(),
            in_flight: Line::default(),
            completed: Line::default(),
            phase: AtomicUsize::new(0),
            endpoints: (0..endpoints).map(|_| Line::default()).collect(),
        }
    }

    /// Cumulative requests finished (any outcome).
    pub fn completed(&self) -> u64 {
        self.completed.0.load(Relaxed)
    }

    /// Cumulative requests started.
    pub fn sent(&self) -> u64 {
        self.start.0.sent.load(Relaxed)
    }

    pub fn in_flight(&self) -> u64 {
        self.in_flight.0.load(Relaxed)
    }

    /// Index of the phase now running (the last one after the end).
    pub fn phase(&self) -> usize {
        self.phase.load(Relaxed)
    }

    /// Takes the interval's figures; the next snapshot covers only what finishes after this.
    pub fn snapshot(&self) -> LoadSnapshot {
        let mut out = LoadSnapshot {
            sent: self.sent(),
            overflow: self.start.0.overflow.load(Relaxed),
            missed: self.start.0.missed.load(Relaxed),
            in_flight: self.in_flight(),
            endpoints: Vec::with_capacity(self.endpoints.len()),
            ..LoadSnapshot::default()
        };
        for ep in self.endpoints.iter() {
            // Allocate the fresh histogram outside the lock: completions never wait on it.
            let fresh = LatencyHist::new();
            let mut g = lock(&ep.0);
            let latency = std::mem::replace(&mut g.latency, fresh);
            let status = std::mem::take(&mut g.status);
            let (completed, errors, timeouts) = (g.completed, g.errors, g.timeouts);
            drop(g);
            out.completed += completed;
            out.errors += errors;
            out.timeouts += timeouts;
            let status: BTreeMap<u16, u64> = status.into_iter().collect();
            // Ticks keep the sparse form: a full histogram per tick would grow without bound.
            let latency = SparseHist::from_hist(&latency);
            out.endpoints.push(EndpointTick {
                completed,
                errors,
                timeouts,
                status,
                latency,
            });
        }
        out
    }

    /// Waits until nothing is in flight or `max` passed.
    pub async fn drain(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        // Polling keeps the completion path free of any wake-up bookkeeping.
        while self.in_flight() > 0 {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(5))).await;
        }
    }

    pub(crate) fn set_phase(&self, index: usize) {
        self.phase.store(index, Relaxed);
    }

    /// A request starts: returns its sequence number (0, 1, ...), counts it sent and in flight.
    #[inline]
    pub(crate) fn begin(&self) -> u64 {
        self.in_flight.0.fetch_add(1, Relaxed);
        self.start.0.sent.fetch_add(1, Relaxed)
    }

    /// A request started with [`begin`](Self::begin) finished.
    #[inline]
    pub(crate) fn finish(&self, endpoint: usize, outcome: Outcome, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        if let Some(ep) = self.endpoints.get(endpoint) {
            let mut g = lock(&ep.0);
            g.completed += 1;
            g.errors += u64::from(outcome.error);
            g.timeouts += u64::from(outcome.timeout);
            if let Some(code) = outcome.status {
                match g.status.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => g.status.push((code, 1)),
                }
            }
            g.latency.record_us(us);
        }
        self.completed.0.fetch_add(1, Relaxed);
        // Last, so `drain` sees zero only once everything is recorded.
        self.in_flight.0.fetch_sub(1, Relaxed);
    }

    pub(crate) fn overflow(&self) {
        self.start.0.overflow.fetch_add(1, Relaxed);
    }

    pub(crate) fn missed(&self, n: u64) {
        self.start.0.missed.fetch_add(n, Relaxed);
    }
}

/// Nothing panics while holding the lock, but a poisoned lock must not stop the recording.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_swaps_intervals() {
        let r = Recorder::new(2);
        for _ in 0..3 {
            assert!(r.begin() < 3);
        }
        assert_eq!(r.in_flight(), 3);
        r.finish(0, Outcome::response(200), Duration::from_millis(5));
        r.finish(0, Outcome::response(503), Duration::from_millis(7));
        r.finish(1, Outcome::timed_out(None), Duration::from_millis(500));
        assert_eq!(r.in_flight(), 0);
        assert_eq!(r.completed(), 3);

        let a = r.snapshot();
        assert_eq!((a.sent, a.completed, a.errors, a.timeouts), (3, 3, 2, 1));
        assert_eq!(a.endpoints[0].status, BTreeMap::from([(200, 1), (503, 1)]));
        assert_eq!(a.endpoints[0].latency.len(), 2);
        assert_eq!(
            a.endpoints[1].latency.quantile_ms(0.5).map(|v| v.round()),
            Some(500.0)
        );

        r.begin();
        r.finish(0, Outcome::transport(None), Duration::from_millis(1));
        let b = r.snapshot();
        assert_eq!(
            b.endpoints[0].latency.len(),
            1,
            "interval data was swapped out"
        );
        assert!(b.endpoints[0].status.is_empty());
        assert_eq!((b.completed, b.errors, b.endpoints[0].completed), (4, 3, 3));
    }

    #[test]
    fn start_side_counters() {
        let r = Recorder::new(1);
        r.overflow();
        r.missed(4);
        r.set_phase(2);
        let s = r.snapshot();
        assert_eq!((s.overflow, s.missed, s.sent), (1, 4, 0));
        assert_eq!(r.phase(), 2);
    }
}
