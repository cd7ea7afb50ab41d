//! Heap snapshots at phase boundaries, and what grew between them.
//!
//! With the inspector source on, leakhound snapshots the V8 heap after warm-up (the end of the
//! first phase), mid-run, and at the end of the last load phase, into the run folder as
//! `heap-<label>.heapsnapshot`. After the run, [`diff`] compares them
//! ([`crate::inspect::diff_files`]): objects born between the first two snapshots and still
//! alive in the last, per 1,000 requests, with the chain that retains them.
//!
//! A snapshot pauses the target for its duration (an event says how long); a failed snapshot
//! or diff is an event, never a failed run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::inspector::SharedInspector;
use crate::inspect::{diff_files, DiffOptions, HeapGrowth, InspectError, SnapshotFileRef};
use crate::scenario::{Plan, SourcePlan};
use crate::units::format_size;

/// The snapshot points a scenario may name, in run order.
pub const SNAPSHOT_POINTS: &[&str] = &["after-warmup", "mid", "end"];

/// Longest a single snapshot may take before it is abandoned.
pub const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(90);

/// One planned snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub label: String,
    /// Seconds after the start of load.
    pub at_s: f64,
}

/// One snapshot taken (or tried).
#[derive(Debug)]
pub struct Taken {
    pub label: String,
    pub t_s: f64,
    /// Requests completed when the snapshot started.
    pub requests: u64,
    pub result: Result<(PathBuf, u64, Duration), InspectError>,
}

impl Taken {
    /// The event recording it: `heap_snapshot` (with its pause) or `heap_snapshot_failed`.
    pub fn event(&self) -> (&'static str, String) {
        match &self.result {
            Ok((path, bytes, took)) => (
                "heap_snapshot",
                format!(
                    "heap snapshot `{}` after {} requests: {} written to {} in {:.1} s (the \
                     target was paused meanwhile)",
                    self.label,
                    self.requests,
                    format_size(*bytes as f64),
                    file_name(path),
                    took.as_secs_f64()
                ),
            ),
            Err(e) => (
                "heap_snapshot_failed",
                format!("heap snapshot `{}` failed: {e}", self.label),
            ),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The snapshot file for `label` in the run folder.
pub fn snapshot_path(dir: &Path, label: &str) -> PathBuf {
    dir.join(format!("heap-{label}.heapsnapshot"))
}

/// When each snapshot the plan asks for is due, in seconds from the start of load:
/// after-warmup at the end of the first phase (a third of the load when there is one phase),
/// end at the end of the last phase that sends requests, mid halfway between.
pub fn schedule(plan: &Plan) -> Vec<Planned> {
    let Some(SourcePlan::Inspector { snapshots, .. }) = plan
        .memory
        .sources
        .iter()
        .find(|s| matches!(s, SourcePlan::Inspector { .. }))
    else {
        return Vec::new();
    };
    let phases = &plan.load.phases;
    let mut t = 0.0;
    let mut ends = Vec::with_capacity(phases.len());
    let mut load_end = 0.0;
    for p in phases {
        t += p.duration.as_secs_f64();
        ends.push(t);
        if !p.is_idle(plan.load.model) {
            load_end = t;
        }
    }
    let first_end = ends.first().copied().unwrap_or(0.0);
    let after = if phases.len() >= 2 && first_end < load_end - 1e-9 {
        first_end
    } else {
        load_end / 3.0
    };
    let at = |label: &str| match label {
        "after-warmup" => after,
        "mid" => (after + load_end) / 2.0,
        _ => load_end,
    };
    SNAPSHOT_POINTS
        .iter()
        .filter(|p| snapshots.iter().any(|s| s == *p))
        .map(|label| Planned {
            label: label.to_string(),
            at_s: at(label),
        })
        .collect()
}

/// Takes one snapshot into `path` (blocking: run it on the blocking pool). Waits for a sample
/// in progress to finish; the source skips its samples while this holds the session.
pub fn take(
    client: &SharedInspector,
    path: &Path,
) -> Result<(PathBuf, u64, Duration), InspectError> {
    let mut c = client.lock().unwrap_or_else(|p| p.into_inner());
    let f = c.take_heap_snapshot(path, SNAPSHOT_TIMEOUT)?;
    Ok((f.path, f.bytes, f.took))
}

/// Diffs the snapshots taken (first, second, last; the second is also the last when only two
/// were taken). None with fewer than two good snapshots. File names in the result are
/// relative to the run folder, so the folder can be moved.
pub fn diff(taken: &[Taken]) -> Option<Result<HeapGrowth, InspectError>> {
    let good: Vec<SnapshotFileRef> = taken
        .iter()
        .filter_map(|t| {
            let (path, _, _) = t.result.as_ref().ok()?;
            Some(SnapshotFileRef {
                label: t.label.clone(),
                requests: t.requests,
                t_s: Some(t.t_s),
                path: path.clone(),
            })
        })
        .collect();
    if good.len() < 2 {
        return None;
    }
    let (a, b, c) = (&good[0], &good[1], &good[good.len() - 1]);
    let result = diff_files(a, b, c, &DiffOptions::default()).map(|mut g| {
        for s in &mut g.snapshots {
            if let Some(f) = &s.file {
                s.file = Some(file_name(Path::new(f)));
            }
        }
        // Objects held only by Node's native handles (the HTTP parser of each open
        // connection) are connections, not program state: the load opens more of them while
        // a snapshot pauses the target, and keeps them alive.
        let before = g.growers.len();
        g.growers
            .retain(|x| !native_only(x.retainer_path.as_deref()));
        if g.growers.len() != before {
            g.below_noise += before - g.growers.len();
            g.summary = g.describe(&a.label, &b.label, &c.label);
        }
        g
    });
    Some(result)
}

/// A retainer path straight from V8's global handles (native code), e.g.
/// `(GC roots)[13] -> (Global handles)[149] -> HTTPParser`.
fn native_only(path: Option<&str>) -> bool {
    path.is_some_and(|p| {
        p.split(" -> ")
            .nth(1)
            .is_some_and(|hop| hop.starts_with("(Global handles)"))
            && p.split(" -> ")
                .nth(2)
                .is_some_and(|hop| hop.starts_with("HTTPParser"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{parse, Overrides};

    fn plan(phases: &str, snapshots: &str) -> Plan {
        let text = format!(
            "name: h\ntarget:\n  base_url: http://127.0.0.1:3000\n  command: [node, s.js]\n\
             memory:\n  sources: [{{inspector: {{snapshots: {snapshots}}}}}]\n\
             load:\n  phases:\n{phases}requests:\n  - path: /\n"
        );
        parse(&text, "s.yaml", Path::new("/"), &Overrides::default()).unwrap()
    }

    #[test]
    fn snapshots_fall_on_phase_boundaries() {
        let p = plan(
            "    - {name: warmup, duration: 10s, rate: 10}\n    - {name: soak, duration: 50s, rate: 10}\n    - {name: rest, duration: 20s, rate: 0}\n",
            "[after_warmup, mid, end]",
        );
        let s = schedule(&p);
        let at: Vec<(&str, f64)> = s.iter().map(|x| (x.label.as_str(), x.at_s)).collect();
        // The idle tail is not load: the end snapshot comes when the soak ends.
        assert_eq!(at, [("after-warmup", 10.0), ("mid", 35.0), ("end", 60.0)]);
        let one = plan(
            "    - {name: soak, duration: 30s, rate: 10}\n",
            "[end, mid]",
        );
        let s = schedule(&one);
        let at: Vec<(&str, f64)> = s.iter().map(|x| (x.label.as_str(), x.at_s)).collect();
        assert_eq!(at, [("mid", 20.0), ("end", 30.0)]);
        let none = plan("    - {name: soak, duration: 30s, rate: 10}\n", "[]");
        assert!(schedule(&none).is_empty());
    }

    #[test]
    fn fewer_than_two_snapshots_give_no_diff_and_failures_are_events() {
        let ok = Taken {
            label: "mid".into(),
            t_s: 3.0,
            requests: 1500,
            result: Ok((
                PathBuf::from("/r/heap-mid.heapsnapshot"),
                5 << 20,
                Duration::from_millis(400),
            )),
        };
        let (kind, detail) = ok.event();
        assert_eq!(kind, "heap_snapshot");
        let want = format!(
            "{} written to heap-mid.heapsnapshot in 0.4 s",
            format_size((5u64 << 20) as f64)
        );
        assert!(detail.contains(&want), "{detail}");
        let failed = Taken {
            label: "end".into(),
            t_s: 6.0,
            requests: 3000,
            result: Err(InspectError::Diff("gone".into())),
        };
        assert_eq!(failed.event().0, "heap_snapshot_failed");
        assert!(diff(&[ok, failed]).is_none());
        assert!(native_only(Some(
            "(GC roots)[13] -> (Global handles)[149] -> HTTPParser"
        )));
        assert!(native_only(Some(
            "(GC roots)[13] -> (Global handles)[391] -> HTTPParser.elements -> (array)"
        )));
        assert!(!native_only(Some(
            "(GC roots)[0] -> EventEmitter._events.changed -> Array[0] -> (closure).req -> IncomingMessage"
        )));
        assert!(!native_only(None));
    }
}
