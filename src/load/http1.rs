//! A lean HTTP/1.1 client for plain `http://` targets, straight on hyper's connection API.
//!
//! Measured on this machine against a Node server, reqwest costs ~1.7x the CPU per request of
//! a bare hyper connection (its URL re-parsing, boxing and general pool), and the load engine
//! is held to oha's CPU per request. So: one TCP connection per hyper `SendRequest`, no
//! pipelining, an idle stack shared by open-model tasks, and closed-model loops that keep their
//! own connection. A request that a reused connection could not even send (the server closed
//! it while idle) is retried once on a new connection; nothing else is retried.
//!
//! The idle stack forgets connections left unused for [`IDLE_TTL`]. An open-model stall or a
//! hiccup of the machine puts hundreds of requests in flight at once, each on its own
//! connection; kept for ever, those connections (hyper's buffers, ~25 KiB each) made
//! leakhound's own RSS grow by ~47 MiB over 2M requests at 20k req/s.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Idle connections unused this long are closed. Shorter than the common server keep-alive
/// timeouts (Node's is 5 s), so a connection is rarely reused just as the server closes it.
pub const IDLE_TTL: Duration = Duration::from_secs(2);

/// A ready-to-use connection to the target.
pub type Conn = http1::SendRequest<Full<Bytes>>;

/// Why an exchange failed at the transport level (all count as errors; kept for debugging).
#[derive(Debug)]
#[allow(dead_code)] // the payloads are only read through Debug
pub enum TransportError {
    Connect(std::io::Error),
    Http(hyper::Error),
}

impl From<hyper::Error> for TransportError {
    fn from(e: hyper::Error) -> Self {
        TransportError::Http(e)
    }
}

/// Connections to one `host:port`.
pub struct Http1 {
    /// What `TcpStream::connect` gets, e.g. `127.0.0.1:3000` or `[::1]:3000`.
    authority: String,
    /// Most recently used at the back; each with when it was put back.
    idle: Mutex<VecDeque<(Conn, Instant)>>,
    max_idle: usize,
}

impl Http1 {
    pub fn new(authority: String, max_idle: usize) -> Http1 {
        Http1 {
            authority,
            idle: Mutex::new(VecDeque::new()),
            max_idle,
        }
    }

    /// An idle connection, most recently used first (so rarely used ones age out server-side).
    pub fn take(&self) -> Option<Conn> {
        self.lock().pop_back().map(|(c, _)| c)
    }

    /// Hands a connection back for reuse; closed ones and those beyond the cap are dropped,
    /// and so are the least recently used ones idle for longer than [`IDLE_TTL`].
    pub fn put(&self, conn: Conn) {
        if conn.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut stale = Vec::new();
        let mut idle = self.lock();
        while idle
            .front()
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) > IDLE_TTL)
        {
            stale.extend(idle.pop_front());
        }
        if idle.len() < self.max_idle {
            idle.push_back((conn, now));
        }
        drop(idle);
        // Closed outside the lock: dropping wakes each connection's task to shut it down.
        drop(stale);
    }

    /// Connections now idle in the stack.
    #[cfg(test)]
    pub fn idle_len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(Conn, Instant)>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connect(&self) -> Result<Conn, TransportError> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(TransportError::Connect)?;
        stream.set_nodelay(true).map_err(TransportError::Connect)?;
        let (send, conn) = http1::handshake(TokioIo::new(stream)).await?;
        // The connection task ends when the `Conn` is dropped or the server closes it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends `req` on `held` (or a new connection), reads the whole body and drops it chunk by
    /// chunk. `status` is set as soon as the response head arrives. On success the connection
    /// is left in `held` for the next request; on failure `held` is empty.
    pub async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
        held: &mut Option<Conn>,
        status: &mut Option<u16>,
    ) -> Result<(), TransportError> {
        let mut reused = false;
        let mut conn = match held.take() {
            Some(mut c) => {
                if c.ready().await.is_ok() {
                    reused = true;
                    c
                } else {
                    self.connect().await?
                }
            }
            None => self.connect().await?,
        };
        let resp = match conn.try_send_request(req).await {
            Ok(resp) => resp,
            Err(mut e) => match e.take_message() {
                Some(req) if reused => {
                    conn = self.connect().await?;
                    conn.send_request(req).await?
                }
                _ => return Err(e.into_error().into()),
            },
        };
        *status = Some(resp.status().as_u16());
        let mut body = resp.into_body();
        while let Some(frame) = body.frame().await {
            frame?;
        }
        *held = Some(conn);
        Ok(())
    }
}
