//! The one error type of the inspector module: connecting, calling, snapshot files and parsing.

use std::path::PathBuf;
use std::time::Duration;

/// What went wrong talking to a V8 inspector or reading a heap snapshot.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot reach the inspector at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("inspector discovery at http://{addr}/json/list failed: {detail}")]
    Discovery { addr: String, detail: String },
    #[error("WebSocket handshake with {url} failed: {detail}")]
    Handshake { url: String, detail: String },
    #[error("inspector call {method} got no answer within {waited:?} (is the target hung?)")]
    Timeout { method: String, waited: Duration },
    #[error("inspector connection lost during {method}: {detail}")]
    Connection { method: String, detail: String },
    #[error("inspector call {method} failed: {message}")]
    Protocol { method: String, message: String },
    #[error("unexpected answer to {method}: {detail}")]
    BadReply { method: String, detail: String },
    #[error("heap snapshot file {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("heap snapshot {what} is not valid: {detail}")]
    Snapshot { what: String, detail: String },
    #[error("heap diff: {0}")]
    Diff(String),
}
