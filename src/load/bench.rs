//! A manual CPU-per-request check of the engine against a bare hyper client (what oha does
//! per request, the floor for a tokio HTTP/1.1 load generator). Ignored by default; run with
//! a server in another process, in release:
//! `LEAKHOUND_BENCH_URL=http://127.0.0.1:8080 cargo test --release --lib load::bench -- --ignored --nocapture`

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::tests::{phase, plan};
use super::*;

const SECONDS: f64 = 3.0;
const CONCURRENCY: usize = 64;

/// User + system CPU time of this process so far.
fn cpu() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn report(what: &str, requests: u64, wall: Duration, cpu: Duration) {
    println!(
        "{what:<28} {requests:>7} req  {:>8.0} req/s  {:>6.1} us CPU/req",
        requests as f64 / wall.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / requests.max(1) as f64
    );
}

async fn engine(base: &str, model: Model, p: PhasePlan) {
    let p = plan(base, model, vec![p], &[("/", 1)]);
    let (c0, t0) = (cpu(), Instant::now());
    let h = start(&p, t0, CancellationToken::new()).expect("start");
    h.join.await.expect("join");
    h.recorder.drain(Duration::from_secs(2)).await;
    let s = h.recorder.snapshot();
    report(
        &format!("leakhound {model:?}"),
        s.completed,
        t0.elapsed(),
        cpu() - c0,
    );
    assert_eq!(s.errors, 0, "errors against the bench server");
}

/// One connection per task, send, read the body, repeat: no pool, no timeout. With a rate,
/// each request first takes a token that a generator adds on schedule (like `oha -q`).
async fn bare_hyper(base: &str, rate: Option<f64>) {
    let authority = base.trim_start_matches("http://").to_string();
    let done = Arc::new(AtomicU64::new(0));
    let tokens = Arc::new(tokio::sync::Semaphore::new(0));
    let (c0, t0) = (cpu(), Instant::now());
    let end = t0 + Duration::from_secs_f64(SECONDS);
    if let Some(rate) = rate {
        let tokens = Arc::clone(&tokens);
        tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let due = (t0.elapsed().as_secs_f64() * rate) as u64;
                tokens.add_permits((due - n.min(due)) as usize);
                n = n.max(due);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokens.close();
        });
    }
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (authority, done, tokens) = (authority.clone(), Arc::clone(&done), Arc::clone(&tokens));
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&authority)
                .await
                .expect("connect");
            let _ = stream.set_nodelay(true);
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("hs");
            tokio::spawn(conn);
            while Instant::now() < end {
                if rate.is_some() {
                    match tokens.acquire().await {
                        Ok(p) => p.forget(),
                        Err(_) => break,
                    }
                }
                let req = hyper::Request::get("/")
                    .header(hyper::header::HOST, authority.as_str())
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let mut body = send.send_request(req).await.expect("send").into_body();
                while let Some(f) = body.frame().await {
                    f.expect("body");
                }
                done.fetch_add(1, Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let what = match rate {
        Some(r) => format!("bare hyper at {r}/s"),
        None => "bare hyper (oha-like)".to_string(),
    };
    report(&what, done.load(Relaxed), t0.elapsed(), cpu() - c0);
}

/// reqwest alone, same loop as `bare_hyper`.
async fn bare_reqwest(base: &str) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .build()
        .expect("client");
    let url = reqwest::Url::parse(&format!("{base}/")).expect("url");
    let done = Arc::new(AtomicU64::new(0));
    let (c0, t0) = (cpu(), Instant::now());
    let end = t0 + Duration::from_secs_f64(SECONDS);
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, done) = (client.clone(), url.clone(), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let mut resp = client.get(url.clone()).send().await.expect("send");
                while resp.chunk().await.expect("body").is_some() {}
                done.fetch_add(1, Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    report("bare reqwest", done.load(Relaxed), t0.elapsed(), cpu() - c0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "manual benchmark; needs LEAKHOUND_BENCH_URL"]
async fn cpu_per_request() {
    let Ok(base) = std::env::var("LEAKHOUND_BENCH_URL") else {
        println!("set LEAKHOUND_BENCH_URL");
        return;
    };
    let rate: f64 = std::env::var("LEAKHOUND_BENCH_RATE")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5000.0);
    // LEAKHOUND_BENCH_ONLY=closed|open|hyper|hyper-rate|reqwest runs one variant (for perf).
    let only = std::env::var("LEAKHOUND_BENCH_ONLY").unwrap_or_default();
    let run = |name: &str| only.is_empty() || only == name;
    for _ in 0..3 {
        if run("hyper") {
            bare_hyper(&base, None).await;
        }
        if run("closed") {
            engine(&base, Model::Closed, phase(SECONDS, 0.0, None, CONCURRENCY)).await;
        }
        if run("hyper-rate") {
            bare_hyper(&base, Some(rate)).await;
        }
        if run("open") {
            engine(&base, Model::Open, phase(SECONDS, rate, None, 0)).await;
        }
    }
    if run("reqwest") {
        bare_reqwest(&base).await;
    }
}
