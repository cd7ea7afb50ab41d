//! "What grew": the heap-snapshot diff of the inspector source, as report.html's section and
//! summary.md's line. The snapshots stay in the run folder (they are tens of MiB); the page
//! lists them with their size and never embeds them.

use std::path::Path;

use serde::Serialize;

use crate::inspect::HeapGrowth;
use crate::units::{format_count, format_size};

/// The "What grew" section of report.html.
#[derive(Debug, Serialize)]
pub(crate) struct HeapView {
    pub summary: String,
    pub rows: Vec<GrowerRow>,
    pub snapshots: Vec<SnapshotRow>,
}

#[derive(Debug, Serialize)]
pub(crate) struct GrowerRow {
    pub class: String,
    pub count_per_1k: String,
    pub bytes_per_1k: String,
    pub retainer_path: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SnapshotRow {
    pub label: String,
    pub requests: String,
    pub heap: String,
    pub file: String,
    /// Size on disk, when the file is still in the folder.
    pub size: String,
}

impl HeapView {
    /// The view of `g`; `dir` is the run folder, where the snapshot files are looked up.
    pub fn build(dir: &Path, g: &HeapGrowth) -> HeapView {
        let rows = g
            .growers
            .iter()
            .map(|r| GrowerRow {
                class: r.class.clone(),
                count_per_1k: count(r.count_per_1k),
                bytes_per_1k: format_size(r.bytes_per_1k),
                retainer_path: r.retainer_path.clone().unwrap_or_else(|| "-".into()),
            })
            .collect();
        let snapshots = g
            .snapshots
            .iter()
            .map(|s| {
                let file = s.file.clone().unwrap_or_default();
                let size = std::fs::metadata(dir.join(&file))
                    .map(|m| format_size(m.len() as f64))
                    .unwrap_or_else(|_| "not in the folder".into());
                SnapshotRow {
                    label: s.label.clone(),
                    requests: format_count(s.requests as f64),
                    heap: format_size(s.heap_bytes as f64),
                    file,
                    size,
                }
            })
            .collect();
        HeapView {
            summary: g.summary.clone(),
            rows,
            snapshots,
        }
    }
}

/// `1,000` or `5.5`: objects per 1,000 requests.
fn count(v: f64) -> String {
    if v >= 100.0 {
        format_count(v.round())
    } else {
        format!("{v:.1}")
    }
}

/// summary.md's one line.
pub(crate) fn markdown_line(g: &HeapGrowth) -> String {
    format!(
        "**What grew** (heap snapshots, `heap-*.heapsnapshot`): {}",
        g.summary
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::{DiffOptions, Grower, SnapshotInfo};

    #[test]
    fn growers_and_snapshot_files_become_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("heap-mid.heapsnapshot"), vec![b'x'; 2048]).unwrap();
        let snap = |label: &str, file: &str| SnapshotInfo {
            label: label.into(),
            requests: 1500,
            t_s: Some(3.0),
            nodes: 10,
            heap_bytes: 3 << 20,
            file: Some(file.into()),
        };
        let g = HeapGrowth {
            growers: vec![Grower {
                class: "IncomingMessage".into(),
                count: 1000,
                bytes: 240_000,
                count_per_1k: 998.4,
                bytes_per_1k: 240_000.0,
                later_count_per_1k: Some(1001.0),
                retainer_path: Some(
                    "EventEmitter._events.changed -> Array[3] -> (closure).req -> IncomingMessage"
                        .into(),
                ),
                path_share: 1.0,
                retainer_depth: Some(7),
            }],
            snapshots: vec![
                snap("after-warmup", "heap-after-warmup.heapsnapshot"),
                snap("mid", "heap-mid.heapsnapshot"),
            ],
            window_requests: 1000,
            survivors_count: 1000,
            survivors_bytes: 240_000,
            below_noise: 3,
            internal_bytes_per_1k: 0.0,
            options: DiffOptions::default(),
            summary: "IncomingMessage is retained by ...".into(),
        };
        let v = HeapView::build(dir.path(), &g);
        assert_eq!(v.rows[0].count_per_1k, "998");
        assert_eq!(v.rows[0].bytes_per_1k, format_size(240_000.0));
        assert!(v.rows[0].retainer_path.contains("_events"));
        assert_eq!(v.snapshots[0].size, "not in the folder");
        assert_eq!(v.snapshots[1].size, format_size(2048.0));
        assert!(markdown_line(&g).contains("IncomingMessage is retained by"));
    }
}
