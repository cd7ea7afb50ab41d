//! In-process HTTP servers on 127.0.0.1:0 for the load engine's tests.
//!
//! Routes (any other path answers 200 "ok"; a request without a Host header gets 400):
//! `/sleep/<ms>` answers after a delay, `/status/<code>` answers that code,
//! `/stall-until/<ms>` answers once the server has run that long, `/big/<bytes>` sends a body
//! of that size, `/api/...` answers 201 (to see a base-URL prefix), `/post` answers 200 only
//! for a non-empty body with an `x-seq` header (else 422), `/close` answers with
//! `connection: close`. [`endless`] is a raw TCP server whose chunked body never ends (within
//! 10 s); [`one_shot`] closes every connection after one response, unannounced.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Longest any handler waits, so no test task outlives its test by much.
const MAX_WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub base_url: String,
    /// TCP connections accepted so far.
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub fn connections(&self) -> usize {
        self.connections.load(Relaxed)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Starts the routing server.
pub async fn start() -> TestServer {
    let (listener, addr) = bind().await;
    let started = Instant::now();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Relaxed);
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, started));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer {
        base_url: format!("http://{addr}"),
        connections,
        task,
    }
}

async fn handle(
    req: Request<Incoming>,
    started: Instant,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: u16| {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
        *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        Ok(resp)
    };
    if !req.headers().contains_key(hyper::header::HOST) {
        return reply(400);
    }
    let path = req.uri().path().to_string();
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let (route, arg) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let num: u64 = arg.parse().unwrap_or(0);
    let mut status = StatusCode::OK;
    let mut body = Bytes::from_static(b"ok");
    match route {
        "sleep" => tokio::time::sleep(Duration::from_millis(num).min(MAX_WAIT)).await,
        "status" => status = StatusCode::from_u16(num as u16).unwrap_or(StatusCode::BAD_REQUEST),
        "stall-until" => {
            let until = started + Duration::from_millis(num).min(MAX_WAIT);
            tokio::time::sleep_until(until).await
        }
        "big" => body = Bytes::from(vec![b'x'; num as usize]),
        "api" => status = StatusCode::CREATED,
        "close" => {
            let mut resp = Response::new(Full::new(body));
            resp.headers_mut()
                .insert(hyper::header::CONNECTION, "close".parse().expect("value"));
            return Ok(resp);
        }
        "post" => {
            let has_seq = req.headers().contains_key("x-seq");
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return reply(if has_seq && !body.is_empty() {
                200
            } else {
                422
            });
        }
        _ => {}
    }
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    Ok(resp)
}

/// A server that answers every request with a 200 head and a chunked body that never ends
/// (each connection gives up after [`MAX_WAIT`]).
pub async fn endless() -> TestServer {
    let (listener, addr) = bind().await;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                let chunk = [b"4000\r\n".as_slice(), &[b'y'; 0x4000], b"\r\n"].concat();
                let end = Instant::now() + MAX_WAIT;
                while Instant::now() < end {
                    if stream.write_all(&chunk).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
    });
    TestServer {
        base_url: format!("http://{addr}"),
        connections: Arc::default(),
        task,
    }
}

/// A server that answers one request per connection with a keep-alive-looking response, then
/// closes the connection without saying so (as servers do when a keep-alive timer expires).
pub async fn one_shot() -> TestServer {
    let (listener, addr) = bind().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Relaxed);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                let _ = stream.shutdown().await;
            });
        }
    });
    TestServer {
        base_url: format!("http://{addr}"),
        connections,
        task,
    }
}

/// A loopback address nothing listens on (bound, then released).
pub async fn closed_port_url() -> String {
    let (listener, addr) = bind().await;
    drop(listener);
    format!("http://{addr}")
}
