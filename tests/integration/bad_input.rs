//! Scenarios and command lines leakhound must refuse (exit 2, a message on stderr naming the
//! problem), and `validate`. Fast: nothing here starts a target, so these run in parallel.

use std::time::Duration;

use crate::util::{args, leakhound, root, scenario, Outcome, Workdir};

const LIMIT: Duration = Duration::from_secs(20);

/// A valid scenario (checked by `the_base_scenario_is_valid`, so each test below fails for the
/// one thing it breaks); the bad-input tests break one thing in it. The command is never
/// started: every test here is rejected before that. Line numbers matter to
/// `unknown_key_names_file_line_and_key` and `every_wrong_field_is_named_with_its_line`.
const GOOD: &str = "\
name: bad-input
target:
  base_url: http://127.0.0.1:9
  command: [node, server.js]
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

/// Runs `leakhound validate` on `yaml` written as scenario.yaml.
fn validate(yaml: &str) -> (Outcome, Workdir) {
    let work = Workdir::new();
    let file = work.scenario("scenario.yaml", yaml);
    let out = leakhound(&args(["validate", &file.display().to_string()]), LIMIT);
    (out, work)
}

/// Guards the tests above: the base must be valid, or they would pass for the wrong reason.
#[test]
fn the_base_scenario_is_valid() {
    let (out, _work) = validate(GOOD);
    assert_eq!(out.code, Some(0), "{}", out.output());
}

/// One field broken at a time (wrong type, out of range, wrong or missing unit, unknown value):
/// exit 2, and the first line of the message is `scenario.yaml:LINE:COL: KEY.PATH: ...` with a
/// hint. `(replace, with, line, key path, words the message must hold)`.
#[rustfmt::skip]
const WRONG_FIELDS: &[(&str, &str, usize, &str, &str)] = &[
    ("name: bad-input", "name: [a, b]", 1, "name", "expected text, found a list"),
    ("name: bad-input", "name: ../../etc", 1, "name", "folder names"),
    ("http://127.0.0.1:9", "ftp://127.0.0.1:9", 3, "target.base_url", "only http:// and https://"),
    ("http://127.0.0.1:9", "http://127.0.0.1:99999", 3, "target.base_url", "is not a port"),
    ("http://127.0.0.1:9", "", 3, "target.base_url", "found an empty value"),
    ("  command: [node, server.js]", "  command: []", 4, "target.command", "needs the program"),
    ("  command: [node, server.js]", "  command: node server.js", 4, "target.command", "does not run a shell"),
    ("  command: [node, server.js]", "  pid: -4", 4, "target.pid", "whole number >= 0"),
    ("  command: [node, server.js]", "  pid: 12\n  command: [node]", 4, "target.pid", "use only one of"),
    ("interval: 250ms", "interval: 0ms", 6, "memory.interval", "100ms to 60s"),
    ("interval: 250ms", "interval: 2m", 6, "memory.interval", "100ms to 60s"),
    ("interval: 250ms", "interval: 1 second", 6, "memory.interval", "no spaces inside a value"),
    ("interval: 250ms", "interval: true", 6, "memory.interval", "expected a duration"),
    ("  interval: 250ms", "  interval: 250ms\n  metric: rss_nope", 7, "memory.metric", "unknown metric"),
    ("  interval: 250ms", "  interval: 250ms\n  sources: [quantum]", 7, "memory.sources[0]", "unknown memory source"),
    ("  timeout: 1s", "  timeout: {a: 1}", 8, "load.timeout", "found a mapping"),
    ("  timeout: 1s", "  timeout: 0s", 8, "load.timeout", "out of range"),
    ("  timeout: 1s", "  timeout: 1h", 8, "load.timeout", "at most 10m"),
    ("  timeout: 1s", "  timeout: 1s\n  model: half-open", 9, "load.model", "unknown load model"),
    ("  timeout: 1s", "  timeout: 1s\n  max_in_flight: 0", 9, "load.max_in_flight", "1 to 1000000"),
    ("  timeout: 1s", "  timeout: 1s\n  max_in_flight: -3", 9, "load.max_in_flight", "whole number >= 0"),
    ("  phases:\n    - {name: soak, duration: 1s, rate: 10}", "  phases: []", 9, "load.phases", "at least one phase"),
    ("rate: 10}", "rate: fast}", 10, "load.phases[0].rate", "is not a rate"),
    ("rate: 10}", "rate: [10]}", 10, "load.phases[0].rate", "found a list"),
    ("rate: 10}", "rate: 10/0s}", 10, "load.phases[0].rate", "out of range"),
    ("rate: 10}", "rate: 1e9}", 10, "load.phases[0].rate", "above the limit"),
    ("rate: 10}", "rate: 10, ramp_to: -1}", 10, "load.phases[0].ramp_to", "is not a rate"),
    ("rate: 10}", "rate: 10, concurrency: 5}", 10, "load.phases[0].concurrency", "load.model: closed"),
    ("duration: 1s", "duration: 10", 10, "load.phases[0].duration", "has no unit"),
    ("duration: 1s", "duration: 0s", 10, "load.phases[0].duration", "longer than 0s"),
    ("duration: 1s", "duration: -1s", 10, "load.phases[0].duration", "negative values are not allowed"),
    ("duration: 1s", "duration: 1s5m", 10, "load.phases[0].duration", "is not a duration"),
    ("duration: 1s", "duration: 99999999999h", 10, "load.phases[0].duration", "out of range"),
    ("requests:\n  - name: root\n    path: /", "requests: []", 11, "requests", "at least one request"),
    ("    path: /", "    path: no-slash", 13, "requests[0].path", "must start with `/`"),
    ("    path: /", "    path: /a b", 13, "requests[0].path", "encode spaces as %20"),
    ("    path: /", "    path: /x/{{rand 0}}", 13, "requests[0].path", "whole number N >= 1"),
    ("    path: /", "    path: /x/{{seq", 13, "requests[0].path", "without a closing `}}`"),
    ("    path: /", "    path: /\n    method: FETCH FOO", 14, "requests[0].method", "not an HTTP method"),
    ("    path: /", "    path: /\n    weight: 0", 14, "requests[0].weight", "1 to 1000000"),
    ("    path: /", "    path: /\n    weight: heavy", 14, "requests[0].weight", "not a whole number"),
    ("    path: /", "    path: /\n    headers: [a, b]", 14, "requests[0].headers", "expected a mapping"),
    ("    path: /", "    path: /\n    headers: {\"bad header\": x}", 14, "requests[0].headers.bad header", "not a valid header name"),
    ("    path: /", "    path: /\nthresholds: {leak_per_request: 64 bytes}", 14, "thresholds.leak_per_request", "no spaces inside a value"),
    ("    path: /", "    path: /\nthresholds: {leak_per_request: -64B}", 14, "thresholds.leak_per_request", "negative values"),
    ("    path: /", "    path: /\nthresholds: {growth: 64ZB}", 14, "thresholds.growth", "is not a size"),
    ("    path: /", "    path: /\nthresholds: {error_rate: 200%}", 14, "thresholds.error_rate", "0% to 100%"),
    ("    path: /", "    path: /\nthresholds: {error_rate: 1}", 14, "thresholds.error_rate", "has no `%`"),
    ("    path: /", "    path: /\nthresholds: {p99: fast}", 14, "thresholds.p99", "is not a duration"),
    ("    path: /", "    path: /\nthresholds: {nope: 1}", 14, "thresholds", "unknown key `nope`"),
];

#[test]
fn every_wrong_field_is_named_with_its_line() {
    let mut failures = Vec::new();
    for (from, to, line, key, words) in WRONG_FIELDS {
        assert!(GOOD.contains(from), "the base has no {from:?}");
        let (out, _work) = validate(&GOOD.replacen(from, to, 1));
        let first = out.stderr.lines().next().unwrap_or("");
        let place = format!("scenario.yaml:{line}:");
        let ok = out.code == Some(2)
            && first.contains(&place)
            && first.contains(&format!(" {key}: "))
            && first.contains(words);
        if !ok {
            failures.push(format!(
                "{to:?}: expected exit 2 and `{place}... {key}: ...{words}...`, got {:?}: {first}",
                out.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn unknown_template_variable_is_named() {
    let (out, _work) = validate(&GOOD.replace("    path: /", "    path: /x/{{nope}}"));
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("scenario.yaml:13:")
            && out.stderr.contains("unknown template variable `{{nope}}`")
            && out.stderr.contains("known: {{seq}}, {{uuid}}, {{rand N}}"),
        "{}",
        out.output()
    );
}

#[test]
fn duplicate_request_names_are_refused() {
    let yaml = GOOD.replace("    path: /", "    path: /\n  - name: root\n    path: /b");
    let (out, _work) = validate(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("scenario.yaml:14:")
            && out
                .stderr
                .contains("request name `root` is already used by requests[0]"),
        "{}",
        out.output()
    );
}

/// Fuzz bug 6: a duplicate key, or a list or mapping used as a key, was reported at the start
/// of its mapping (1:1 at the top level). Each is refused at the key's own line and column,
/// naming the mapping and (for a duplicate) the key and its first line, with the fix.
/// `(replace, with, file:line:col, key path + message start)`.
#[rustfmt::skip]
const BAD_KEYS: &[(&str, &str, &str, &str)] = &[
    ("memory:", "name: again\nmemory:", "scenario.yaml:5:1:",
     " key `name` appears twice in the same mapping (first on line 1); a key may appear once: \
      delete one of them, or merge their values"),
    ("  timeout: 1s\n", "  timeout: 1s\n  timeout: 2s\n", "scenario.yaml:9:3:",
     " load: key `timeout` appears twice in the same mapping (first on line 8)"),
    ("{name: soak,", "{name: soak, name: x,", "scenario.yaml:10:20:",
     " load.phases[0]: key `name` appears twice in the same mapping (first on line 10)"),
    ("  timeout: 1s\n", "  timeout: 1s\n  [a, b]: 1\n", "scenario.yaml:9:3:",
     " load: a list (`[...]`) is used as a key; keys are plain text"),
    ("memory:", "? [a, b]\n: 1\nmemory:", "scenario.yaml:5:3:",
     " a list (`[...]`) is used as a key; keys are plain text"),
    ("  timeout: 1s\n", "  timeout: 1s\n  {a: 1}: 1\n", "scenario.yaml:9:3:",
     " load: a mapping (`{...}`) is used as a key; keys are plain text"),
];

#[test]
fn duplicate_and_list_keys_name_their_own_line() {
    for (from, to, place, message) in BAD_KEYS {
        let yaml = GOOD.replacen(from, to, 1);
        assert_ne!(yaml, GOOD, "{from:?} is not in the base scenario");
        let (out, _work) = rejected(&yaml);
        assert!(
            out.stderr.contains(&format!("{place}{message}")),
            "expected `{place}{message}`:\n{}",
            out.output()
        );
    }
}

#[test]
fn duplicate_keys_are_refused_by_validate() {
    let (out, _work) = validate(&GOOD.replace("name: bad-input", "name: a\nname: b"));
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains(
            "scenario.yaml:2:1: key `name` appears twice in the same mapping (first on line 1)"
        ),
        "{}",
        out.output()
    );
}

/// Nine levels of ten aliases each (10^9 values if expanded): refused at once, small.
#[test]
fn billion_laughs_is_refused_quickly() {
    let mut yaml = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        yaml.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    yaml.push_str(GOOD);
    let (out, _work) = validate(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("expands to more than 100000 values"),
        "{}",
        out.output()
    );
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
}

#[test]
fn file_over_1mib_is_refused_unread() {
    let big = format!("{GOOD}#{}\n", "x".repeat(2 * 1024 * 1024));
    let (out, _work) = validate(&big);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("the file is larger than 1MiB (2097")
            && out.stderr.contains("scenario.yaml"),
        "{}",
        out.output()
    );
}

/// An endless "file": only 1 MiB + 1 byte is read, then it is refused.
#[test]
fn endless_input_is_refused_quickly() {
    let out = leakhound(&args(["validate", "/dev/zero"]), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr
            .contains("/dev/zero: the file is larger than 1MiB"),
        "{}",
        out.output()
    );
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
}

/// An endless input has no size of its own (a device's metadata says 0): the message says it
/// did not end, rather than claiming a size.
#[test]
fn endless_input_message_does_not_claim_zero_bytes() {
    let out = leakhound(&args(["validate", "/dev/zero"]), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(!out.stderr.contains("(0 bytes)"), "{}", out.output());
    assert!(
        out.stderr
            .contains("larger than 1MiB (it did not end within the first 1MiB"),
        "{}",
        out.output()
    );
}

#[test]
fn a_named_pipe_nobody_writes_to_is_refused_not_waited_on() {
    let work = Workdir::new();
    let fifo = work.path().join("scenario.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    // Before: open() waited for a writer, for ever (LIMIT kills it and the test fails).
    let out = leakhound(&args(["validate", &fifo.display().to_string()]), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(out.stderr.contains("scenario.yaml"), "{}", out.output());
}

#[test]
fn non_utf8_file_is_refused() {
    let work = Workdir::new();
    let file = work.path().join("scenario.yaml");
    std::fs::write(&file, b"name: \xff\xfe bad\n").expect("write");
    let out = leakhound(&args(["validate", &file.display().to_string()]), LIMIT);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr
            .contains("scenario.yaml: the file is not UTF-8 text (invalid byte at offset 6)"),
        "{}",
        out.output()
    );
}

#[test]
fn yaml_tags_are_refused() {
    let (out, _work) = validate(&GOOD.replace("name: bad-input", "name: !custom x"));
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr
            .contains("scenario.yaml:1:7: name: YAML tags (`!name`) are not supported"),
        "{}",
        out.output()
    );
}

/// Nesting past 256 levels is refused before the YAML parser sees it, at the bracket that
/// passes the limit.
#[test]
fn deep_nesting_is_refused() {
    let depth = 2_000;
    let yaml = format!("name: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let (out, _work) = validate(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains(
            "scenario.yaml:1:263: lists and mappings (`[`, `{`) are nested more than 256 levels deep"
        ),
        "{}",
        out.output()
    );
}

/// 200,000 open brackets (400 KB, under the 1 MiB cap): the YAML scanner is quadratic in the
/// flow depth (release build: 20,000 levels 1.4 s, 40,000 levels 6 s), so without the depth
/// check before parsing this took minutes.
#[test]
fn very_deep_nesting_is_refused_quickly() {
    let depth = 200_000;
    let yaml = format!("name: {}{}\n", "[".repeat(depth), "]".repeat(depth));
    let (out, _work) = validate(&yaml);
    assert_eq!(out.code, Some(2), "{}", out.output());
    assert!(
        out.stderr.contains("nested more than 256 levels deep"),
        "{}",
        out.output()
    );
    assert!(out.elapsed < Duration::from_secs(5), "{}", out.output());
}
