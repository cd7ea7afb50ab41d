//! Compare tests on synthetic run folders: a leaking run against its fixed twin.

use super::*;
use crate::report::plots::synthetic::Synthetic;

/// Writes a synthetic run folder into `parent/name` and returns its path.
fn folder(parent: &Path, name: &str, scenario: &str, leak: f64) -> PathBuf {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let record = Synthetic {
        name: scenario.into(),
        leak_bytes_per_request: leak,
        ..Synthetic::default()
    }
    .record()
    .unwrap();
    crate::report::write_folder(&dir, &record).unwrap();
    dir
}

#[test]
fn leak_then_fix_is_fixed_and_written_out() {
    let tmp = tempfile::tempdir().unwrap();
    let before = folder(tmp.path(), "before", "listener", 2048.0);
    let after = folder(tmp.path(), "after", "listener", 0.0);
    let out = tmp.path().join("cmp");
    let c = compare(&before, &after, &out).unwrap();
    assert_eq!(c.verdict, CompareVerdict::Fixed, "{}", c.reason);
    assert_eq!(c.exit_code, 0);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(
        c.before.bytes_per_request.low > 1500.0,
        "{:?}",
        c.before.bytes_per_request
    );

    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert_eq!(
        crate::report::html::tests::external_refs(&html),
        Vec::<String>::new()
    );
    assert!(html.contains("Fixed: the leak is gone"));
    assert_eq!(html.matches("<svg ").count(), 2);
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        md.contains("FIXED") && md.contains("](compare-memory.png)"),
        "{md}"
    );
    let json: Comparison =
        serde_json::from_slice(&std::fs::read(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json, c);
    for f in [
        "compare-memory.png",
        "compare-memory.svg",
        "compare-latency.png",
        "compare-latency.svg",
    ] {
        assert!(std::fs::metadata(out.join(f)).unwrap().len() > 1000, "{f}");
    }

    // The other way round it is a regression, and it fails.
    let r = compare(&after, &before, &tmp.path().join("cmp2")).unwrap();
    assert_eq!(
        (r.verdict, r.exit_code),
        (CompareVerdict::Regressed, 1),
        "{}",
        r.reason
    );
}

#[test]
fn different_scenarios_are_compared_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let a = folder(tmp.path(), "a", "checkout", 2048.0);
    let b = folder(tmp.path(), "b", "search", 2048.0);
    let c = compare(&a, &b, &tmp.path().join("cmp")).unwrap();
    assert_eq!(c.verdict, CompareVerdict::Unchanged, "{}", c.reason);
    assert_eq!(c.exit_code, 1, "the leak is still there");
    assert!(
        c.warnings.iter().any(|w| w.contains("different scenarios")),
        "{:?}",
        c.warnings
    );
    let html = std::fs::read_to_string(tmp.path().join("cmp").join("compare.html")).unwrap();
    assert!(html.contains("Warning:") && html.contains("still there"));
    let text = text(&c, &tmp.path().join("cmp"), false);
    assert!(
        text.contains("UNCHANGED") && text.contains("warning"),
        "{text}"
    );
}

#[test]
fn a_folder_without_run_json_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let good = folder(tmp.path(), "good", "x", 0.0);
    let err = compare(&tmp.path().join("missing"), &good, &tmp.path().join("cmp")).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}
