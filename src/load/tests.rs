//! End-to-end tests of the load engine over real HTTP on loopback.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::testserver;
use super::*;
use crate::scenario::plan::{
    LoadPlan, MemoryPlan, Readiness, RequestPlan, TargetPlan, TargetProcess, Thresholds,
};
use crate::scenario::template::Template;

pub(super) fn phase(secs: f64, rate: f64, ramp_to: Option<f64>, concurrency: usize) -> PhasePlan {
    PhasePlan {
        name: format!("p{rate}"),
        duration: Duration::from_secs_f64(secs),
        rate,
        ramp_to,
        concurrency,
        mix: None,
    }
}

/// A plan against `base` sending `requests` (path, weight).
pub(super) fn plan(
    base: &str,
    model: Model,
    phases: Vec<PhasePlan>,
    requests: &[(&str, u32)],
) -> Plan {
    Plan {
        name: "t".into(),
        source: None,
        target: TargetPlan {
            base_url: base.to_string(),
            host: "127.0.0.1".into(),
            port: 0,
            process: TargetProcess::None,
            ready: Readiness {
                path: None,
                timeout: Duration::from_secs(1),
            },
        },
        memory: MemoryPlan {
            interval: Duration::from_secs(1),
            metric: "rss_anon".into(),
            sources: vec!["process".into()],
        },
        load: LoadPlan {
            model,
            timeout: Duration::from_secs(2),
            max_in_flight: 1000,
            phases,
        },
        requests: requests
            .iter()
            .enumerate()
            .map(|(i, (path, weight))| RequestPlan {
                name: format!("r{i}"),
                method: "GET".into(),
                path: Template::parse(path).unwrap(),
                headers: vec![],
                body: None,
                weight: *weight,
            })
            .collect(),
        thresholds: Thresholds::default(),
    }
}

/// Runs the plan to its end, drains, and returns the final snapshot and the time `join` took.
async fn run(p: &Plan, drain: Duration) -> (LoadSnapshot, Duration) {
    let t0 = Instant::now();
    let h = start(p, t0, CancellationToken::new()).unwrap();
    h.join.await.unwrap();
    let took = t0.elapsed();
    h.recorder.drain(drain).await;
    (h.recorder.snapshot(), took)
}

fn within(x: u64, lo: u64, hi: u64) -> bool {
    (lo..=hi).contains(&x)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_constant_rate_sends_on_schedule() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(2.0, 200.0, None, 0)],
        &[("/ok", 1)],
    );
    let (s, took) = run(&p, Duration::from_secs(1)).await;
    println!(
        "constant 200/s x 2s: sent {} missed {} in {took:?}",
        s.sent, s.missed
    );
    assert!(within(s.sent, 388, 412), "sent {}", s.sent);
    assert_eq!((s.completed, s.errors, s.overflow), (s.sent, 0, 0));
    assert_eq!(s.endpoints[0].status.get(&200), Some(&s.sent));
    assert!(
        took >= Duration::from_millis(1990) && took < Duration::from_millis(2300),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_ramp_sends_the_area_under_the_rate() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(2.0, 100.0, Some(300.0), 0)],
        &[("/ok", 1)],
    );
    let t0 = Instant::now();
    let h = start(&p, t0, CancellationToken::new()).unwrap();
    // Halfway in time only 150 of the 400 have been due (the rate is still rising).
    tokio::time::sleep_until(t0 + Duration::from_millis(1000)).await;
    let half = h.recorder.sent();
    h.join.await.unwrap();
    h.recorder.drain(Duration::from_secs(1)).await;
    let s = h.recorder.snapshot();
    println!("ramp 100->300 x 2s: sent {} (at 1s: {half})", s.sent);
    assert!(within(s.sent, 388, 412), "sent {}", s.sent);
    assert!(within(half, 140, 160), "sent by 1s: {half}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mix_gives_each_endpoint_its_share() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 200.0, None, 0)],
        &[("/a?id={{seq}}", 3), ("/b/{{rand 10}}", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    let (a, b) = (s.endpoints[0].completed, s.endpoints[1].completed);
    println!("mix 3:1: {a} / {b}");
    assert_eq!(a + b, s.sent);
    assert!((a * 4).abs_diff(s.sent * 3) <= 4, "a {a} of {}", s.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_errors_with_the_timeout_as_latency() {
    let srv = testserver::start().await;
    let mut p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 40.0, None, 0)],
        &[("/ok", 3), ("/sleep/1500", 1)],
    );
    p.load.timeout = Duration::from_millis(500);
    let t0 = Instant::now();
    let (s, took) = run(&p, Duration::from_secs(3)).await;
    let drained = t0.elapsed();
    let slow = &s.endpoints[1];
    let p50 = slow.latency.quantile_ms(0.5).unwrap_or(0.0);
    println!(
        "timeouts: {} of {}, p50 {p50} ms, join {took:?}, drained {drained:?}",
        s.timeouts, s.completed
    );
    assert_eq!((slow.completed, slow.timeouts, slow.errors), (10, 10, 10));
    assert_eq!((s.endpoints[0].errors, s.errors, s.timeouts), (0, 10, 10));
    assert!(slow.status.is_empty(), "no response head arrived");
    assert!((500.0..700.0).contains(&p50), "p50 {p50}");
    assert!(took < Duration::from_millis(1200), "join {took:?}");
    assert!(drained < Duration::from_millis(1800), "drained {drained:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_cap_overflows_without_a_catch_up_burst() {
    // The server answers nothing until 1 s after it started, then everything at once.
    let srv = testserver::start().await;
    let mut p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(2.0, 200.0, None, 0)],
        &[("/stall-until/1000", 1)],
    );
    p.load.max_in_flight = 50;
    p.load.timeout = Duration::from_secs(3);
    let t0 = Instant::now();
    let h = start(&p, t0, CancellationToken::new()).unwrap();
    let mut most = 0;
    while !h.join.is_finished() && t0.elapsed() < Duration::from_secs(4) {
        most = most.max(h.recorder.in_flight());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    h.recorder.drain(Duration::from_secs(2)).await;
    let s = h.recorder.snapshot();
    println!(
        "stall: most in flight {most}, sent {} overflow {} missed {}",
        s.sent, s.overflow, s.missed
    );
    assert!((45..=50).contains(&most), "most in flight {most}");
    assert_eq!(
        s.sent + s.overflow + s.missed,
        400,
        "every arrival is accounted for"
    );
    assert!(within(s.overflow, 130, 170), "overflow {}", s.overflow);
    // 50 during the stall + 200 after it: the 150 refused arrivals were not sent later.
    assert!(within(s.sent, 230, 270), "sent {}", s.sent);
    assert_eq!((s.completed, s.errors), (s.sent, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_generator_counts_missed_arrivals_instead_of_bursting() {
    // Starting 1 s late looks to the scheduler like a 1 s stall: the first ~0.9 s of arrivals
    // are missed, the ones within 100 ms are sent, then the schedule goes on as planned.
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(2.0, 200.0, None, 0)],
        &[("/ok", 1)],
    );
    let t0 = Instant::now() - Duration::from_secs(1);
    let h = start(&p, t0, CancellationToken::new()).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let early = h.recorder.sent();
    h.join.await.unwrap();
    h.recorder.drain(Duration::from_secs(1)).await;
    let s = h.recorder.snapshot();
    println!(
        "late start: missed {} sent {} (first 50 ms: {early})",
        s.missed, s.sent
    );
    assert_eq!(s.sent + s.missed + s.overflow, 400);
    assert!(within(s.missed, 175, 185), "missed {}", s.missed);
    assert!(
        within(early, 18, 35),
        "a burst of {early} in the first 50 ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_counts_from_the_intended_send_time() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 50.0, None, 0)],
        &[("/sleep/200", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    let p50 = s.endpoints[0].latency.quantile_ms(0.5).unwrap_or(0.0);
    println!("200 ms server at 50/s: p50 {p50} ms over {}", s.completed);
    assert!(within(s.completed, 49, 51));
    assert!((200.0..260.0).contains(&p50), "p50 {p50}");

    // A request whose intended time is 300 ms ago counts those 300 ms, though the server is fast.
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 1.0, None, 0)],
        &[("/ok", 1)],
    );
    let sender = client::Sender::new(&p).unwrap();
    let recorder = Arc::new(Recorder::new(1));
    let engine = Arc::new(Engine {
        sender,
        recorder: Arc::clone(&recorder),
        senders: Default::default(),
    });
    let permit = Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap();
    let intended = Instant::now() - Duration::from_millis(300);
    open::fire(&engine, permit, intended, &mut Scratch::new());
    recorder.drain(Duration::from_secs(2)).await;
    let late = recorder.snapshot().endpoints[0]
        .latency
        .quantile_ms(1.0)
        .unwrap_or(0.0);
    println!("fired 300 ms late: latency {late} ms");
    assert!((300.0..400.0).contains(&late), "{late}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_and_refused_connections_are_errors() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(0.5, 50.0, None, 0)],
        &[("/status/503", 1), ("/status/204", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    let (bad, good) = (&s.endpoints[0], &s.endpoints[1]);
    assert_eq!(
        bad.status,
        std::collections::BTreeMap::from([(503, bad.completed)])
    );
    assert_eq!((bad.errors, good.errors, s.timeouts), (bad.completed, 0, 0));
    assert_eq!(bad.completed + good.completed, 25);

    let refused = testserver::closed_port_url().await;
    let p = plan(
        &refused,
        Model::Open,
        vec![phase(0.5, 50.0, None, 0)],
        &[("/ok", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    println!("refused: {} errors of {}", s.errors, s.completed);
    assert_eq!((s.completed, s.errors, s.timeouts), (25, 25, 0));
    assert!(s.endpoints[0].status.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_bodies_are_bounded_by_the_timeout_and_big_ones_read() {
    let srv = testserver::endless().await;
    let mut p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(0.4, 10.0, None, 0)],
        &[("/", 1)],
    );
    p.load.timeout = Duration::from_millis(300);
    let (s, _) = run(&p, Duration::from_secs(2)).await;
    let p50 = s.endpoints[0].latency.quantile_ms(0.5).unwrap_or(0.0);
    println!(
        "endless: {} timeouts of {}, p50 {p50} ms",
        s.timeouts, s.completed
    );
    assert_eq!((s.completed, s.timeouts), (4, 4));
    assert_eq!(
        s.endpoints[0].status.get(&200),
        Some(&4),
        "the head arrived before the timeout"
    );
    assert!((300.0..400.0).contains(&p50), "{p50}");

    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(0.2, 20.0, None, 0)],
        &[("/big/4194304", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(2)).await;
    assert_eq!((s.completed, s.errors), (4, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_do_not_double_count() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 100.0, None, 0)],
        &[("/ok", 1)],
    );
    let t0 = Instant::now();
    let h = start(&p, t0, CancellationToken::new()).unwrap();
    tokio::time::sleep_until(t0 + Duration::from_millis(500)).await;
    let a = h.recorder.snapshot();
    h.join.await.unwrap();
    h.recorder.drain(Duration::from_secs(1)).await;
    let b = h.recorder.snapshot();
    let (la, lb) = (a.endpoints[0].latency.len(), b.endpoints[0].latency.len());
    println!(
        "snapshots: {la} + {lb} latencies, completed {} then {}",
        a.completed, b.completed
    );
    assert!(la > 30 && lb > 30);
    assert_eq!(la, a.endpoints[0].completed);
    assert_eq!(la + lb, b.completed);
    assert_eq!(b.completed, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loops_follow_latency() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Closed,
        vec![phase(1.0, 0.0, None, 4)],
        &[("/sleep/50", 1)],
    );
    let (s, took) = run(&p, Duration::from_secs(1)).await;
    let p50 = s.endpoints[0].latency.quantile_ms(0.5).unwrap_or(0.0);
    println!(
        "closed x4 vs 50 ms: sent {} p50 {p50} ms, join {took:?}",
        s.sent
    );
    assert!(within(s.sent, 68, 84), "sent {}", s.sent);
    assert_eq!(s.completed, s.sent);
    assert!((50.0..70.0).contains(&p50), "{p50}");
    assert!(took < Duration::from_millis(1100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_advance_on_the_clock_and_cancel_stops_at_once() {
    let srv = testserver::start().await;
    let phases = vec![
        phase(0.3, 0.0, None, 0),
        phase(0.3, 100.0, None, 0),
        phase(5.0, 100.0, None, 0),
    ];
    let p = plan(&srv.base_url, Model::Open, phases, &[("/ok", 1)]);
    let t0 = Instant::now();
    let cancel = CancellationToken::new();
    let h = start(&p, t0, cancel.clone()).unwrap();
    tokio::time::sleep_until(t0 + Duration::from_millis(200)).await;
    assert_eq!(
        (h.recorder.phase(), h.recorder.sent()),
        (0, 0),
        "idle phase sends nothing"
    );
    tokio::time::sleep_until(t0 + Duration::from_millis(450)).await;
    assert_eq!(h.recorder.phase(), 1);
    tokio::time::sleep_until(t0 + Duration::from_millis(800)).await;
    assert_eq!(h.recorder.phase(), 2);
    cancel.cancel();
    let cancelled_at = Instant::now();
    h.join.await.unwrap();
    let stop = cancelled_at.elapsed();
    let sent = h.recorder.sent();
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!("phases: sent {sent} by 0.8 s, join {stop:?} after cancel");
    assert!(stop < Duration::from_millis(50), "{stop:?}");
    assert!(within(sent, 48, 52), "sent {sent}");
    assert_eq!(h.recorder.sent(), sent, "nothing sent after cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_reused_and_closed_ones_replaced() {
    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 200.0, None, 0)],
        &[("/ok", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    let open_conns = srv.connections();
    let p = plan(
        &srv.base_url,
        Model::Closed,
        vec![phase(0.5, 0.0, None, 4)],
        &[("/sleep/10", 1)],
    );
    let (c, _) = run(&p, Duration::from_secs(1)).await;
    let closed_conns = srv.connections() - open_conns;
    println!(
        "reuse: {} requests on {open_conns} connections; closed x4: {closed_conns}",
        s.sent
    );
    assert_eq!((s.sent, s.errors, c.errors), (200, 0, 0));
    assert!(
        open_conns <= 10,
        "{open_conns} connections for 200 requests"
    );
    assert_eq!(closed_conns, 4, "each loop keeps its connection");

    // `connection: close` answers and servers that silently close after one response.
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(0.5, 100.0, None, 0)],
        &[("/close", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    assert_eq!((s.completed, s.errors), (50, 0));
    let one = testserver::one_shot().await;
    let p = plan(
        &one.base_url,
        Model::Open,
        vec![phase(0.5, 100.0, None, 0)],
        &[("/", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    println!(
        "one-shot server: {} errors of {} on {} connections",
        s.errors,
        s.completed,
        one.connections()
    );
    assert_eq!((s.completed, s.errors), (50, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_prefix_headers_and_bodies() {
    let srv = testserver::start().await;
    let base = format!("{}/api/", srv.base_url);
    let p = plan(
        &base,
        Model::Open,
        vec![phase(0.3, 50.0, None, 0)],
        &[("/x?i={{seq}}", 1), ("/y", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    assert_eq!(
        s.endpoints[0].status.get(&201),
        Some(&8),
        "{:?}",
        s.endpoints[0].status
    );
    assert_eq!(
        s.endpoints[1].status.get(&201),
        Some(&7),
        "{:?}",
        s.endpoints[1].status
    );

    let mut p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(0.3, 50.0, None, 0)],
        &[("/post", 1), ("/post", 1)],
    );
    for (i, r) in p.requests.iter_mut().enumerate() {
        r.method = "POST".into();
        let (seq, body) = if i == 0 {
            ("{{seq}}", r#"{"id": {{seq}}, "u": "{{uuid}}"}"#)
        } else {
            ("7", "{}")
        };
        r.headers = vec![
            ("x-seq".into(), Template::parse(seq).unwrap()),
            ("user-agent".into(), Template::parse("custom").unwrap()),
        ];
        r.body = Some(Template::parse(body).unwrap());
    }
    let (s, _) = run(&p, Duration::from_secs(1)).await;
    assert_eq!(
        s.errors, 0,
        "{:?} {:?}",
        s.endpoints[0].status, s.endpoints[1].status
    );
    assert_eq!(s.completed, 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_go_through_tls() {
    // A plain HTTP server cannot complete a TLS handshake: every request is a transport error.
    let srv = testserver::start().await;
    let base = srv.base_url.replace("http://", "https://");
    let p = plan(
        &base,
        Model::Open,
        vec![phase(0.2, 50.0, None, 0)],
        &[("/ok", 1)],
    );
    let (s, _) = run(&p, Duration::from_secs(2)).await;
    assert_eq!((s.completed, s.errors, s.timeouts), (10, 10, 0));
    let bad = plan("ftp://127.0.0.1:1", Model::Open, vec![], &[("/", 1)]);
    let err = start(&bad, Instant::now(), CancellationToken::new())
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("unsupported scheme")));
}

#[test]
fn start_needs_a_runtime_and_requests() {
    let p = plan("http://127.0.0.1:9", Model::Open, vec![], &[("/", 1)]);
    let t0 = Instant::now();
    assert!(matches!(
        start(&p, t0, CancellationToken::new()),
        Err(LoadError::NoRuntime)
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let empty = plan("http://127.0.0.1:9", Model::Open, vec![], &[]);
        assert!(matches!(
            start(&empty, t0, CancellationToken::new()),
            Err(LoadError::NoRequests)
        ));
        let mut bad = plan("http://127.0.0.1:9", Model::Open, vec![], &[("/", 1)]);
        bad.requests[0].method = "GE T".into();
        let err = start(&bad, t0, CancellationToken::new())
            .err()
            .map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("request `r0`: invalid method `GE T`"));
        let spaced = plan(
            "http://127.0.0.1:9",
            Model::Open,
            vec![],
            &[("/a b/{{seq}}", 1)],
        );
        let err = start(&spaced, t0, CancellationToken::new())
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("invalid path `/a b/0`")),
            "{err:?}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_starts_senders_that_are_reused_then_end_when_idle() {
    use super::http1::IDLE_TTL;

    let srv = testserver::start().await;
    let p = plan(
        &srv.base_url,
        Model::Open,
        vec![phase(1.0, 1.0, None, 0)],
        &[("/sleep/100", 1)],
    );
    let recorder = Arc::new(Recorder::new(1));
    let engine = Arc::new(Engine {
        sender: client::Sender::new(&p).unwrap(),
        recorder: Arc::clone(&recorder),
        senders: Default::default(),
    });
    let permits = Arc::new(Semaphore::new(100));
    let mut scratch = Scratch::new();
    let mut burst = |n: usize| {
        for _ in 0..n {
            let permit = Arc::clone(&permits).try_acquire_owned().unwrap();
            open::fire(&engine, permit, Instant::now(), &mut scratch);
        }
    };
    // Twelve requests at once: none waits for another, each gets a sender of its own.
    burst(12);
    assert_eq!(engine.senders.live(), 12);
    recorder.drain(Duration::from_secs(2)).await;
    let s = recorder.snapshot();
    assert_eq!((s.completed, s.errors), (12, 0));
    let p50 = s.endpoints[0].latency.quantile_ms(0.5).unwrap_or(0.0);
    assert!(p50 < 190.0, "queued behind each other: p50 {p50} ms");
    // The next burst reuses the idle senders and their connections.
    burst(5);
    recorder.drain(Duration::from_secs(2)).await;
    assert_eq!(engine.senders.live(), 12);
    assert_eq!(
        srv.connections(),
        12,
        "idle senders' connections were reused"
    );
    // Left idle too long, they are let go (and close their connections) when work comes.
    tokio::time::sleep(IDLE_TTL + Duration::from_millis(300)).await;
    burst(1);
    recorder.drain(Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(engine.senders.live(), 1);
    assert_eq!(srv.connections(), 13, "a new sender, a new connection");
    // When the load is over idle ones end at once, and busy ones when their request is done.
    burst(2);
    engine.senders.close();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(engine.senders.live(), 2);
    recorder.drain(Duration::from_secs(2)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(engine.senders.live(), 0);
    assert_eq!(recorder.snapshot().completed, 20);
}
