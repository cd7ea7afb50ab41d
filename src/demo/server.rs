//! The demo's built-in target: a tiny HTTP server run as a child process of leakhound
//! (`leakhound __demo-target --port P`), so `leakhound demo` needs nothing but the binary.
//!
//! `/leak` keeps about 1 KiB per request for the life of the process (unless `--clean`),
//! `/ok` keeps nothing, `/health` answers readiness probes.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Bytes kept per `/leak` request.
pub const LEAK_BYTES: usize = 1024;
/// The demo target never keeps more than this, whatever it is sent.
const MAX_RETAINED: usize = 1 << 30;
/// The demo target exits by itself after this long, even if nobody stops it.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct State {
    clean: bool,
    retained: Mutex<Vec<Box<[u8]>>>,
}

/// Serves until the process is stopped (or `MAX_LIFETIME` passes).
pub async fn serve(port: u16, clean: bool) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let state = Arc::new(State {
        clean,
        ..State::default()
    });
    let deadline = tokio::time::sleep(MAX_LIFETIME);
    tokio::pin!(deadline);
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => r?,
            _ = &mut deadline => return Ok(()),
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, state.clone()));
            // A client that goes away mid-request is not the demo target's problem.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body): (StatusCode, &'static str) = match req.uri().path() {
        "/health" => (StatusCode::OK, "{\"status\":\"ok\"}"),
        "/ok" => (StatusCode::OK, "{\"ok\":true}"),
        "/leak" => {
            if !state.clean {
                retain(&state, req.uri().query().unwrap_or(""));
            }
            (StatusCode::OK, "{\"ok\":true}")
        }
        _ => (StatusCode::NOT_FOUND, "{\"error\":\"not found\"}"),
    };
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    Ok(resp)
}

/// Keeps LEAK_BYTES filled with request data, as a handler that stashes "debug info" would.
fn retain(state: &State, query: &str) {
    let mut kept = state.retained.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() * LEAK_BYTES >= MAX_RETAINED {
        return;
    }
    // Fill every byte so the pages are really touched (counted in RSS).
    let seed = query.as_bytes();
    let buf: Box<[u8]> = (0..LEAK_BYTES)
        .map(|i| seed.get(i % seed.len().max(1)).copied().unwrap_or(b'x') ^ (i as u8))
        .collect();
    kept.push(buf);
}
