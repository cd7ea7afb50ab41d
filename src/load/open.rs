//! The open model: requests arrive on a schedule, whatever the target's latency.
//!
//! Arrival times are computed from the phase start (never from the previous send), the
//! scheduler sleeps until the next one and then fires every arrival due within
//! [`LOOKAHEAD`], so at high rates it sends small batches per timer tick. Latency is measured
//! from each arrival's intended time, or from its actual send when that was earlier, so a slow
//! target or a late generator shows up in the figures instead of being hidden (no coordinated
//! omission), while tokio's 1 ms timer lag does not (at 10k req/s against nginx it added
//! ~0.7 ms to every p50 when arrivals were only fired once due). Arrivals that find `max_in_flight` requests already
//! running are counted as overflow; arrivals the generator itself reaches more than
//! [`MISSED_AFTER`] late are counted as missed, so a stall never turns into a catch-up burst.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::Scratch;
use super::recorder::Outcome;
use super::senders::{self, Job};
use super::Engine;
use crate::scenario::plan::PhasePlan;

/// Arrivals reached later than this are skipped (counted as missed), not sent in a burst.
pub const MISSED_AFTER: Duration = Duration::from_millis(100);

/// Arrivals due this soon are fired now: tokio's timer wakes up to ~1 ms after a deadline, so
/// waking this much early and sending a little ahead keeps the timer's lag out of the sends and
/// the latencies. An early send counts its latency from when it was actually sent.
pub const LOOKAHEAD: Duration = Duration::from_millis(1);

/// Most arrivals fired per wake-up before the scheduler yields (and looks at `cancel`), so an
/// absurd rate cannot hog a worker thread.
const MAX_BATCH: u32 = 4096;

/// The arrival schedule of one phase: rate `r0` at the start, linear to `r1` at the end.
#[derive(Debug, Clone, Copy)]
pub struct Arrivals {
    r0: f64,
    /// Half the rate's slope: the cumulative count by time t is `r0*t + a*t^2`.
    a: f64,
    duration: f64,
}

impl Arrivals {
    pub fn new(phase: &PhasePlan) -> Arrivals {
        let clean = |r: f64| if r.is_finite() && r > 0.0 { r } else { 0.0 };
        let duration = phase.duration.as_secs_f64();
        let r0 = clean(phase.rate);
        let r1 = phase.ramp_to.map_or(r0, clean);
        let a = if duration > 0.0 {
            (r1 - r0) / (2.0 * duration)
        } else {
            0.0
        };
        Arrivals { r0, a, duration }
    }

    /// Seconds from the phase start to arrival `n` (0, 1, ...): the t solving
    /// `r0*t + a*t^2 = n`; None once it falls at or after the phase end.
    pub fn at(&self, n: u64) -> Option<f64> {
        let n = n as f64;
        let disc = self.r0 * self.r0 + 4.0 * self.a * n;
        if disc < 0.0 {
            return None; // a ramp down ran out of area before this arrival
        }
        // 2n / (r0 + sqrt(disc)) is the stable form of the quadratic root; it also covers a == 0.
        let denom = self.r0 + disc.sqrt();
        let t = if n == 0.0 && (self.r0 > 0.0 || self.a > 0.0) {
            0.0
        } else if denom > 0.0 {
            2.0 * n / denom
        } else {
            return None; // rate 0 throughout
        };
        (t < self.duration).then_some(t)
    }

    /// How many arrivals fall before `t` seconds from the phase start (the index of the first
    /// one at or after it).
    pub fn count_before(&self, t: f64) -> u64 {
        let t = t.clamp(0.0, self.duration);
        let area = self.r0 * t + self.a * t * t;
        if area.is_finite() && area > 0.0 {
            area.ceil() as u64
        } else {
            0
        }
    }
}

/// Runs the open-model schedule of one phase starting at `start`; returns after its last
/// arrival (before the phase deadline) or at once when `cancel` fires.
pub async fn run_phase(
    engine: &Arc<Engine>,
    permits: &Arc<Semaphore>,
    phase: &PhasePlan,
    start: Instant,
    cancel: &CancellationToken,
    scratch: &mut Scratch,
) {
    let arrivals = Arrivals::new(phase);
    let at = |n: u64| {
        let t = arrivals.at(n)?;
        start.checked_add(Duration::try_from_secs_f64(t).ok()?)
    };
    let Some(mut next) = at(0) else { return };
    let mut n = 0u64;
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    let sleep = tokio::time::sleep_until(next);
    tokio::pin!(sleep);
    loop {
        let wake = next.checked_sub(LOOKAHEAD).unwrap_or(next);
        if wake > Instant::now() {
            sleep.as_mut().reset(wake);
            tokio::select! {
                biased;
                _ = cancelled.as_mut() => return,
                _ = sleep.as_mut() => {}
            }
        } else if cancel.is_cancelled() {
            return;
        }
        // Fire everything due within the lookahead; later arrivals wait for the next wake-up.
        let now = Instant::now();
        let horizon = now + LOOKAHEAD;
        let mut batch = 0;
        while next <= horizon {
            if now.saturating_duration_since(next) > MISSED_AFTER {
                // The generator itself fell behind: count every arrival older than the window
                // as missed in one step, and never send it.
                let cut = (now - MISSED_AFTER).saturating_duration_since(start);
                let skip_to = arrivals.count_before(cut.as_secs_f64()).max(n + 1);
                engine.recorder.missed(skip_to - n);
                n = skip_to;
            } else {
                match Arc::clone(permits).try_acquire_owned() {
                    // Late: from the intended time; early: from the actual send.
                    Ok(permit) => fire(engine, permit, next.min(now), scratch),
                    Err(_) => engine.recorder.overflow(),
                }
                n += 1;
                batch += 1;
            }
            match at(n) {
                Some(t) => next = t,
                None => return,
            }
            if batch >= MAX_BATCH {
                tokio::task::yield_now().await;
                break;
            }
        }
    }
}

/// Sends one request due at `intended` through a persistent sender; it holds `permit` until
/// it is done and its latency counts from `intended`, not from when it actually left.
pub fn fire(
    engine: &Arc<Engine>,
    permit: OwnedSemaphorePermit,
    intended: Instant,
    s: &mut Scratch,
) {
    let seq = engine.recorder.begin();
    let endpoint = engine.sender.pick(engine.recorder.phase(), seq);
    match engine.sender.build(endpoint, seq, s) {
        Ok(req) => senders::dispatch(
            engine,
            Job {
                endpoint,
                req,
                intended,
                permit,
            },
        ),
        Err(_) => {
            engine
                .recorder
                .finish(endpoint, Outcome::transport(None), intended.elapsed());
            drop(permit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(rate: f64, ramp_to: Option<f64>, secs: u64) -> PhasePlan {
        PhasePlan {
            name: "p".into(),
            duration: Duration::from_secs(secs),
            rate,
            ramp_to,
            concurrency: 0,
            mix: None,
        }
    }

    fn count(a: &Arrivals) -> u64 {
        (0..1_000_000).take_while(|&n| a.at(n).is_some()).count() as u64
    }

    #[test]
    fn constant_rate_is_evenly_spaced() {
        let a = Arrivals::new(&phase(200.0, None, 2));
        assert_eq!(a.at(0), Some(0.0));
        assert!((a.at(1).unwrap() - 0.005).abs() < 1e-12);
        assert!((a.at(399).unwrap() - 1.995).abs() < 1e-9);
        assert_eq!(count(&a), 400);
    }

    #[test]
    fn ramp_up_solves_the_quadratic() {
        let a = Arrivals::new(&phase(100.0, Some(300.0), 2));
        let n = count(&a);
        assert!((399..=401).contains(&n), "{n}");
        // Halfway in time the rate is 200/s and 150 arrivals have come (100*1 + 50*1^2).
        let t150 = a.at(150).unwrap();
        assert!((t150 - 1.0).abs() < 1e-9, "{t150}");
        // Gaps shrink as the rate rises.
        let gap = |n| a.at(n + 1).unwrap() - a.at(n).unwrap();
        assert!(gap(10) > gap(300));
    }

    #[test]
    fn ramp_down_and_from_zero() {
        let down = Arrivals::new(&phase(100.0, Some(0.0), 1));
        assert!((49..=51).contains(&count(&down)));
        let up = Arrivals::new(&phase(0.0, Some(100.0), 1));
        assert_eq!(up.at(0), Some(0.0));
        assert!((49..=51).contains(&count(&up)));
    }

    #[test]
    fn count_before_inverts_at() {
        let a = Arrivals::new(&phase(100.0, Some(300.0), 2));
        for n in [1u64, 10, 150, 399] {
            let t = a.at(n).unwrap();
            assert_eq!(a.count_before(t + 1e-9), n + 1, "arrival {n} at {t}");
            assert_eq!(a.count_before(t - 1e-6), n, "arrival {n} at {t}");
        }
        assert_eq!(a.count_before(-1.0), 0);
        assert_eq!(a.count_before(99.0), 400);
    }

    #[test]
    fn idle_and_nonsense_rates_send_nothing() {
        assert_eq!(Arrivals::new(&phase(0.0, None, 5)).at(0), None);
        assert_eq!(Arrivals::new(&phase(f64::NAN, None, 5)).at(0), None);
        assert_eq!(Arrivals::new(&phase(-3.0, Some(-1.0), 5)).at(0), None);
        assert_eq!(Arrivals::new(&phase(100.0, None, 0)).at(0), None);
    }
}
