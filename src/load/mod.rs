//! The load engine: sends the plan's requests phase by phase and records what happened.
//!
//! [`start`] spawns one driver task that walks the phases on a fixed clock (phase k starts at
//! `t0` plus the earlier durations, whatever happens) and runs the open scheduler
//! (`open.rs`) or the closed loops (`closed.rs`) in each. Requests are built and sent by
//! `client.rs` (plain HTTP through `http1.rs`), picked by weight by `mix.rs`, handed by the
//! open scheduler to persistent sender tasks (`senders.rs`), and recorded in the shared
//! [`Recorder`], which the run orchestrator snapshots once per tick.

mod client;
mod closed;
mod http1;
mod mix;
mod open;
mod recorder;
mod senders;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testserver;

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::scenario::plan::{Model, PhasePlan, Plan};
use client::{Scratch, Sender};

pub use recorder::{LoadSnapshot, Recorder};

#[derive(Debug, Error)]
pub enum LoadError {
    #[error("could not build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    #[error("invalid base URL {0}")]
    BaseUrl(String),
    #[error("request `{name}`: {reason}")]
    InvalidRequest { name: String, reason: String },
    #[error("the scenario has no requests to send")]
    NoRequests,
    #[error("the load engine must be started inside a tokio runtime")]
    NoRuntime,
}

/// A running load: its recorder (snapshot it per tick) and the driver task.
pub struct LoadHandle {
    pub recorder: Arc<Recorder>,
    /// Ends when the last phase ended (or on cancel) and no new request will be sent;
    /// requests still in flight may finish later (see [`Recorder::drain`]).
    pub join: tokio::task::JoinHandle<()>,
}

/// What every scheduler and request task shares.
pub(crate) struct Engine {
    pub(crate) sender: Sender,
    pub(crate) recorder: Arc<Recorder>,
    /// The open model's persistent sender tasks.
    pub(crate) senders: senders::Senders,
}

/// Starts the phases in order, deadlines measured from `t0`. Returns at once; must be called
/// inside a tokio runtime. Stops scheduling new requests as soon as `cancel` fires.
pub fn start(plan: &Plan, t0: Instant, cancel: CancellationToken) -> Result<LoadHandle, LoadError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| LoadError::NoRuntime)?;
    if plan.requests.is_empty() {
        return Err(LoadError::NoRequests);
    }
    let sender = Sender::new(plan)?;
    let recorder = Arc::new(Recorder::new(sender.endpoint_count()));
    let engine = Arc::new(Engine {
        sender,
        recorder: Arc::clone(&recorder),
        senders: senders::Senders::default(),
    });
    let permits = Arc::new(Semaphore::new(
        plan.load.max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let phases = plan.load.phases.clone();
    let model = plan.load.model;
    let join = runtime.spawn(drive(engine, permits, phases, model, t0, cancel));
    Ok(LoadHandle { recorder, join })
}

/// Runs the phases, then lets the open model's senders end.
async fn drive(
    engine: Arc<Engine>,
    permits: Arc<Semaphore>,
    phases: Vec<PhasePlan>,
    model: Model,
    t0: Instant,
    cancel: CancellationToken,
) {
    run_phases(&engine, permits, phases, model, t0, cancel).await;
    engine.senders.close();
}

async fn run_phases(
    engine: &Arc<Engine>,
    permits: Arc<Semaphore>,
    phases: Vec<PhasePlan>,
    model: Model,
    t0: Instant,
    cancel: CancellationToken,
) {
    let mut scratch = Scratch::new();
    let mut phase_start = t0;
    for (index, phase) in phases.iter().enumerate() {
        let deadline = later(phase_start, phase.duration);
        if !wait_until(phase_start, &cancel).await {
            return;
        }
        engine.recorder.set_phase(index);
        if !phase.is_idle(model) {
            match model {
                Model::Open => {
                    open::run_phase(engine, &permits, phase, phase_start, &cancel, &mut scratch)
                        .await
                }
                Model::Closed => closed::spawn_loops(engine, phase.concurrency, deadline, &cancel),
            }
        }
        if !wait_until(deadline, &cancel).await {
            return;
        }
        phase_start = deadline;
    }
}

/// `at + d`, saturating far in the future instead of overflowing.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(100 * 365 * 86_400))
}

/// Sleeps until `at`; false when `cancel` fired first (or already had).
async fn wait_until(at: Instant, cancel: &CancellationToken) -> bool {
    if cancel.is_cancelled() {
        return false;
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep_until(at) => true,
    }
}
