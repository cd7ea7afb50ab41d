//! The closed model: a fixed number of loops, each sending its next request when the previous
//! one ended. Throughput follows the target's latency; latency counts from the actual send.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::client::Scratch;
use super::recorder::Outcome;
use super::Engine;

/// Spawns `concurrency` loops that run until `deadline` or `cancel`. A loop never starts a
/// request after either; the one it has in flight completes or times out on its own.
pub fn spawn_loops(
    engine: &Arc<Engine>,
    concurrency: usize,
    deadline: Instant,
    cancel: &CancellationToken,
) {
    for _ in 0..concurrency {
        let engine = Arc::clone(engine);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            let mut scratch = Scratch::new();
            // Each loop keeps its own connection, like a real client would.
            let mut held = None;
            while Instant::now() < deadline && !cancel.is_cancelled() {
                let seq = engine.recorder.begin();
                let endpoint = engine.sender.pick(engine.recorder.phase(), seq);
                let sent_at = Instant::now();
                let outcome = match engine.sender.build(endpoint, seq, &mut scratch) {
                    Ok(req) => engine.sender.send(req, &mut held).await,
                    Err(_) => Outcome::transport(None),
                };
                engine.recorder.finish(endpoint, outcome, sent_at.elapsed());
            }
        });
    }
}
