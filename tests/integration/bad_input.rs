//! Scenarios and command lines leakhound must refuse (exit 2, a message on stderr naming the
//! problem), and `validate`. Fast: nothing here starts a target, so these run in parallel.

use std::time::Duration;

use crate::util::{args, leakhound, root, scenario, Outcome, Workdir};

const LIMIT: Duration = Duration::from_secs(20);

/// A valid scenario with no target process; the bad-input tests break one thing in it.
/// Line numbers matter to `unknown_key_names_file_line_and_key`.
const GOOD: &str = "\
name: bad-input
target:
  base_url: http://127.0.0.1:9
  ready: {timeout: 1s}
memory:
  interval: 250ms
load:
  timeout: 1s
  phases:
    - {name: soak, duration: 1s, rate: 10}
requests:
  - name: root
    path: /
";

/// Writes `yaml` as scenario.yaml, runs `leakhound run` on it and expects exit 2.
fn rejected(yaml: &str) -> (Outcome, Workdir) {
    let work = Workdir::new();
    let file = work.scenario("scenario.yaml", yaml);
    let out = leakhound(
        &args([
            "run",
            &file.display().to_string(),
            "--out",
            &work.out().display().to_string(),
            "--no-progress",
        ]),
        LIMIT,
    );
    assert_eq!(
        out.code,
        Some(2),
        "expected exit 2 (bad scenario): {}",
        out.output()
    );
    assert!(
        !out.stderr.trim().is_empty(),
        "no message on stderr: {}",
        out.output()
    );
    (out, work)
}

#[test]
fn malformed_yaml_is_rejected() {
    let (out, _work) = rejected("name: broken\ntarget: [unclosed\n  base_url: x\n");
    assert!(
        out.stderr.contains("scenario.yaml"),
        "the message should name the file: {}",
        out.output()
    );
}

#[test]
fn unknown_key_names_file_line_and_key() {
    // `retries` is on line 9 (1-based), inside `load`.
    let yaml = GOOD.replace(
        "  timeout: 1s\n  phases:",
        "  timeout: 1s\n  retries: 3\n  phases:",
    );
    assert_eq!(yaml.lines().nth(8), Some("  retries: 3"));
    let (out, _work) = rejected(&yaml);
    let err = &out.stderr;
    assert!(
        err.contains("scenario.yaml"),
        "file name missing: {}",
        out.output()
    );
    assert!(err.contains("retries"), "key missing: {}", out.output());
    assert!(
        err.contains("line 9") || err.contains(":9"),
        "line 9 missing: {}",
        out.output()
    );
}

#[test]
fn negative_rate_is_rejected() {
    let (out, _work) = rejected(&GOOD.replace("rate: 10", "rate: -5"));
    assert!(out.stderr.contains("rate"), "{}", out.output());
}

#[test]
fn duration_in_words_is_rejected() {
    let (out, _work) = rejected(&GOOD.replace("duration: 1s", "duration: 5 minutes"));
    assert!(
        out.stderr.contains("duration") || out.stderr.contains("5 minutes"),
        "{}",
        out.output()
    );
}

#[test]
fn base_url_without_scheme_is_rejected() {
    let (out, _work) = rejected(&GOOD.replace("http://127.0.0.1:9", "127.0.0.1:9"));
    assert!(out.stderr.contains("base_url"), "{}", out.output());
}

#[test]
fn unknown_set_path_is_rejected() {
    let work = Workdir::new();
    let file = work.scenario("scenario.yaml", GOOD);
    let out = leakhound(
        &args([
            "run",
            &file.display().to_string(),
            "--out",
            &work.out().display().to_string(),
            "--no-progress",
            "--set",
            "load.no_such_key=1",
        ]),
        LIMIT,
    );
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(out.stderr.contains("no_such_key"), "{}", out.output());
}

#[test]
fn missing_scenario_file_is_rejected() {
    let work = Workdir::new();
    let missing = work.path().join("nope.yaml");
    let out = leakhound(
        &args(["run", &missing.display().to_string(), "--no-progress"]),
        LIMIT,
    );
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(out.stderr.contains("nope.yaml"), "{}", out.output());
}

#[test]
fn validate_prints_the_phases() {
    let out = leakhound(
        &args([
            "validate",
            &scenario("listener-leak.yaml").display().to_string(),
        ]),
        LIMIT,
    );
    assert_eq!(out.code, Some(0), "{}", out.output());
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("warmup") && all.contains("soak"),
        "{}",
        out.output()
    );
}

#[test]
fn validate_rejects_a_bad_scenario() {
    let work = Workdir::new();
    let file = work.scenario("scenario.yaml", &GOOD.replace("rate: 10", "rate: -5"));
    let out = leakhound(&args(["validate", &file.display().to_string()]), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
}

/// Every example users copy must at least validate.
#[test]
fn every_example_scenario_validates() {
    let dir = root().join("scenarios");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("read scenarios/") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let out = leakhound(&args(["validate", &path.display().to_string()]), LIMIT);
        assert_eq!(
            out.code,
            Some(0),
            "{} does not validate: {}",
            path.display(),
            out.output()
        );
        checked += 1;
    }
    assert!(
        checked >= 5,
        "only {checked} scenarios found in {}",
        dir.display()
    );
}
