//! Reports people look at: the files of a run folder (report.html, plots, junit.xml,
//! summary.md), `leakhound report` re-rendering them, and `leakhound compare`.
//!
//! The fast tests build synthetic run folders with the library (no load, no node); the
//! `soak_` test runs the listener-leak scenario and its fixed twin for real (~40 s, under the
//! soak lock) and checks that compare calls it `fixed`.

use std::path::Path;
use std::time::Duration;

use leakhound::report::plots::synthetic::Synthetic;
use serde_json::Value;

use crate::util::{
    args, assert_target_stopped, free_port, leakhound, port_overrides, read_json, scenario,
    soak_lock, Outcome, Workdir,
};

const FAST_LIMIT: Duration = Duration::from_secs(60);
const SOAK_LIMIT: Duration = Duration::from_secs(90);

/// (width, height) of a PNG file, decoding every pixel.
fn png_size(path: &Path) -> (u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    (info.width, info.height)
}

/// Element names of an XML document in order (parsing it whole: panics if malformed).
fn xml_elements(text: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut names = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok(Event::Eof) => return names,
            Ok(_) => {}
            Err(e) => panic!("malformed XML at {}: {e}", reader.buffer_position()),
        }
    }
}

/// Anything a browser could fetch, or a URL that is not loopback.
fn external_refs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase().replace("&#x2f;", "/");
    let mut found: Vec<String> = [
        "<script", "<link", "<img", "<iframe", "@import", "url(", " src=", " href=",
    ]
    .iter()
    .filter(|n| lower.contains(*n))
    .map(|n| n.to_string())
    .collect();
    for (i, _) in lower.match_indices("://") {
        let rest = &lower[i..];
        if !["://127.0.0.1", "://localhost", "://[::1]"]
            .iter()
            .any(|h| rest.starts_with(h))
        {
            found.push(lower[i.saturating_sub(8)..(i + 30).min(lower.len())].to_string());
        }
    }
    found
}

/// Checks every report file of a run folder against its summary.json.
fn check_folder(dir: &Path, ctx: &Outcome) -> Value {
    let summary = read_json(&dir.join("summary.json"), ctx);
    for (stem, size) in [
        ("memory-vs-requests", Some((1200, 600))),
        ("memory-vs-time", Some((1200, 600))),
        ("latency", None),
        ("throughput", Some((1200, 450))),
    ] {
        let (w, h) = png_size(&dir.join(format!("{stem}.png")));
        if let Some(want) = size {
            assert_eq!((w, h), want, "{stem}.png");
        }
        let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).unwrap();
        let els = xml_elements(&svg);
        assert_eq!(els.first().map(String::as_str), Some("svg"), "{stem}.svg");
        assert!(
            svg.starts_with(&format!(r#"<svg width="{w}" height="{h}""#)),
            "{stem}.svg size matches the PNG"
        );
    }

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(
        external_refs(&html),
        Vec::<String>::new(),
        "report.html must be self-contained"
    );
    assert_eq!(html.matches("<svg ").count(), 4, "four inline plots");
    let verdict = summary["leak"]["verdict"].as_str().unwrap();
    assert!(
        html.contains(&format!(r#"class="banner {verdict}""#)),
        "verdict banner {verdict}"
    );
    for e in summary["endpoints"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(
            html.contains(&format!("<td>{name}</td>")),
            "endpoint {name} in the table"
        );
    }

    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let els = xml_elements(&junit);
    let thresholds = summary["thresholds"].as_array().unwrap();
    let failed = thresholds.iter().filter(|t| t["passed"] == false).count();
    assert_eq!(
        els.iter().filter(|e| *e == "testcase").count(),
        thresholds.len(),
        "{junit}"
    );
    assert_eq!(
        els.iter().filter(|e| *e == "failure").count(),
        failed,
        "{junit}"
    );

    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("](memory-vs-requests.png)"), "{md}");
    summary
}

/// Writes a synthetic run folder (the library's generator) at `dir`.
fn synthetic(dir: &Path, name: &str, leak: f64) {
    std::fs::create_dir_all(dir).unwrap();
    let record = Synthetic {
        name: name.into(),
        leak_bytes_per_request: leak,
        event: true,
        ..Synthetic::default()
    }
    .record()
    .unwrap();
    leakhound::report::write_folder(dir, &record).unwrap();
}

#[test]
fn report_rerenders_every_file_of_a_folder() {
    let work = Workdir::new();
    let dir = work.out();
    synthetic(&dir, "checkout", 1024.0);
    for f in [
        "report.html",
        "junit.xml",
        "memory-vs-requests.png",
        "latency.svg",
    ] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let out = leakhound(&args(["report", dir.to_str().unwrap()]), FAST_LIMIT);
    assert_eq!(
        out.code,
        Some(1),
        "the run's own exit code (a leak fails)\n{}",
        out.output()
    );
    let summary = check_folder(&dir, &out);
    assert_eq!(summary["leak"]["verdict"], "leak");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("Memory grows with requests"), "headline");
}

#[test]
fn compare_of_two_scenarios_warns_and_fails_on_a_leak_still_there() {
    let work = Workdir::new();
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    synthetic(&a, "checkout", 1024.0);
    synthetic(&b, "search", 1024.0);
    let cmp = work.path().join("cmp");
    let out = leakhound(
        &args([
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ]),
        FAST_LIMIT,
    );
    assert_eq!(out.code, Some(1), "{}", out.output());
    assert!(
        out.stdout.contains("different scenarios"),
        "{}",
        out.output()
    );
    let json = read_json(&cmp.join("compare.json"), &out);
    assert_eq!(json["verdict"], "unchanged");
    // A folder that is not a run is bad usage (exit 2) and says which.
    let bad = leakhound(
        &args([
            "compare",
            work.path().to_str().unwrap(),
            b.to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ]),
        FAST_LIMIT,
    );
    assert_eq!(bad.code, Some(2), "{}", bad.output());
    assert!(bad.stderr.contains("run.json"), "{}", bad.output());
}

/// Runs scenarios/listener-leak.yaml (optionally with its fixed twin) into `dir`.
fn listener_run(work: &Workdir, dir: &Path, fixed: bool) -> Outcome {
    let port = free_port();
    let mut argv = args([
        "run",
        scenario("listener-leak.yaml").to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
        "--no-progress",
    ]);
    // Latency on a shared 2-core machine is not what is under test here.
    argv.extend(args(["--set", "thresholds.p99=5s"]));
    argv.extend(port_overrides(port, work));
    if fixed {
        argv.extend(args([
            "--set",
            "target.command.1=../tests/targets/listener-fixed.js",
        ]));
    }
    let out = leakhound(&argv, SOAK_LIMIT);
    assert_target_stopped(work);
    out
}

// Once flaky: the analysis split the fixed twin's flat memory at a 0.35 MiB RSS step and
// judged only the last third ("cannot tell"), so compare said `improved`. Segments within a
// heap step of each other are now judged together.
#[test]
fn soak_listener_leak_then_fix_compares_fixed() {
    let _guard = soak_lock();
    let work = Workdir::new();
    let (before, after) = (work.path().join("before"), work.path().join("after"));
    let b = listener_run(&work, &before, false);
    assert_eq!(b.code, Some(1), "the leak fails\n{}", b.output());
    let sb = check_folder(&before, &b);
    assert_eq!(sb["leak"]["verdict"], "leak", "{sb:#}");
    let html = std::fs::read_to_string(before.join("report.html")).unwrap();
    assert!(html.contains("Memory grows with requests"), "headline");
    assert!(html.contains("<td>process</td>"), "the endpoint");

    let a = listener_run(&work, &after, true);
    assert_eq!(a.code, Some(0), "the fix passes\n{}", a.output());
    check_folder(&after, &a);

    let cmp = work.path().join("cmp");
    let c = leakhound(
        &args([
            "compare",
            before.to_str().unwrap(),
            after.to_str().unwrap(),
            "--out",
            cmp.to_str().unwrap(),
        ]),
        FAST_LIMIT,
    );
    assert_eq!(c.code, Some(0), "{}", c.output());
    assert!(c.stdout.contains("FIXED"), "{}", c.output());
    let json = read_json(&cmp.join("compare.json"), &c);
    assert_eq!(json["verdict"], "fixed", "{json:#}");
    let page = std::fs::read_to_string(cmp.join("compare.html")).unwrap();
    assert_eq!(external_refs(&page), Vec::<String>::new());
    assert_eq!(png_size(&cmp.join("compare-memory.png")), (1200, 600));
}
