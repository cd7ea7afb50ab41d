//! A small blocking Chrome DevTools Protocol client for a V8 inspector (Node's `--inspect`).
//!
//! It finds the WebSocket URL through `GET /json/list`, then speaks JSON-RPC over a plain
//! `ws://` connection. Every call has a deadline enforced with socket read timeouts, so a hung
//! target yields [`InspectError::Timeout`], never a hang. Events the caller did not ask for
//! (console messages, other domains) are skipped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use tungstenite::{Message, WebSocket};

use super::error::InspectError;

/// The metrics one [`InspectorClient::sample`] reads, in bytes.
pub const METRICS: &[&str] = &["heap_used", "heap_total", "external", "array_buffers"];

/// Largest `/json/list` answer read: it is a few hundred bytes per target.
const MAX_DISCOVERY_BYTES: u64 = 1 << 20;

/// One heap reading from the inspector.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectorSample {
    /// `heap_used`, `heap_total`, `external`, `array_buffers` in bytes.
    pub metrics: BTreeMap<String, u64>,
    /// How long the forced full GC took, when one was asked for (it stalls the target: the
    /// latency plot should mark it).
    pub gc: Option<Duration>,
}

/// A heap snapshot written to disk by [`InspectorClient::take_heap_snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFile {
    pub path: PathBuf,
    pub bytes: u64,
    /// Wall time from the request to the last chunk (the target is paused for most of it).
    pub took: Duration,
}

/// A blocking CDP session with one V8 isolate.
pub struct InspectorClient {
    ws: WebSocket<TcpStream>,
    next_id: u64,
    timeout: Duration,
    ws_url: String,
}

/// One message from the inspector: a reply (`id`) or an event (`method`).
#[derive(Deserialize)]
struct Incoming {
    id: Option<u64>,
    method: Option<String>,
    params: Option<Value>,
    result: Option<Value>,
    error: Option<Value>,
}

impl InspectorClient {
    /// Discovers the WebSocket URL of the first target at `addr` (`host:port`) through
    /// `/json/list` and connects to it. `timeout` bounds each later call too.
    pub fn connect(addr: &str, timeout: Duration) -> Result<InspectorClient, InspectError> {
        let sock = resolve(addr)?;
        let url = discover(sock, addr, timeout)?;
        Self::connect_url(sock, &url, timeout)
    }

    /// Connects to a known `ws://host:port/id` URL (as printed by `node --inspect`).
    pub fn connect_ws(url: &str, timeout: Duration) -> Result<InspectorClient, InspectError> {
        let hostport = ws_hostport(url).ok_or_else(|| InspectError::Handshake {
            url: url.to_string(),
            detail: "not a ws://host:port/... URL (wss:// is not supported)".into(),
        })?;
        let sock = resolve(hostport)?;
        Self::connect_url(sock, url, timeout)
    }

    fn connect_url(
        sock: SocketAddr,
        url: &str,
        timeout: Duration,
    ) -> Result<InspectorClient, InspectError> {
        let stream = open(sock, timeout)?;
        let (ws, _response) = match tungstenite::client(url, stream) {
            Ok(ok) => ok,
            Err(tungstenite::HandshakeError::Interrupted(_)) => {
                // The socket timed out mid-handshake: the target accepted but did not answer.
                return Err(InspectError::Timeout {
                    method: "WebSocket handshake".into(),
                    waited: timeout,
                });
            }
            Err(tungstenite::HandshakeError::Failure(e)) => {
                return Err(InspectError::Handshake {
                    url: url.to_string(),
                    detail: e.to_string(),
                })
            }
        };
        Ok(InspectorClient {
            ws,
            next_id: 1,
            timeout,
            ws_url: url.to_string(),
        })
    }

    /// The WebSocket URL this client is connected to.
    pub fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// Changes the deadline of later calls (snapshots take their own, longer one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sends one command and waits for its result, skipping unrelated events.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, InspectError> {
        let timeout = self.timeout;
        self.call_with_events(method, params, timeout, |_, _| Ok(()))
    }

    /// Forces a full garbage collection; returns how long it took.
    pub fn collect_garbage(&mut self) -> Result<Duration, InspectError> {
        let started = Instant::now();
        self.call("HeapProfiler.collectGarbage", json!({}))?;
        Ok(started.elapsed())
    }

    /// `Runtime.getHeapUsage`: (used, total) bytes of the V8 heap.
    pub fn heap_usage(&mut self) -> Result<(u64, u64), InspectError> {
        let method = "Runtime.getHeapUsage";
        let r = self.call(method, json!({}))?;
        let used = number(&r, "usedSize", method)?;
        let total = number(&r, "totalSize", method)?;
        Ok((used, total))
    }

    /// One reading: optionally a forced full GC first, then the heap used/total, external and
    /// arrayBuffers bytes from `process.memoryUsage()` (one call, so the four are consistent).
    /// A target without `process` (plain V8) gets heap used/total from `Runtime.getHeapUsage`.
    pub fn sample(&mut self, force_gc: bool) -> Result<InspectorSample, InspectError> {
        let gc = if force_gc {
            Some(self.collect_garbage()?)
        } else {
            None
        };
        let method = "Runtime.evaluate";
        let r = self.call(
            method,
            json!({
                "expression": "JSON.stringify(typeof process === 'object' ? process.memoryUsage() : null)",
                "returnByValue": true,
                "silent": true,
            }),
        )?;
        let text = r
            .pointer("/result/value")
            .and_then(Value::as_str)
            .unwrap_or("null");
        let usage: Value = serde_json::from_str(text).map_err(|e| InspectError::BadReply {
            method: method.into(),
            detail: format!("memoryUsage() is not JSON: {e}"),
        })?;
        let mut metrics = BTreeMap::new();
        if usage.is_object() {
            for (key, field) in [
                ("heap_used", "heapUsed"),
                ("heap_total", "heapTotal"),
                ("external", "external"),
                ("array_buffers", "arrayBuffers"),
            ] {
                if let Some(v) = usage.get(field).and_then(Value::as_u64) {
                    metrics.insert(key.to_string(), v);
                }
            }
        } else {
            let (used, total) = self.heap_usage()?;
            metrics.insert("heap_used".to_string(), used);
            metrics.insert("heap_total".to_string(), total);
        }
        Ok(InspectorSample { metrics, gc })
    }

    /// Takes a heap snapshot and streams its chunks straight into `path` (written under a
    /// temporary name, renamed when complete). V8 collects garbage before it snapshots, so the
    /// file holds live objects only. `timeout` bounds the whole snapshot.
    pub fn take_heap_snapshot(
        &mut self,
        path: &Path,
        timeout: Duration,
    ) -> Result<SnapshotFile, InspectError> {
        let started = Instant::now();
        let file_err = |p: &Path, source| InspectError::File {
            path: p.to_path_buf(),
            source,
        };
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".part");
        let tmp = PathBuf::from(tmp_name);
        let file = File::create(&tmp).map_err(|e| file_err(&tmp, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut bytes = 0u64;
        let mut write_err: Option<std::io::Error> = None;
        let enabled = self.call("HeapProfiler.enable", json!({}));
        let result = enabled.and_then(|_| {
            self.call_with_events(
                "HeapProfiler.takeHeapSnapshot",
                json!({"reportProgress": false, "captureNumericValue": false}),
                timeout,
                |method, params| {
                    if method != "HeapProfiler.addHeapSnapshotChunk" || write_err.is_some() {
                        return Ok(());
                    }
                    let chunk = params.get("chunk").and_then(Value::as_str).unwrap_or("");
                    if let Err(e) = out.write_all(chunk.as_bytes()) {
                        write_err = Some(e);
                    }
                    bytes += chunk.len() as u64;
                    Ok(())
                },
            )
        });
        let finished = match (result, write_err) {
            (Err(e), _) => Err(e),
            (Ok(_), Some(e)) => Err(file_err(&tmp, e)),
            (Ok(_), None) => out
                .flush()
                .and_then(|_| out.get_ref().sync_all())
                .map_err(|e| file_err(&tmp, e)),
        };
        drop(out);
        if let Err(e) = finished {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, path).map_err(|e| file_err(path, e))?;
        Ok(SnapshotFile {
            path: path.to_path_buf(),
            bytes,
            took: started.elapsed(),
        })
    }

    /// Sends `method` and reads until its reply, handing every event to `on_event` on the way.
    fn call_with_events(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
        mut on_event: impl FnMut(&str, &Value) -> Result<(), InspectError>,
    ) -> Result<Value, InspectError> {
        let deadline = Instant::now() + timeout;
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.set_write_timeout(timeout);
        if let Err(e) = self.ws.send(Message::text(request)) {
            return Err(self.lost(method, timeout, e));
        }
        loop {
            let text = self.read_text(method, deadline, timeout)?;
            let msg: Incoming = match serde_json::from_str(&text) {
                Ok(m) => m,
                Err(_) => continue, // not a CDP message: skip, the reply still comes
            };
            if msg.id == Some(id) {
                if let Some(err) = msg.error {
                    let message = err
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| err.to_string());
                    return Err(InspectError::Protocol {
                        method: method.into(),
                        message,
                    });
                }
                return Ok(msg.result.unwrap_or(Value::Null));
            }
            if let (None, Some(event)) = (msg.id, msg.method.as_deref()) {
                on_event(event, msg.params.as_ref().unwrap_or(&Value::Null))?;
            }
            // A reply to an older, abandoned call: skip it.
        }
    }

    /// Reads the next text message before `deadline`.
    fn read_text(
        &mut self,
        method: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<String, InspectError> {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(InspectError::Timeout {
                    method: method.into(),
                    waited: timeout,
                });
            }
            let left = (deadline - now).max(Duration::from_millis(1));
            if let Err(e) = self.ws.get_mut().set_read_timeout(Some(left)) {
                return Err(InspectError::Connection {
                    method: method.into(),
                    detail: e.to_string(),
                });
            }
            match self.ws.read() {
                Ok(Message::Text(t)) => return Ok(t.as_str().to_string()),
                Ok(Message::Binary(b)) => return Ok(String::from_utf8_lossy(&b).into_owned()),
                Ok(Message::Close(_)) => {
                    return Err(InspectError::Connection {
                        method: method.into(),
                        detail: "the inspector closed the connection".into(),
                    })
                }
                Ok(_) => continue, // ping/pong: tungstenite answers pings itself
                Err(e) => {
                    if is_timeout(&e) {
                        continue; // the deadline check above decides
                    }
                    return Err(self.lost(method, timeout, e));
                }
            }
        }
    }

    fn set_write_timeout(&mut self, timeout: Duration) {
        // Best effort: a failure here shows up as a write error right after.
        let _ = self
            .ws
            .get_mut()
            .set_write_timeout(Some(timeout.max(Duration::from_millis(1))));
    }

    fn lost(&self, method: &str, timeout: Duration, e: tungstenite::Error) -> InspectError {
        if is_timeout(&e) {
            InspectError::Timeout {
                method: method.into(),
                waited: timeout,
            }
        } else {
            InspectError::Connection {
                method: method.into(),
                detail: e.to_string(),
            }
        }
    }
}

impl Drop for InspectorClient {
    fn drop(&mut self) {
        // A polite close so Node does not log a broken session; never block on it.
        let _ = self
            .ws
            .get_mut()
            .set_write_timeout(Some(Duration::from_millis(200)));
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

fn is_timeout(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut))
}

fn number(v: &Value, key: &str, method: &str) -> Result<u64, InspectError> {
    v.get(key)
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x as u64)
        .ok_or_else(|| InspectError::BadReply {
            method: method.into(),
            detail: format!("no number {key} in {v}"),
        })
}

fn resolve(addr: &str) -> Result<SocketAddr, InspectError> {
    let connect_err = |source| InspectError::Connect {
        addr: addr.to_string(),
        source,
    };
    addr.to_socket_addrs()
        .map_err(connect_err)?
        .next()
        .ok_or_else(|| connect_err(std::io::Error::new(ErrorKind::NotFound, "no address")))
}

fn open(sock: SocketAddr, timeout: Duration) -> Result<TcpStream, InspectError> {
    let connect_err = |source| InspectError::Connect {
        addr: sock.to_string(),
        source,
    };
    let stream = TcpStream::connect_timeout(&sock, timeout).map_err(connect_err)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(connect_err)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(connect_err)?;
    // CDP is request/response with small commands: do not let Nagle delay them.
    stream.set_nodelay(true).map_err(connect_err)?;
    Ok(stream)
}

/// `GET /json/list` over HTTP/1.0 and the first target's `webSocketDebuggerUrl`.
fn discover(sock: SocketAddr, addr: &str, timeout: Duration) -> Result<String, InspectError> {
    let fail = |detail: String| InspectError::Discovery {
        addr: addr.to_string(),
        detail,
    };
    let mut stream = open(sock, timeout)?;
    let request = format!("GET /json/list HTTP/1.0\r\nHost: {sock}\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    // Node's inspector keeps the connection open after answering: read up to Content-Length.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = stream.read(&mut buf).map_err(|e| fail(e.to_string()))?;
        raw.extend_from_slice(&buf[..n]);
        if n == 0 || http_complete(&raw) || raw.len() as u64 > MAX_DISCOVERY_BYTES {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("no HTTP response".into()))?;
    let status = head.lines().next().unwrap_or("");
    if !status.contains(" 200") {
        return Err(fail(format!("HTTP status {status:?}")));
    }
    parse_json_list(body).map_err(fail)
}

/// Whether `raw` holds a whole HTTP response with a Content-Length body.
fn http_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    len.is_some_and(|len| raw.len() >= end + 4 + len)
}

/// The first `webSocketDebuggerUrl` in a `/json/list` body.
pub fn parse_json_list(body: &str) -> Result<String, String> {
    let list: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    list.as_array()
        .into_iter()
        .flatten()
        .find_map(|t| t.get("webSocketDebuggerUrl").and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| "no target with a webSocketDebuggerUrl (another debugger attached?)".into())
}

/// `host:port` of a `ws://host:port/path` URL.
pub fn ws_hostport(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("ws://")?;
    let hostport = rest.split('/').next()?;
    (!hostport.is_empty()).then_some(hostport)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_list_gives_the_first_websocket_url() {
        let body = r#"[{"description":"node.js instance","type":"node",
            "webSocketDebuggerUrl":"ws://127.0.0.1:9229/abc"},
            {"webSocketDebuggerUrl":"ws://127.0.0.1:9229/def"}]"#;
        assert_eq!(parse_json_list(body).unwrap(), "ws://127.0.0.1:9229/abc");
        // A target already taken by another debugger has no URL.
        assert!(parse_json_list(r#"[{"type":"node"}]"#).is_err());
        assert!(parse_json_list("<html>").is_err());
    }

    #[test]
    fn a_response_is_complete_at_its_content_length() {
        assert!(!http_complete(b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n"));
        assert!(!http_complete(
            b"HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\n[]"
        ));
        assert!(http_complete(
            b"HTTP/1.0 200 OK\r\ncontent-length: 4\r\n\r\n[  ]"
        ));
        // Without a length, only the end of the stream ends it.
        assert!(!http_complete(b"HTTP/1.0 200 OK\r\n\r\n[]"));
    }

    #[test]
    fn ws_urls_split_into_host_and_port() {
        assert_eq!(
            ws_hostport("ws://127.0.0.1:9229/1f2e-aa"),
            Some("127.0.0.1:9229")
        );
        assert_eq!(ws_hostport("wss://127.0.0.1:9229/x"), None);
        assert_eq!(ws_hostport("ws:///x"), None);
    }

    #[test]
    fn a_silent_inspector_times_out_instead_of_hanging() {
        // A listener that accepts but never answers: discovery must give up on its deadline.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let keep = std::thread::spawn(move || {
            let conn = listener.accept();
            std::thread::sleep(Duration::from_millis(800));
            drop(conn);
        });
        let started = Instant::now();
        let r = InspectorClient::connect(&addr, Duration::from_millis(300));
        assert!(r.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        keep.join().unwrap();
    }
}
