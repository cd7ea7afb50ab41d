//! End-to-end tests of the scenario pipeline: text -> Plan, and the errors users see.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The example from DESIGN.md, verbatim.
const DESIGN: &str = r#"name: checkout
target:
  base_url: http://127.0.0.1:3000
  command: [node, server.js]        # optional: leakhound starts it, waits until ready, stops it
  cwd: ./app                        # optional
  env: {PORT: "3000"}               # optional
  ready: {path: /health, timeout: 30s}   # default: TCP connect to base_url
  # pid: 4242 | pid_file: run/app.pid     # or attach to a running process instead
memory:
  interval: 1s                      # sampling period
  metric: rss_anon                  # what the verdict is judged on; all sources are recorded
  sources: [process]                # process (the target's /proc, summed over its process tree);
                                    # later: inspector, cgroup, docker, prometheus, json
load:
  model: open                       # open: arrival rate, latency from the intended send time
                                    # closed: fixed concurrency
  timeout: 10s                      # per request; a request never outlives it
  phases:
    - {name: warmup, duration: 15s, rate: 100}
    - {name: soak,   duration: 5m,  rate: 400}
    - {name: ramp,   duration: 1m,  rate: 400, ramp_to: 800}
    - {name: rest,   duration: 30s, rate: 0}      # idle: growth here is growth with time
requests:
  - name: process
    method: POST
    path: /process?id={{seq}}       # {{seq}} {{uuid}} {{rand N}} expand per request
    headers: {content-type: application/json}
    body: '{"user": "{{uuid}}"}'
    weight: 3
  - name: users
    path: /users/{{rand 100000}}
thresholds:                          # any failing threshold -> exit 1
  leak_per_request: 64B              # fails when the leak's lower 95% bound is above it
  growth: 50MiB
  p99: 500ms
  error_rate: 1%
"#;

/// A small valid scenario; tests edit one line of it.
const SMALL: &str = "\
name: small
target:
  base_url: http://127.0.0.1:3000
  pid: 4242
load:
  phases:
    - {name: a, duration: 10s, rate: 10}
    - name: b
      duration: 20s
      rate: 20
requests:
  - path: /users/{{rand 10}}
";

const ORIGIN: &str = "scenarios/checkout.yaml";

fn run(text: &str, o: &Overrides) -> Result<Plan, ScenarioError> {
    parse(text, ORIGIN, Path::new("/base"), o)
}

fn ok(text: &str) -> Plan {
    match run(text, &Overrides::default()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn err(text: &str) -> String {
    err_with(text, &Overrides::default())
}

fn err_with(text: &str, o: &Overrides) -> String {
    match run(text, o) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn sets(flags: &[&str]) -> Overrides {
    Overrides {
        set: flags.iter().map(|s| s.to_string()).collect(),
        ..Overrides::default()
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn design_example_parses_into_the_expected_plan() {
    let plan = ok(DESIGN);
    assert_eq!(plan.name, "checkout");
    assert_eq!(plan.source, None);
    let t = &plan.target;
    assert_eq!(
        (t.base_url.as_str(), t.host.as_str(), t.port),
        ("http://127.0.0.1:3000", "127.0.0.1", 3000)
    );
    assert_eq!(
        t.process,
        TargetProcess::Launch {
            command: vec!["node".into(), "server.js".into()],
            cwd: Some(PathBuf::from("/base/app")),
            env: [("PORT".to_string(), "3000".to_string())]
                .into_iter()
                .collect(),
        }
    );
    assert_eq!(
        t.ready,
        Readiness {
            path: Some("/health".into()),
            timeout: secs(30)
        }
    );
    assert_eq!(plan.memory.interval, secs(1));
    assert_eq!(plan.memory.metric, "rss_anon");
    assert_eq!(plan.memory.sources, vec!["process".to_string()]);
    let l = &plan.load;
    assert_eq!(
        (l.model, l.timeout, l.max_in_flight),
        (Model::Open, secs(10), 2000)
    );
    let phase = |name: &str, d: u64, rate: f64, ramp_to: Option<f64>| PhasePlan {
        name: name.into(),
        duration: secs(d),
        rate,
        ramp_to,
        concurrency: 0,
        mix: None,
    };
    assert_eq!(
        l.phases,
        vec![
            phase("warmup", 15, 100.0, None),
            phase("soak", 300, 400.0, None),
            phase("ramp", 60, 400.0, Some(800.0)),
            phase("rest", 30, 0.0, None),
        ]
    );
    assert_eq!(plan.total_duration(), secs(405));
    let r = &plan.requests;
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].name.as_str(), r[0].method.as_str(), r[0].weight),
        ("process", "POST", 3)
    );
    assert_eq!(r[0].path.raw(), "/process?id={{seq}}");
    assert_eq!(r[0].headers.len(), 1);
    assert_eq!(
        (r[0].headers[0].0.as_str(), r[0].headers[0].1.raw()),
        ("content-type", "application/json")
    );
    assert_eq!(
        r[0].body.as_ref().map(|b| b.raw()),
        Some(r#"{"user": "{{uuid}}"}"#)
    );
    assert_eq!(
        (r[1].name.as_str(), r[1].method.as_str(), r[1].weight),
        ("users", "GET", 1)
    );
    assert!(r[1].body.is_none() && r[1].headers.is_empty());
    let th = &plan.thresholds;
    assert_eq!(
        th.leak_per_request,
        Some(Limit {
            value: 64.0,
            text: "64B".into()
        })
    );
    assert_eq!(
        th.growth,
        Some(Limit {
            value: 50 * 1024 * 1024,
            text: "50MiB".into()
        })
    );
    assert_eq!(
        th.p99,
        Some(Limit {
            value: Duration::from_millis(500),
            text: "500ms".into()
        })
    );
    assert_eq!(
        th.error_rate,
        Some(Limit {
            value: 0.01,
            text: "1%".into()
        })
    );
}

#[test]
fn defaults_fill_in() {
    let plan = ok(SMALL);
    assert_eq!(plan.target.process, TargetProcess::Pid { pid: 4242 });
    assert_eq!(
        plan.target.ready,
        Readiness {
            path: None,
            timeout: secs(30)
        }
    );
    assert_eq!(plan.memory.metric, "rss_anon");
    assert_eq!(plan.load.timeout, secs(10));
    let r = &plan.requests[0];
    assert_eq!(
        (r.name.as_str(), r.method.as_str(), r.weight),
        ("GET /users/{{rand 10}}", "GET", 1)
    );
    assert_eq!(plan.thresholds, Thresholds::default());
    let pid_file = ok(&SMALL.replace("pid: 4242", "pid_file: ./run/app.pid"));
    assert_eq!(
        pid_file.target.process,
        TargetProcess::PidFile {
            path: PathBuf::from("/base/run/app.pid")
        }
    );
    let unnamed = ok(&SMALL.replace("{name: a, ", "{"));
    assert_eq!(unnamed.load.phases[0].name, "phase1");
}

#[test]
fn closed_model_uses_concurrency() {
    let text = SMALL
        .replace("phases:", "model: closed\n  concurrency: 8\n  phases:")
        .replace(", rate: 10}", ", concurrency: 0}")
        .replace("      rate: 20\n", "");
    let plan = ok(&text);
    assert_eq!(plan.load.model, Model::Closed);
    assert_eq!(plan.load.phases[0].concurrency, 0);
    assert!(plan.load.phases[0].is_idle(Model::Closed));
    assert_eq!(
        (plan.load.phases[1].concurrency, plan.load.phases[1].rate),
        (8, 0.0)
    );
}

#[test]
fn json_body_from_a_mapping_gets_a_content_type() {
    let text = SMALL.replace(
        "  - path: /users/{{rand 10}}\n",
        "  - path: /orders\n    method: post\n    body: {user: \"{{uuid}}\", n: 1}\n",
    );
    let r = &ok(&text).requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.body.as_ref().map(|b| b.raw()),
        Some(r#"{"user":"{{uuid}}","n":1}"#)
    );
    assert_eq!(r.headers[0].0, "content-type");
}

#[test]
fn unknown_key_points_at_the_key() {
    let text = SMALL.replace("      rate: 20", "      ratee: 20");
    assert_eq!(
        err(&text),
        "scenarios/checkout.yaml:10:7: load.phases[1]: unknown key `ratee`; expected one of: \
         name, duration, rate, ramp_to, concurrency, mix"
    );
    let top = err(&format!("{SMALL}nmae: x\n"));
    assert!(
        top.starts_with(
            "scenarios/checkout.yaml:13:1: unknown key `nmae`; expected one of: name, target"
        ),
        "{top}"
    );
}

#[test]
fn bad_units_point_at_the_value() {
    let text = SMALL.replace("duration: 10s", "duration: 5 minutes");
    assert_eq!(
        err(&text),
        "scenarios/checkout.yaml:7:27: load.phases[0].duration: `5 minutes` is not a duration \
         (no spaces inside a value); use forms like 500ms, 30s, 5m, 1h30m"
    );
    let bare = err(&SMALL.replace("duration: 20s", "duration: 20"));
    assert!(
        bare.starts_with("scenarios/checkout.yaml:9:17: load.phases[1].duration: `20` has no unit"),
        "{bare}"
    );
    let pct = err(&format!("{SMALL}thresholds: {{error_rate: 150%}}\n"));
    assert!(
        pct.contains(":13:26: thresholds.error_rate: `150%` is out of range"),
        "{pct}"
    );
}

#[test]
fn malformed_yaml_reports_the_parser_position() {
    let tabbed = SMALL.replace("  pid: 4242", "\tpid: 4242");
    let e = err(&tabbed);
    assert!(e.starts_with("scenarios/checkout.yaml:4:"), "{e}");
    assert!(
        e.contains("tab character") && e.contains("must use spaces"),
        "{e}"
    );
    let indented = SMALL.replace("  pid: 4242", "   pid: 4242");
    assert!(
        err(&indented).starts_with("scenarios/checkout.yaml:4:"),
        "{}",
        err(&indented)
    );
    assert!(err("").contains("empty"));
    assert!(err("- a\n- b\n").contains("expected a mapping"));
}

#[test]
fn validation_errors_carry_file_line_and_key() {
    let cases: Vec<(String, &str)> = vec![
        (SMALL.replace("http://127.0.0.1:3000", "127.0.0.1:3000"), ":3:13: target.base_url: `127.0.0.1:3000` has no scheme; add http://"),
        (SMALL.replace("name: small", "name: my scenario"), ":1:7: name: `my scenario` cannot be used"),
        (SMALL.replace("  pid: 4242", "  pid: 0"), ":4:8: target.pid: `0` is not a process id"),
        (SMALL.replace("  pid: 4242", "  pid: 1\n  pid_file: x.pid"), ":5:3: target.pid_file: use only one of `command`"),
        (SMALL.replace("  pid: 4242\n", ""), ":2:1: target: memory source `process` needs a process"),
        (SMALL.replace("rate: 10}", "rate: 10, concurrency: 3}"), ":7:42: load.phases[0].concurrency: only used with `load.model: closed`"),
        (SMALL.replace("{name: a, ", "{name: b, "), ":8:13: load.phases[1].name: phase name `b` is already used by load.phases[0]"),
        (SMALL.replace("{rand 10}", "{user}"), ":12:11: requests[0].path: request `GET /users/{{user}}`: unknown template variable `{{user}}`"),
        (format!("{SMALL}memory: {{sources: [inspector]}}\n"), ":13:20: memory.sources[0]: the inspector source needs `connect: HOST:PORT`"),
        (format!("{SMALL}memory: {{interval: 50ms}}\n"), ":13:20: memory.interval: `50ms` is out of range; use 100ms to 60s"),
        (format!("{SMALL}memory: {{metric: heap}}\n"), ":13:18: memory.metric: unknown metric `heap`; use one of: rss, rss_anon"),
        (SMALL.replace("      rate: 20\n", ""), ":8:7: load.phases[1]: missing required key `rate`"),
        (SMALL.replace("  base_url: http://127.0.0.1:3000\n", ""), ":3:3: target: missing required key `base_url`"),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .map(|(text, want)| (err(text), want))
        .filter(|(e, want)| !(e.starts_with(ORIGIN) && e.contains(*want)))
        .map(|(e, want)| format!("want `{want}` in:\n{e}"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn closed_model_rejects_rates_and_needs_concurrency() {
    let closed = SMALL.replace("phases:", "model: closed\n  phases:");
    let e = err(&closed);
    assert!(
        e.contains(":8:32: load.phases[0].rate: only used with `load.model: open`"),
        "{e}"
    );
    let e = err(&closed
        .replace(", rate: 10}", "}")
        .replace("      rate: 20\n", ""));
    assert!(
        e.contains(":8:7: load.phases[0]: missing required key `concurrency`"),
        "{e}"
    );
}

#[test]
fn duplicate_request_names_name_both_entries() {
    let text = format!("{SMALL}  - name: GET /users/{{{{rand 10}}}}\n    path: /x\n");
    let e = err(&text);
    assert!(
        e.contains(":13:11: requests[1].name: request name `GET /users/{{rand 10}}` is already used by requests[0]"),
        "{e}"
    );
    let bad_method = err(&SMALL.replace("  - path:", "  - method: 'GE T'\n    path:"));
    assert!(
        bad_method.contains("requests[0].method: `GE T` is not an HTTP method"),
        "{bad_method}"
    );
}

#[test]
fn set_overrides_the_tree_before_validation() {
    let plan = run(
        SMALL,
        &sets(&[
            "target.base_url=http://127.0.0.1:4001",
            "load.phases.1.rate=500",
            "thresholds.p99=200ms",
            "memory.interval=250ms",
            "requests.0.headers.x-run=1",
        ]),
    )
    .unwrap();
    assert_eq!(plan.target.port, 4001);
    assert_eq!(plan.load.phases[1].rate, 500.0);
    assert_eq!(
        plan.thresholds.p99.map(|l| l.value),
        Some(Duration::from_millis(200))
    );
    assert_eq!(plan.memory.interval, Duration::from_millis(250));
    assert_eq!(plan.requests[0].headers[0].0, "x-run");
    // A flag can supply what the file leaves out.
    let no_pid = SMALL.replace("  pid: 4242\n", "");
    let plan = run(&no_pid, &sets(&["target.pid=77"])).unwrap();
    assert_eq!(plan.target.process, TargetProcess::Pid { pid: 77 });
    let plan = run(
        &no_pid,
        &sets(&["target.command=[node, app.js]", "target.env.PORT=4001"]),
    )
    .unwrap();
    match plan.target.process {
        TargetProcess::Launch { env, .. } => {
            assert_eq!(env.get("PORT").map(String::as_str), Some("4001"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn errors_caused_by_set_name_the_flag() {
    let e = err_with(SMALL, &sets(&["load.phases.0.rate=-5"]));
    assert_eq!(
        e,
        "--set load.phases.0.rate=-5: load.phases[0].rate: `-5` is not a rate; use a number >= 0 \
         or forms like 200 (per second), 50/1s, 600/1m, 10/500ms"
    );
    let e = err_with(SMALL, &sets(&["load.phases.0.ratee=5"]));
    assert!(
        e.starts_with("--set load.phases.0.ratee=5: load.phases[0]: unknown key `ratee`"),
        "{e}"
    );
    let e = err_with(SMALL, &sets(&["memory.interval=5m"]));
    assert!(
        e.starts_with("--set memory.interval=5m: memory.interval: `5m` is out of range"),
        "{e}"
    );
    let e = err_with(SMALL, &sets(&["load.phases.2.rate=5"]));
    assert!(
        e.starts_with(
            "--set load.phases.2.rate=5: load.phases[2]: missing required key `duration`"
        ),
        "{e}"
    );
    let e = err_with(SMALL, &sets(&["foo"]));
    assert!(e.contains("--set foo") && e.contains("key=value"), "{e}");
    // An error elsewhere in the file still points at the file.
    let bad = SMALL.replace("duration: 20s", "duration: 20");
    assert!(err_with(&bad, &sets(&["load.phases.0.rate=5"]))
        .starts_with("scenarios/checkout.yaml:9:17:"));
}

#[test]
fn duration_flag_scales_phases_to_the_total() {
    let o = Overrides {
        duration: Some(secs(60)),
        ..Overrides::default()
    };
    let plan = run(DESIGN, &o).unwrap();
    assert_eq!(plan.total_duration(), secs(60));
    let d: Vec<u128> = plan
        .load
        .phases
        .iter()
        .map(|p| p.duration.as_millis())
        .collect();
    // 15:300:60:30 of 405s, scaled to 60s.
    assert_eq!(d, vec![2222, 44445, 8889, 4444]);
    let tiny = Overrides {
        duration: Some(Duration::from_millis(450)),
        ..Overrides::default()
    };
    let plan = run(DESIGN, &tiny).unwrap();
    assert!(plan
        .load
        .phases
        .iter()
        .all(|p| p.duration >= Duration::from_millis(100)));
    assert_eq!(plan.total_duration(), Duration::from_millis(450));
    let too_short = Overrides {
        duration: Some(Duration::from_millis(300)),
        ..Overrides::default()
    };
    let e = err_with(DESIGN, &too_short);
    assert!(
        e.starts_with("--duration: 300ms is too short for 4 phases"),
        "{e}"
    );
}

#[test]
fn rate_flag_scales_the_peak() {
    let o = Overrides {
        rate: Some(200.0),
        ..Overrides::default()
    };
    let plan = run(DESIGN, &o).unwrap();
    let rates: Vec<(f64, Option<f64>)> = plan
        .load
        .phases
        .iter()
        .map(|p| (p.rate, p.ramp_to))
        .collect();
    assert_eq!(
        rates,
        vec![
            (25.0, None),
            (100.0, None),
            (100.0, Some(200.0)),
            (0.0, None)
        ]
    );
    let closed = SMALL
        .replace("phases:", "model: closed\n  concurrency: 2\n  phases:")
        .replace(", rate: 10}", "}")
        .replace("      rate: 20\n", "");
    let e = err_with(&closed, &o);
    assert!(
        e.starts_with("--rate: the closed model has no rate")
            && e.contains("--set load.phases.N.concurrency"),
        "{e}"
    );
    let idle = SMALL
        .replace("rate: 10}", "rate: 0}")
        .replace("rate: 20", "rate: 0");
    // All idle is refused by the file itself, with or without --rate: it would send nothing.
    let e = err(&idle);
    assert!(
        e.starts_with("scenarios/checkout.yaml:") && e.contains("load.phases: every phase is idle"),
        "{e}"
    );
    assert!(err_with(&idle, &o).contains("every phase is idle"));
    // No source at all, or a V8 metric without the inspector: each says what to add.
    let none = SMALL.replace("load:\n", "memory:\n  sources: []\nload:\n");
    assert!(
        err(&none).contains("memory.sources: lists no source"),
        "{}",
        err(&none)
    );
    let heap = SMALL.replace("load:\n", "memory:\n  metric: heap_used\nload:\n");
    assert!(
        err(&heap).contains("add the `inspector` source"),
        "{}",
        err(&heap)
    );
    // The flag has the file's ceiling.
    let fast = Overrides {
        rate: Some(2e9),
        ..Overrides::default()
    };
    let e = err_with(DESIGN, &fast);
    assert!(
        e.starts_with("--rate:") && e.contains("above the limit of 1000000"),
        "{e}"
    );
}

#[test]
fn oversize_and_alias_bombs_are_refused() {
    let big = format!("{SMALL}# {}\n", "x".repeat(MAX_SCENARIO_BYTES as usize));
    let e = err(&big);
    assert!(
        e.starts_with("scenarios/checkout.yaml: the file is larger than 1MiB"),
        "{e}"
    );
    let mut bomb = String::from("name: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, n) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 9].join(", ");
        bomb.push_str(&format!("x{n}: &{n} [{refs}]\n"));
    }
    let start = std::time::Instant::now();
    let e = err(&bomb);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        e.starts_with("scenarios/checkout.yaml") && e.contains("100000 values"),
        "{e}"
    );
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, DESIGN.replace("./app", "app")).unwrap();
    let plan = load(&path, &Overrides::default()).unwrap();
    assert_eq!(plan.source.as_deref(), Some(path.as_path()));
    match plan.target.process {
        TargetProcess::Launch { cwd, .. } => assert_eq!(cwd, Some(dir.path().join("app"))),
        other => panic!("{other:?}"),
    }
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, vec![b'#'; 3 * 1024 * 1024]).unwrap();
    let e = load(&big, &Overrides::default()).unwrap_err().to_string();
    assert!(
        e.contains("big.yaml: the file is larger than 1MiB (3145728 bytes)"),
        "{e}"
    );
    let missing = dir.path().join("nope.yaml");
    let e = load(&missing, &Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("nope.yaml") && e.contains("no such file"), "{e}");
    std::fs::write(&path, SMALL.replace("duration: 10s", "duration: 10 s")).unwrap();
    let e = load(&path, &Overrides::default()).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "{}:7:27: load.phases[0].duration:",
            path.display()
        )),
        "{e}"
    );
}

#[test]
fn describe_shows_the_resolved_plan() {
    let text = describe(&ok(DESIGN));
    for want in [
        "Scenario checkout",
        "base url  http://127.0.0.1:3000",
        "started by leakhound: node server.js",
        "GET /health answers 2xx/3xx, within 30s",
        "rss_anon",
        "open (arrival rate",
        "max in flight  2000",
        "400/s -> 800/s",
        "idle",
        "6m45s",
        "157,500",
        "process  POST    /process?id={{seq}}  (with body)",
        "75.0%",
        "leak_per_request    64B  per request",
        "error_rate           1%  failed requests",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

#[test]
fn describe_shows_per_phase_mixes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/one-of-three.yaml");
    let plan = crate::scenario::load(&path, &Overrides::default()).expect("one-of-three loads");
    let text = describe(&plan);
    assert!(text.contains("mix (catalog:search:orders)"), "{text}");
    // leak-hunt favours each request in turn within a block.
    for want in ["4:1:1", "1:4:1", "1:1:4"] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}
