//! Readiness probes: an HTTP GET that must answer 2xx/3xx, or a TCP connect, repeated until it
//! succeeds or the timeout passes.

use std::time::Duration;

use tokio::time::Instant;

use super::error::TargetError;
use crate::scenario::TargetPlan;

/// Longest a single probe may take; a hung server must not eat the whole readiness budget.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause between probes.
const PROBE_EVERY: Duration = Duration::from_millis(100);

pub(crate) enum Probe {
    Http {
        client: reqwest::Client,
        url: String,
    },
    Tcp {
        host: String,
        port: u16,
    },
}

impl Probe {
    pub(crate) fn new(plan: &TargetPlan) -> Result<Self, TargetError> {
        match &plan.ready.path {
            Some(path) => {
                let client = reqwest::Client::builder()
                    .no_proxy()
                    // A redirect already proves the server answers; do not follow it off-host.
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(PROBE_TIMEOUT)
                    .build()
                    .map_err(|e| TargetError::Probe(e.to_string()))?;
                let sep = if path.starts_with('/') { "" } else { "/" };
                let base = plan.base_url.trim_end_matches('/');
                Ok(Probe::Http {
                    client,
                    url: format!("{base}{sep}{path}"),
                })
            }
            None => Ok(Probe::Tcp {
                // An IPv6 literal may come with brackets from a URL; connect wants it bare.
                host: plan
                    .host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port: plan.port,
            }),
        }
    }

    /// What is probed, for messages: the URL or host:port.
    pub(crate) fn describe(&self) -> String {
        match self {
            Probe::Http { url, .. } => format!("GET {url}"),
            Probe::Tcp { host, port } if host.contains(':') => format!("TCP [{host}]:{port}"),
            Probe::Tcp { host, port } => format!("TCP {host}:{port}"),
        }
    }

    /// One attempt; Err holds a short reason such as "connection refused" or "HTTP 503".
    async fn check(&self, timeout: Duration) -> Result<(), String> {
        match self {
            Probe::Http { client, url } => {
                let resp = client.get(url).timeout(timeout).send().await.map_err(|e| {
                    if e.is_timeout() {
                        format!("no answer within {}", humantime::format_duration(timeout))
                    } else {
                        root_cause(&e)
                    }
                })?;
                let status = resp.status();
                if status.is_success() || status.is_redirection() {
                    Ok(())
                } else {
                    Err(format!("HTTP {status}"))
                }
            }
            Probe::Tcp { host, port } => {
                let connect = tokio::net::TcpStream::connect((host.as_str(), *port));
                match tokio::time::timeout(timeout, connect).await {
                    Ok(Ok(_stream)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!(
                        "no answer within {}",
                        humantime::format_duration(timeout)
                    )),
                }
            }
        }
    }

    /// Probes every ~100 ms until one succeeds; NotReady once `timeout` has passed. At least
    /// one probe is always made, even with a zero timeout.
    pub(crate) async fn wait(&self, timeout: Duration) -> Result<(), TargetError> {
        let deadline = Instant::now() + timeout;
        let mut last_error = String::new();
        // Bounded: every pass probes with a timeout and sleeps, and stops at the deadline.
        for attempt in 0u64.. {
            let now = Instant::now();
            if attempt > 0 && now >= deadline {
                break;
            }
            let budget = PROBE_TIMEOUT.min(deadline.saturating_duration_since(now));
            match self.check(budget.max(PROBE_EVERY)).await {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e,
            }
            tokio::time::sleep_until((Instant::now() + PROBE_EVERY).min(deadline)).await;
        }
        Err(TargetError::NotReady {
            what: self.describe(),
            timeout,
            last_error,
        })
    }
}

/// The innermost error message: reqwest's own top line ("error sending request") says nothing
/// a user can act on, the OS error at the bottom does ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
