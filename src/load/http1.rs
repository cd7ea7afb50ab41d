//! A lean HTTP/1.1 client for plain `http://` targets, straight on hyper's connection API.
//!
//! Measured on this machine against a Node server, reqwest costs ~1.7x the CPU per request of
//! a bare hyper connection (its URL re-parsing, boxing and general pool), and the load engine
//! is held to oha's CPU per request. So: one TCP connection per hyper `SendRequest`, no
//! pipelining, and each closed-model loop or open-model sender (`senders.rs`) keeps its own
//! connection. A request that a reused connection could not even send (the server closed it
//! while idle) is retried once on a new connection; nothing else is retried.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Connections unused this long are closed (their open-model sender ends). Shorter than the
/// common server keep-alive timeouts (Node's is 5 s), so a connection is rarely reused just as
/// the server closes it.
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
}

impl Http1 {
    pub fn new(authority: String) -> Http1 {
        Http1 { authority }
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
