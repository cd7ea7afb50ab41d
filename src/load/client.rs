//! The HTTP side of the load engine: endpoints prepared once from the plan, building one
//! request from its templates, and sending it under a whole-request timeout.
//!
//! Everything that does not vary per request (method, static paths, headers and bodies, header
//! names, the Host header) is parsed once here, so the hot path only renders what has template
//! variables. Plain `http://` targets go through the lean hyper client in [`super::http1`];
//! `https://` ones through reqwest (rustls), which costs more CPU per request but brings TLS.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::http1::{Conn, Http1};
use super::mix::Mix;
use super::recorder::Outcome;
use super::LoadError;
use crate::scenario::plan::{Plan, RequestPlan};
use crate::scenario::template::Template;

/// A connection a closed-model loop or an open-model sender keeps between its requests.
pub type Held = Option<Conn>;

/// Per scheduler or loop: the template RNG and a reusable render buffer.
pub struct Scratch {
    rng: SmallRng,
    buf: String,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            rng: SmallRng::from_rng(&mut rand::rng()),
            buf: String::with_capacity(256),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

enum UriPart {
    Static(Uri),
    /// Rendered after the prefix, then parsed.
    Dynamic(Template),
}

enum BodyPart {
    Empty,
    Static(Bytes),
    Dynamic(Template),
}

/// One entry of `requests`, prepared.
struct Endpoint {
    method: Method,
    uri: UriPart,
    headers: HeaderMap,
    dynamic_headers: Vec<(HeaderName, Template)>,
    body: BodyPart,
}

enum Transport {
    Plain(Http1),
    Tls(reqwest::Client),
}

/// A rendered request could not be turned into HTTP (an invalid URI or header value).
#[derive(Debug)]
pub struct BuildError;

/// Builds and sends the plan's requests; shared (behind an `Arc`) by all schedulers and tasks.
pub struct Sender {
    transport: Transport,
    timeout: Duration,
    /// Put before every rendered path: the base URL's path for plain HTTP (origin-form
    /// requests), the whole base URL for TLS (reqwest wants absolute URLs).
    prefix: String,
    endpoints: Vec<Endpoint>,
    mix: Mix,
    /// Per phase: its own mix when the plan gives one.
    phase_mix: Vec<Option<Mix>>,
}

impl Sender {
    pub fn new(plan: &Plan) -> Result<Sender, LoadError> {
        let timeout = plan.load.timeout;
        let most_concurrent = plan
            .load
            .phases
            .iter()
            .map(|p| p.concurrency)
            .max()
            .unwrap_or(0)
            .max(plan.load.max_in_flight)
            .max(1);
        let base = plan.target.base_url.trim_end_matches('/');
        let url =
            reqwest::Url::parse(base).map_err(|e| LoadError::BaseUrl(format!("`{base}`: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| LoadError::BaseUrl(format!("`{base}` has no host")))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let path = url.path().trim_end_matches('/');
        let mut fixed = HeaderMap::new();
        let (transport, prefix) = match url.scheme() {
            "http" => {
                let host_header = match url.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_string(),
                };
                let v = HeaderValue::from_str(&host_header)
                    .map_err(|_| LoadError::BaseUrl(format!("`{base}`: bad host")))?;
                fixed.insert(header::HOST, v);
                let pool = Http1::new(format!("{host}:{port}"));
                (Transport::Plain(pool), path.to_string())
            }
            "https" => (
                Transport::Tls(tls_client(timeout, most_concurrent)?),
                base.to_string(),
            ),
            other => {
                return Err(LoadError::BaseUrl(format!(
                    "`{base}`: unsupported scheme `{other}`"
                )))
            }
        };
        fixed.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        let endpoints = plan
            .requests
            .iter()
            .map(|r| prepare(&prefix, &fixed, r))
            .collect::<Result<Vec<_>, _>>()?;
        let weights: Vec<u32> = plan.requests.iter().map(|r| r.weight).collect();
        Ok(Sender {
            transport,
            timeout,
            prefix,
            endpoints,
            mix: Mix::new(&weights),
            phase_mix: plan
                .load
                .phases
                .iter()
                .map(|p| p.mix.as_deref().map(Mix::new))
                .collect(),
        })
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// The endpoint request number `seq` goes to, in phase `phase` (its own mix, if any).
    #[inline]
    pub fn pick(&self, phase: usize, seq: u64) -> usize {
        match self.phase_mix.get(phase) {
            Some(Some(m)) => m.pick(seq),
            _ => self.mix.pick(seq),
        }
    }

    /// Renders request `seq` of endpoint `index`.
    pub fn build(
        &self,
        index: usize,
        seq: u64,
        s: &mut Scratch,
    ) -> Result<Request<Bytes>, BuildError> {
        let ep = self.endpoints.get(index).ok_or(BuildError)?;
        let uri = match &ep.uri {
            UriPart::Static(u) => u.clone(),
            UriPart::Dynamic(t) => {
                // Owned by the request, so rendered straight into its own buffer (no copy).
                let mut text = String::with_capacity(self.prefix.len() + t.raw().len() + 32);
                text.push_str(&self.prefix);
                t.render(seq, &mut s.rng, &mut text);
                Uri::try_from(text).map_err(|_| BuildError)?
            }
        };
        let body = match &ep.body {
            BodyPart::Empty => Bytes::new(),
            BodyPart::Static(b) => b.clone(),
            BodyPart::Dynamic(t) => {
                let mut text = String::with_capacity(t.raw().len() + 64);
                t.render(seq, &mut s.rng, &mut text);
                Bytes::from(text)
            }
        };
        let mut req = Request::new(body);
        *req.method_mut() = ep.method.clone();
        *req.uri_mut() = uri;
        *req.headers_mut() = ep.headers.clone();
        for (name, t) in &ep.dynamic_headers {
            s.buf.clear();
            t.render(seq, &mut s.rng, &mut s.buf);
            let v = HeaderValue::from_str(&s.buf).map_err(|_| BuildError)?;
            req.headers_mut().append(name.clone(), v);
        }
        Ok(req)
    }

    /// Sends one request (on `held`'s connection when it has one) and reads its whole body
    /// without keeping it; the plan's timeout bounds everything from connecting to the last
    /// body byte. A connection still usable afterwards is left in `held`.
    pub async fn send(&self, req: Request<Bytes>, held: &mut Held) -> Outcome {
        let mut status = None;
        let exchange = async {
            match &self.transport {
                Transport::Plain(pool) => pool
                    .exchange(req.map(Full::new), held, &mut status)
                    .await
                    .is_ok(),
                Transport::Tls(client) => tls_exchange(client, req, &mut status).await,
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(true) => Outcome::response(status.unwrap_or(0)),
            Ok(false) => Outcome::transport(status),
            Err(_) => Outcome::timed_out(status),
        }
    }
}

const USER_AGENT: &str = concat!("leakhound/", env!("CARGO_PKG_VERSION"));

fn tls_client(timeout: Duration, pool: usize) -> Result<reqwest::Client, LoadError> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(pool)
        // One request = one exchange: a 3xx is recorded as such, not followed.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(LoadError::Client)
}

/// The TLS path: true when the whole response was read.
async fn tls_exchange(
    client: &reqwest::Client,
    req: Request<Bytes>,
    status: &mut Option<u16>,
) -> bool {
    let Ok(req) = reqwest::Request::try_from(req) else {
        return false;
    };
    let Ok(mut resp) = client.execute(req).await else {
        return false;
    };
    *status = Some(resp.status().as_u16());
    // Each chunk is dropped at once: bounded memory even for endless bodies.
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

fn prepare(prefix: &str, fixed: &HeaderMap, r: &RequestPlan) -> Result<Endpoint, LoadError> {
    let bad = |what: String| LoadError::InvalidRequest {
        name: r.name.clone(),
        reason: what,
    };
    let method = Method::from_bytes(r.method.as_bytes())
        .map_err(|_| bad(format!("invalid method `{}`", r.method)))?;
    // Dynamic parts are checked on a sample rendering, so a path or header that can never be
    // valid is a scenario error now rather than a stream of failed requests later.
    let mut rng = SmallRng::seed_from_u64(0);
    let sample = |t: &Template| format!("{prefix}{}", t.render_to_string(0, &mut rng.clone()));
    let text = sample(&r.path);
    let parsed =
        Uri::try_from(text.as_str()).map_err(|e| bad(format!("invalid path `{text}`: {e}")))?;
    let uri = if r.path.is_static() {
        UriPart::Static(parsed)
    } else {
        UriPart::Dynamic(r.path.clone())
    };
    let mut headers = HeaderMap::new();
    let mut dynamic_headers: Vec<(HeaderName, Template)> = Vec::new();
    for (name, value) in &r.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("invalid header name `{name}`")))?;
        let v = HeaderValue::from_str(&value.render_to_string(0, &mut rng))
            .map_err(|_| bad(format!("invalid value for header `{name}`")))?;
        if value.is_static() {
            headers.append(name, v);
        } else {
            dynamic_headers.push((name, value.clone()));
        }
    }
    // leakhound's defaults (host, user-agent) only where the scenario sets no value of its own.
    for (name, value) in fixed {
        if !headers.contains_key(name) && !dynamic_headers.iter().any(|(n, _)| n == name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    let body = match &r.body {
        None => BodyPart::Empty,
        Some(t) if t.is_static() => BodyPart::Static(Bytes::from(t.raw().to_string())),
        Some(t) => BodyPart::Dynamic(t.clone()),
    };
    Ok(Endpoint {
        method,
        uri,
        headers,
        dynamic_headers,
        body,
    })
}
