//! The `prometheus` and `json` sources: memory a target reports about itself over HTTP, which
//! is how remote targets (another host, a pod) are measured.
//!
//! Sources are blocking, but HTTP here is the async reqwest client the rest of leakhound uses
//! (rustls, no system proxy), driven with `Handle::block_on` from the blocking thread the run
//! samples on. That keeps https working for remote endpoints and adds no second HTTP stack or
//! runtime thread. Every GET is bounded by a total timeout and a body size cap.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::runtime::Handle;

use super::prometheus::{read_series, Selector};
use super::source::{Identity, Source, SourceError, SourceReading};

/// Largest body read; a metrics page is a few KiB to a few MiB.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Longest a scrape may take, whatever the interval.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(2);

/// A GET of one URL with a timeout, usable from a blocking thread inside the runtime.
pub struct HttpGet {
    url: String,
    client: reqwest::Client,
    handle: Handle,
    timeout: Duration,
}

impl HttpGet {
    /// Must be called from within the tokio runtime (any thread of it, blocking pool included).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, SourceError> {
        let handle = Handle::try_current().map_err(|_| {
            SourceError::Unavailable("internal: HTTP sources need the async runtime".to_string())
        })?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| SourceError::Http {
                url: url.to_string(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(HttpGet {
            url: url.to_string(),
            client,
            handle,
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// GETs the URL and returns its body as text. Blocks; never call it on an async task.
    pub fn get(&self) -> Result<String, SourceError> {
        let err = |reason: String| SourceError::Http {
            url: self.url.clone(),
            reason,
        };
        let timeout = self.timeout;
        self.handle.block_on(async {
            let mut resp = self.client.get(&self.url).send().await.map_err(|e| {
                err(if e.is_timeout() {
                    format!("no answer within {}ms", timeout.as_millis())
                } else if e.is_connect() {
                    "connection refused or unreachable".to_string()
                } else {
                    e.to_string()
                })
            })?;
            if !resp.status().is_success() {
                return Err(err(format!("answered HTTP {}", resp.status())));
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| err(e.to_string()))? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(err("the answer is larger than 16MiB".to_string()));
                }
                body.extend_from_slice(&chunk);
            }
            String::from_utf8(body).map_err(|_| err("the answer is not UTF-8 text".to_string()))
        })
    }
}

/// Named series of a Prometheus text endpoint.
pub struct PrometheusSource {
    get: HttpGet,
    series: Vec<Selector>,
}

impl PrometheusSource {
    pub fn new(url: &str, series: &[String], timeout: Duration) -> Result<Self, SourceError> {
        let series = series
            .iter()
            .map(|s| Selector::parse(s).map_err(SourceError::Unavailable))
            .collect::<Result<_, _>>()?;
        Ok(PrometheusSource {
            get: HttpGet::new(url, timeout)?,
            series,
        })
    }
}

impl Source for PrometheusSource {
    fn name(&self) -> &str {
        "prometheus"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let body = self.get.get()?;
        let (metrics, start_time) =
            read_series(&body, &self.series).map_err(|reason| SourceError::Content {
                what: self.get.url().to_string(),
                reason,
            })?;
        Ok(SourceReading {
            metrics,
            identity: Identity {
                start_time,
                ..Identity::default()
            },
            events: Vec::new(),
        })
    }
}

/// One number of a JSON document, by JSON pointer (RFC 6901).
pub struct JsonSource {
    get: HttpGet,
    pointer: String,
    metric: String,
}

impl JsonSource {
    pub fn new(
        url: &str,
        pointer: &str,
        metric: &str,
        timeout: Duration,
    ) -> Result<Self, SourceError> {
        Ok(JsonSource {
            get: HttpGet::new(url, timeout)?,
            pointer: pointer.to_string(),
            metric: metric.to_string(),
        })
    }
}

impl Source for JsonSource {
    fn name(&self) -> &str {
        "json"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let body = self.get.get()?;
        let bytes = read_pointer(&body, &self.pointer).map_err(|reason| SourceError::Content {
            what: self.get.url().to_string(),
            reason,
        })?;
        Ok(SourceReading {
            metrics: BTreeMap::from([(self.metric.clone(), bytes)]),
            identity: Identity::default(),
            events: Vec::new(),
        })
    }
}

/// The number at `pointer` in JSON `text`, as whole bytes.
pub fn read_pointer(text: &str, pointer: &str) -> Result<u64, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let Some(v) = doc.pointer(pointer) else {
        return Err(format!("the JSON has nothing at pointer `{pointer}`"));
    };
    let n = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        // Some services report big numbers as strings.
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n.round() as u64),
        _ => Err(format!(
            "the value at `{pointer}` is {v}, not a number of bytes >= 0"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_reads_numbers_and_explains_misses() {
        let doc = r#"{"memory": {"heapUsed": 1234.4, "rss": "5678", "bad": -1, "obj": {}}}"#;
        assert_eq!(read_pointer(doc, "/memory/heapUsed"), Ok(1234));
        assert_eq!(read_pointer(doc, "/memory/rss"), Ok(5678));
        let e = read_pointer(doc, "/memory/heap").unwrap_err();
        assert!(e.contains("nothing at pointer `/memory/heap`"), "{e}");
        assert!(read_pointer(doc, "/memory/bad")
            .unwrap_err()
            .contains("not a number"));
        assert!(read_pointer(doc, "/memory/obj").is_err());
        assert!(read_pointer("<html>", "/x")
            .unwrap_err()
            .contains("not JSON"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn get_times_out_and_reports_refused_connections() {
        // A listener that accepts but never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let (e, took) = tokio::task::spawn_blocking(move || {
            let get = HttpGet::new(&url, Duration::from_millis(300)).unwrap();
            let started = std::time::Instant::now();
            (get.get().unwrap_err(), started.elapsed())
        })
        .await
        .unwrap();
        assert!(e.to_string().contains("no answer within 300ms"), "{e}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(listener);

        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = tokio::task::spawn_blocking(move || {
            let get = HttpGet::new(&format!("http://127.0.0.1:{port}/"), MAX_TIMEOUT).unwrap();
            get.get().unwrap_err()
        })
        .await
        .unwrap();
        assert!(e.to_string().contains("connection refused"), "{e}");
    }
}
