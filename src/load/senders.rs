//! Persistent sender tasks for the open model: each keeps its own connection and is handed
//! one due request after another, so a request costs a channel send and a wake-up instead of
//! a task spawn and a connection checkout.
//!
//! A request is handed to the sender that went idle last (its connection is the warmest) over
//! a oneshot channel, or, when none is idle, to a new sender started with it in hand; so a
//! stall that puts hundreds of requests in flight starts hundreds of senders, and the schedule
//! never waits for a free one. A sender idle for longer than [`IDLE_TTL`] is let go the next
//! time work is handed out (its channel is dropped, it ends and closes its connection: hundreds
//! of idle connections kept after a stall made leakhound's own RSS grow), and all end when the
//! load does. No timer per request: ageing is checked when a request is handed out.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hyper::Request;
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;

use super::client::Held;
use super::http1::IDLE_TTL;
use super::Engine;

/// One request to send: its latency counts from `intended`; `permit` is held until it is done.
pub struct Job {
    pub endpoint: usize,
    pub req: Request<Bytes>,
    pub intended: Instant,
    pub permit: OwnedSemaphorePermit,
}

/// The senders of one load run (held by its [`Engine`]).
#[derive(Default)]
pub struct Senders {
    idle: Mutex<Idle>,
    /// Senders running now (busy or idle).
    live: AtomicUsize,
}

#[derive(Default)]
struct Idle {
    /// The most recently idle at the back, each with when it went idle.
    waiting: VecDeque<(oneshot::Sender<Job>, Instant)>,
    /// The load is over: a sender that finishes its request ends instead of waiting.
    closed: bool,
}

/// Hands `job` to the sender of `engine` that went idle last, or starts a new one with it.
pub fn dispatch(engine: &Arc<Engine>, mut job: Job) {
    let senders = &engine.senders;
    let now = Instant::now();
    loop {
        let mut idle = senders.lock();
        // Let go of senders idle too long (dropping their channel ends them).
        while idle
            .waiting
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > IDLE_TTL)
        {
            idle.waiting.pop_front();
        }
        let Some((tx, _)) = idle.waiting.pop_back() else {
            break;
        };
        drop(idle);
        match tx.send(job) {
            Ok(()) => return,
            Err(back) => job = back, // that sender is gone; try the next
        }
    }
    spawn(engine, job);
}

fn spawn(engine: &Arc<Engine>, job: Job) {
    engine.senders.live.fetch_add(1, Ordering::Relaxed);
    let engine = Arc::clone(engine);
    tokio::spawn(async move {
        let _ = engine.senders.work(&engine, job).await;
        engine.senders.live.fetch_sub(1, Ordering::Relaxed);
    });
}

impl Senders {
    /// Lets every idle sender end; busy ones end when their request is done.
    pub fn close(&self) {
        let mut idle = self.lock();
        idle.closed = true;
        idle.waiting.clear();
    }

    /// Senders running now.
    #[cfg(test)]
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Sends `first`, then whatever it is handed.
    async fn work(&self, engine: &Engine, first: Job) -> Option<()> {
        let mut held: Held = None;
        let mut job = first;
        loop {
            let outcome = engine.sender.send(job.req, &mut held).await;
            engine
                .recorder
                .finish(job.endpoint, outcome, job.intended.elapsed());
            drop(job.permit);
            job = self.next().await?;
        }
    }

    /// Waits idle for the next job; None when let go.
    async fn next(&self) -> Option<Job> {
        let (tx, rx) = oneshot::channel();
        {
            let mut idle = self.lock();
            if idle.closed {
                return None;
            }
            idle.waiting.push_back((tx, Instant::now()));
        }
        rx.await.ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}
