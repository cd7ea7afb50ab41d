//! The run folder's write order: run.json first, summary.json last, and a failed write leaves
//! no file that states a verdict.

use std::io::ErrorKind;

use super::plots::synthetic::Synthetic;
use super::*;

fn record() -> RunRecord {
    Synthetic::default().record().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A writer like the real one that fails, as a full disk does, on the file named `bad`.
fn failing_on(bad: &'static str) -> impl FnMut(&Path, &[u8]) -> Result<(), WriteError> {
    move |path, bytes| {
        if path.file_name().is_some_and(|n| n == bad) {
            return Err(WriteError {
                path: path.to_path_buf(),
                source: std::io::Error::new(ErrorKind::StorageFull, "No space left on device"),
            });
        }
        write_atomic(path, bytes)
    }
}

#[test]
fn summary_json_is_written_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut order = Vec::new();
    write_folder_with(dir.path(), &record(), |path, bytes| {
        order.push(path.file_name().unwrap().to_string_lossy().into_owned());
        write_atomic(path, bytes)
    })
    .unwrap();
    // run.json is written before the writer is used at all; summary.json comes last.
    assert_eq!(order.last().map(String::as_str), Some("summary.json"));
    let html = order.iter().position(|n| n == "report.html").unwrap();
    let junit = order.iter().position(|n| n == "junit.xml").unwrap();
    assert!(order[..html]
        .iter()
        .all(|n| n.ends_with(".png") || n.ends_with(".svg")));
    assert!(html < junit, "{order:?}");
    let mut expected = order.clone();
    expected.push("run.json".to_string());
    expected.sort();
    assert_eq!(names(dir.path()), expected);
}

#[test]
fn a_failed_later_file_leaves_run_json_and_no_verdict() {
    for bad in ["latency.svg", "report.html", "junit.xml", "summary.json"] {
        let dir = tempfile::tempdir().unwrap();
        let err = write_folder_with(dir.path(), &record(), failing_on(bad)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("cannot write {}", dir.path().join(bad).display())),
            "{msg}"
        );
        assert!(msg.contains("No space left on device"), "{msg}");
        assert!(
            msg.contains(&format!("leakhound report {}", dir.path().display())),
            "{msg}"
        );
        // The measurements stay, and re-read; nothing that states the verdict does.
        assert_eq!(names(dir.path()), ["run.json"], "failing on {bad}");
        RunRecord::read(dir.path()).unwrap();
    }
}

#[test]
fn a_rerender_that_fails_removes_the_old_summary() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path(), &record()).unwrap();
    assert!(dir.path().join("summary.json").exists());
    write_folder_with(dir.path(), &record(), failing_on("summary.md")).unwrap_err();
    assert_eq!(names(dir.path()), ["run.json"]);
    // And a re-render that works writes everything again.
    let (_, summary) = write_folder(dir.path(), &record()).unwrap();
    let on_disk: Summary =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(on_disk, summary);
}

#[test]
fn a_failed_run_json_writes_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    // A folder where run.json should be: its write fails (rename onto a non-empty folder).
    std::fs::create_dir_all(dir.path().join("run.json").join("x")).unwrap();
    let err = write_folder(dir.path(), &record()).unwrap_err();
    assert!(matches!(err, ReportError::Write(_)), "{err}");
    assert!(err.to_string().contains("run.json"), "{err}");
    assert_eq!(names(dir.path()), ["run.json"]);
}
