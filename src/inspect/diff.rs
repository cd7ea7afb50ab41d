//! What grew: objects born between two heap snapshots that are still alive in a third.
//!
//! Snapshots A (after warm-up), B (mid-run) and C (end) come from one process, where V8 keeps
//! an object's node id for its whole life and gives new objects new ids. An object whose id is
//! in B but not in A was born in the A→B window; if its id is still in C it survived every
//! collection since (V8 collects garbage before each snapshot). Grouped by class and scaled by
//! the requests completed in A→B, that is the leak per 1,000 requests, by kind. Objects born in
//! B→C and alive in C are counted too: a real leak keeps adding them; a one-off allocation
//! after warm-up (compiled code, a lazily built table) does not, and is left out as noise.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::InspectError;
use super::retainers::{path_signature, Retainers};
use super::snapshot::HeapSnapshot;
use crate::units::{format_count, format_size, short_number};

/// One snapshot with the point of the run it was taken at.
pub struct SnapshotPoint<'a> {
    /// Phase boundary name: `after-warmup`, `mid`, `end`, or a phase name.
    pub label: String,
    /// Requests completed when the snapshot was taken.
    pub requests: u64,
    /// Seconds since the run started, when known.
    pub t_s: Option<f64>,
    pub snapshot: &'a HeapSnapshot,
    pub file: Option<PathBuf>,
}

/// Noise floor and output size of a diff.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiffOptions {
    /// At most this many growers are reported (largest bytes first).
    pub top: usize,
    /// A class is a grower only with at least this many survivors per 1,000 requests
    /// (default 5: one object per 200 requests).
    pub min_count_per_1k: f64,
    /// ... and at least this many bytes per 1,000 requests (default 1 KiB: 1 byte a request).
    pub min_bytes_per_1k: f64,
    /// ... and, when requests ran between B and C, objects born there still alive in C at
    /// least this share of the A→B rate (a leak keeps adding; a one-off does not).
    pub min_later_share: f64,
    /// Survivors whose retainer path is computed, per grower (the most common chain wins).
    pub path_samples: usize,
    /// Count V8's own objects (compiled code, object shapes, `system / ...`) as growers too.
    /// Off by default: the JIT keeps compiling for minutes after warm-up, and what a program
    /// leaks shows up as its own objects, strings, closures and arrays anyway.
    pub include_internal: bool,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            top: 10,
            min_count_per_1k: 5.0,
            min_bytes_per_1k: 1024.0,
            min_later_share: 0.25,
            path_samples: 200,
            include_internal: false,
        }
    }
}

/// The heap-growth section of summary.json (`heap_growth`) and report.html ("What grew").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeapGrowth {
    /// Classes above the noise floor, most bytes first.
    pub growers: Vec<Grower>,
    pub snapshots: Vec<SnapshotInfo>,
    /// Requests completed between the first two snapshots: the window objects are counted in.
    pub window_requests: u64,
    /// All objects born in the window and alive at the end, every class together.
    pub survivors_count: u64,
    pub survivors_bytes: u64,
    /// Classes with survivors that stayed below the noise floor.
    pub below_noise: usize,
    /// Survivors that are V8's own objects (compiled code, shapes, `system / ...`), per 1,000
    /// requests: left out of `growers` unless `options.include_internal`.
    pub internal_bytes_per_1k: f64,
    pub options: DiffOptions,
    /// One sentence for people: what survives, how much, and what holds it.
    pub summary: String,
}

/// One class of objects that survived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grower {
    /// DevTools' summary grouping: constructor name, `(closure)`, `(string)`, `(array)`, ...
    pub class: String,
    /// Born between the first two snapshots, alive in the last.
    pub count: u64,
    pub bytes: u64,
    pub count_per_1k: f64,
    pub bytes_per_1k: f64,
    /// Same rate for objects born between the last two snapshots (None without requests there).
    pub later_count_per_1k: Option<f64>,
    /// Shortest chain from the GC roots to a typical survivor, e.g.
    /// `EventEmitter._events.changed -> Array[291] -> (closure).req -> IncomingMessage`.
    pub retainer_path: Option<String>,
    /// Share of the sampled survivors held by that same chain (array slots aside).
    pub path_share: f64,
    /// Hops from the GC roots along that chain: the object the code holds directly is the
    /// shallowest of the growers.
    pub retainer_depth: Option<u32>,
}

/// A snapshot as listed in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub label: String,
    pub requests: u64,
    pub t_s: Option<f64>,
    pub nodes: u64,
    /// Sum of the objects' self sizes: the live V8 heap the snapshot saw.
    pub heap_bytes: u64,
    pub file: Option<String>,
}

impl SnapshotInfo {
    fn of(p: &SnapshotPoint) -> SnapshotInfo {
        SnapshotInfo {
            label: p.label.clone(),
            requests: p.requests,
            t_s: p.t_s,
            nodes: p.snapshot.node_count() as u64,
            heap_bytes: p.snapshot.total_self_size(),
            file: p.file.as_ref().map(|f| f.display().to_string()),
        }
    }
}

#[derive(Default)]
struct ClassTally {
    count: u64,
    bytes: u64,
    later: u64,
    nodes: Vec<usize>,
}

/// V8's own bookkeeping rather than the program's objects.
fn is_internal(class: &str) -> bool {
    matches!(class, "(compiled code)" | "(object shape)" | "(system)")
        || class.starts_with("system / ")
}

fn contains(sorted: &[u64], id: u64) -> bool {
    sorted.binary_search(&id).is_ok()
}

/// Diffs three snapshots of one process (B and C may be the same snapshot when only two
/// were taken; the later-window check is then skipped).
pub fn diff(
    a: &SnapshotPoint,
    b: &SnapshotPoint,
    c: &SnapshotPoint,
    opts: &DiffOptions,
) -> Result<HeapGrowth, InspectError> {
    let same_bc = std::ptr::eq(b.snapshot, c.snapshot);
    let b_ids = (!same_bc).then(|| b.snapshot.sorted_ids());
    diff_core(
        (&SnapshotInfo::of(a), &a.snapshot.sorted_ids()),
        (&SnapshotInfo::of(b), b_ids.as_deref()),
        (&SnapshotInfo::of(c), c.snapshot),
        opts,
    )
}

/// A snapshot file and the point of the run it was taken at.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFileRef {
    pub label: String,
    pub requests: u64,
    pub t_s: Option<f64>,
    pub path: PathBuf,
}

/// [`diff`] from files, holding one parsed snapshot at a time: A and B are reduced to their
/// sorted node ids before the next one is read; only C stays whole. Pass the same path for B
/// and C when only two snapshots were taken.
pub fn diff_files(
    a: &SnapshotFileRef,
    b: &SnapshotFileRef,
    c: &SnapshotFileRef,
    opts: &DiffOptions,
) -> Result<HeapGrowth, InspectError> {
    let load = |r: &SnapshotFileRef| -> Result<(SnapshotInfo, HeapSnapshot), InspectError> {
        let s = HeapSnapshot::from_file(&r.path)?;
        let point = SnapshotPoint {
            label: r.label.clone(),
            requests: r.requests,
            t_s: r.t_s,
            snapshot: &s,
            file: Some(r.path.clone()),
        };
        Ok((SnapshotInfo::of(&point), s))
    };
    let ids_only = |r: &SnapshotFileRef| -> Result<(SnapshotInfo, Vec<u64>), InspectError> {
        let (info, s) = load(r)?;
        Ok((info, s.sorted_ids()))
    };
    let (a_info, a_ids) = ids_only(a)?;
    let same_bc = b.path == c.path;
    let (b_info, b_ids) = if same_bc {
        (None, None)
    } else {
        let (info, ids) = ids_only(b)?;
        (Some(info), Some(ids))
    };
    let (c_info, cs) = load(c)?;
    let b_info = b_info.unwrap_or_else(|| SnapshotInfo {
        label: b.label.clone(),
        requests: b.requests,
        t_s: b.t_s,
        ..c_info.clone()
    });
    diff_core(
        (&a_info, &a_ids),
        (&b_info, b_ids.as_deref()),
        (&c_info, &cs),
        opts,
    )
}

/// The diff proper. `b.1` is None when B is C.
fn diff_core(
    a: (&SnapshotInfo, &[u64]),
    b: (&SnapshotInfo, Option<&[u64]>),
    c: (&SnapshotInfo, &HeapSnapshot),
    opts: &DiffOptions,
) -> Result<HeapGrowth, InspectError> {
    let (a, a_ids) = a;
    let (b, b_ids) = b;
    let (c, cs) = c;
    if b.requests <= a.requests || c.requests < b.requests {
        return Err(InspectError::Diff(format!(
            "snapshots must be taken in order with requests between the first two \
             ({}: {}, {}: {}, {}: {} requests)",
            a.label, a.requests, b.label, b.requests, c.label, c.requests
        )));
    }
    let window = b.requests - a.requests;
    let later_window = c.requests - b.requests;
    let same_bc = b_ids.is_none();

    let mut classes: HashMap<String, ClassTally> = HashMap::new();
    let (mut survivors_count, mut survivors_bytes) = (0u64, 0u64);
    for i in 0..cs.node_count() {
        let id = cs.node_id(i);
        let in_b = b_ids.is_none_or(|ids| contains(ids, id));
        let born_ab = in_b && !contains(a_ids, id);
        let born_bc = !in_b;
        if !born_ab && !born_bc {
            continue;
        }
        let tally = classes.entry(cs.class_name(i)).or_default();
        if born_ab {
            tally.count += 1;
            tally.bytes += cs.self_size(i);
            tally.nodes.push(i);
            survivors_count += 1;
            survivors_bytes += cs.self_size(i);
        } else {
            tally.later += 1;
        }
    }

    let per_1k = |n: u64, w: u64| n as f64 * 1000.0 / w as f64;
    let mut candidates: Vec<(String, ClassTally)> = Vec::new();
    let mut below_noise = 0;
    let mut internal_bytes = 0u64;
    for (class, t) in classes {
        if t.count == 0 {
            continue;
        }
        if !opts.include_internal && is_internal(&class) {
            internal_bytes += t.bytes;
            continue;
        }
        let count_1k = per_1k(t.count, window);
        let keeps_growing = same_bc
            || later_window == 0
            || per_1k(t.later, later_window) >= opts.min_later_share * count_1k;
        if count_1k >= opts.min_count_per_1k
            && per_1k(t.bytes, window) >= opts.min_bytes_per_1k
            && keeps_growing
        {
            candidates.push((class, t));
        } else {
            below_noise += 1;
        }
    }
    candidates.sort_by(|x, y| y.1.bytes.cmp(&x.1.bytes).then(x.0.cmp(&y.0)));
    below_noise += candidates.len().saturating_sub(opts.top);
    candidates.truncate(opts.top);

    let retainers = (!candidates.is_empty()).then(|| Retainers::new(cs));
    let growers: Vec<Grower> = candidates
        .into_iter()
        .map(|(class, t)| {
            let (retainer_path, path_share, retainer_depth) = match &retainers {
                Some(r) => common_path(cs, r, &t.nodes, opts.path_samples),
                None => (None, 0.0, None),
            };
            Grower {
                count_per_1k: per_1k(t.count, window),
                bytes_per_1k: per_1k(t.bytes, window),
                later_count_per_1k: (!same_bc && later_window > 0)
                    .then(|| per_1k(t.later, later_window)),
                class,
                count: t.count,
                bytes: t.bytes,
                retainer_path,
                path_share,
                retainer_depth,
            }
        })
        .collect();

    let mut growth = HeapGrowth {
        growers,
        snapshots: if same_bc {
            vec![a.clone(), b.clone()]
        } else {
            vec![a.clone(), b.clone(), c.clone()]
        },
        window_requests: window,
        survivors_count,
        survivors_bytes,
        below_noise,
        internal_bytes_per_1k: per_1k(internal_bytes, window),
        options: *opts,
        summary: String::new(),
    };
    growth.summary = growth.describe(&a.label, &b.label, &c.label);
    Ok(growth)
}

/// The most common retainer chain among up to `samples` survivors (spread evenly), rendered
/// from its first member, and the share of the sample it holds.
fn common_path(
    s: &HeapSnapshot,
    r: &Retainers,
    nodes: &[usize],
    samples: usize,
) -> (Option<String>, f64, Option<u32>) {
    let step = (nodes.len() / samples.max(1)).max(1);
    let mut seen: HashMap<String, (usize, usize, String, Option<u32>)> = HashMap::new();
    let mut sampled = 0usize;
    for (order, &n) in nodes.iter().step_by(step).take(samples.max(1)).enumerate() {
        sampled += 1;
        if let Some(path) = r.render(s, n) {
            let e = seen
                .entry(path_signature(&path))
                .or_insert((0, order, path, r.distance(n)));
            e.0 += 1;
        }
    }
    // Most members first; among ties, the chain met first.
    match seen
        .into_values()
        .max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)))
    {
        Some((count, _, path, depth)) => (Some(path), count as f64 / sampled.max(1) as f64, depth),
        None => (None, 0.0, None),
    }
}

impl HeapGrowth {
    /// The sentence for people: which objects survive GC, how many per 1,000 requests, and
    /// the chain that holds them.
    pub(crate) fn describe(&self, a: &str, b: &str, c: &str) -> String {
        let Some(top) = self.growers.first() else {
            return format!(
                "No class of objects born between the {a} and {b} snapshots ({} requests) \
                 grew above the noise floor ({} objects or {} per 1,000 requests) by the {c} \
                 snapshot.",
                format_count(self.window_requests as f64),
                short_number(self.options.min_count_per_1k),
                format_size(self.options.min_bytes_per_1k),
            );
        };
        let listed: Vec<String> = self
            .growers
            .iter()
            .take(5)
            .map(|g| {
                format!(
                    "{} {} ({})",
                    count_text(g.count_per_1k),
                    g.class,
                    format_size(g.bytes_per_1k)
                )
            })
            .collect();
        let total: f64 = self.growers.iter().map(|g| g.bytes_per_1k).sum();
        let mut s = format!(
            "Objects that survive GC, per 1,000 requests: {}; {} per 1,000 requests in all \
             (born between the {a} and {b} snapshots, {} requests, still alive at the {c} \
             snapshot).",
            listed.join(", "),
            format_size(total),
            format_count(self.window_requests as f64),
        );
        let headline = self.headline().unwrap_or(top);
        if let Some(path) = &headline.retainer_path {
            s.push_str(&format!(" {} is retained by {path}.", headline.class));
        }
        s
    }

    /// The grower whose chain is worth showing first: among those with a constructor name
    /// (not `(string)`, `(closure)` or V8's own objects), the one nearest the GC roots: the
    /// object the leaking code holds directly (the rest hang off it). Ties: more bytes.
    pub fn headline(&self) -> Option<&Grower> {
        self.growers
            .iter()
            .filter(|g| !g.class.starts_with('(') && !g.class.starts_with("system / "))
            .min_by_key(|g| g.retainer_depth.unwrap_or(u32::MAX))
            .or(self.growers.first())
    }
}

/// `1,000`, `5.5`, `0.25`: counts per 1,000 requests.
fn count_text(v: f64) -> String {
    if v >= 1000.0 {
        format_count(v)
    } else {
        short_number(v)
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::tests::synthetic;
    use super::*;

    fn snap(ids: &[u64; 9], leak: bool) -> HeapSnapshot {
        HeapSnapshot::from_slice(synthetic(ids, leak).as_bytes(), "t").unwrap()
    }

    fn point<'a>(label: &str, requests: u64, s: &'a HeapSnapshot) -> SnapshotPoint<'a> {
        SnapshotPoint {
            label: label.into(),
            requests,
            t_s: None,
            snapshot: s,
            file: None,
        }
    }

    #[test]
    fn objects_born_in_the_window_and_alive_at_the_end_are_growers() {
        // A: nothing leaked yet (closure/context/request ids absent).
        let a = snap(&[1, 3, 5, 7, 9, 101, 103, 105, 17], false);
        // B (also the end): a closure, its context and the request, born after A; the string
        // (id 17) and the emitter chain are old.
        let b = snap(&[1, 3, 5, 7, 9, 111, 113, 115, 17], true);
        let opts = DiffOptions {
            min_count_per_1k: 0.5,
            min_bytes_per_1k: 10.0,
            ..DiffOptions::default()
        };
        let g = diff(
            &point("after-warmup", 1000, &a),
            &point("end", 2000, &b),
            &point("end", 2000, &b),
            &opts,
        )
        .unwrap();
        // Born after A and alive in C: closure (56 B), Context (48 B), IncomingMessage (200 B).
        let classes: Vec<&str> = g.growers.iter().map(|x| x.class.as_str()).collect();
        // The closure's scope is V8's own object: counted apart, not a grower.
        assert_eq!(classes, ["IncomingMessage", "(closure)"]);
        assert!((g.internal_bytes_per_1k - 48.0).abs() < 1e-9);
        assert_eq!(g.survivors_count, 3);
        assert_eq!(g.survivors_bytes, 304);
        let im = &g.growers[0];
        assert_eq!((im.count, im.bytes), (1, 200));
        assert!((im.count_per_1k - 1.0).abs() < 1e-9);
        assert_eq!(
            im.retainer_path.as_deref(),
            Some("(GC roots)[0] -> Emitter._events.changed -> Array[0] -> (closure).req -> IncomingMessage")
        );
        assert_eq!(im.path_share, 1.0);
        assert_eq!(im.retainer_depth, Some(7));
        assert_eq!(
            g.headline().map(|h| h.class.as_str()),
            Some("IncomingMessage")
        );
        assert_eq!(im.later_count_per_1k, None);
        assert!(g.summary.contains("IncomingMessage"), "{}", g.summary);
        assert!(g.summary.contains("retained by"), "{}", g.summary);
    }

    #[test]
    fn a_one_off_allocation_is_noise_and_a_steady_one_is_not() {
        let a = snap(&[1, 3, 5, 7, 9, 101, 103, 105, 17], true);
        let b = snap(&[1, 3, 5, 7, 9, 111, 113, 115, 17], true);
        let opts = DiffOptions {
            min_count_per_1k: 0.5,
            min_bytes_per_1k: 10.0,
            ..DiffOptions::default()
        };
        // C equal to B (no objects born in B→C) with requests in B→C: nothing keeps growing.
        let c = snap(&[1, 3, 5, 7, 9, 111, 113, 115, 17], true);
        let g = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("c", 2000, &c),
            &opts,
        )
        .unwrap();
        assert!(g.growers.is_empty(), "{:?}", g.growers);
        assert_eq!(g.below_noise, 2);
        assert!(g.summary.starts_with("No class"), "{}", g.summary);
        // Without the later-window check the same objects count.
        let no_check = DiffOptions {
            min_later_share: 0.0,
            ..opts
        };
        let g1 = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("c", 2000, &c),
            &no_check,
        )
        .unwrap();
        assert_eq!(g1.growers.len(), 2);
        assert_eq!(g1.growers[0].later_count_per_1k, Some(0.0));
        // Only two snapshots (B is the end): growth in A→B counts.
        let g2 = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("b", 1000, &b),
            &opts,
        )
        .unwrap();
        assert_eq!(g2.growers.len(), 2);
        let with_internal = DiffOptions {
            include_internal: true,
            ..opts
        };
        let g4 = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("b", 1000, &b),
            &with_internal,
        )
        .unwrap();
        assert_eq!(g4.growers.len(), 3);
        assert_eq!(g2.snapshots.len(), 2);
        // A high floor hides them again.
        let strict = DiffOptions {
            min_count_per_1k: 5.0,
            ..opts
        };
        let g3 = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("b", 1000, &b),
            &strict,
        )
        .unwrap();
        assert!(g3.growers.is_empty());
    }

    #[test]
    fn diffing_files_matches_diffing_parsed_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, ids: &[u64; 9]| {
            let path = dir.path().join(name);
            std::fs::write(&path, synthetic(ids, true)).unwrap();
            path
        };
        let pa = write("a.heapsnapshot", &[1, 3, 5, 7, 9, 101, 103, 105, 17]);
        let pb = write("b.heapsnapshot", &[1, 3, 5, 7, 9, 111, 113, 115, 17]);
        let r = |label: &str, requests, path: &PathBuf| SnapshotFileRef {
            label: label.into(),
            requests,
            t_s: Some(1.0),
            path: path.clone(),
        };
        let opts = DiffOptions {
            min_count_per_1k: 0.5,
            min_bytes_per_1k: 10.0,
            ..DiffOptions::default()
        };
        let from_files = diff_files(
            &r("a", 0, &pa),
            &r("b", 1000, &pb),
            &r("b", 1000, &pb),
            &opts,
        )
        .unwrap();
        let (a, b) = (
            snap(&[1, 3, 5, 7, 9, 101, 103, 105, 17], true),
            snap(&[1, 3, 5, 7, 9, 111, 113, 115, 17], true),
        );
        let parsed = diff(
            &point("a", 0, &a),
            &point("b", 1000, &b),
            &point("b", 1000, &b),
            &opts,
        )
        .unwrap();
        assert_eq!(from_files.growers, parsed.growers);
        assert_eq!(from_files.snapshots.len(), 2);
        assert_eq!(from_files.snapshots[1].heap_bytes, b.total_self_size());
        let missing = dir.path().join("none.heapsnapshot");
        assert!(diff_files(
            &r("a", 0, &missing),
            &r("b", 1000, &pb),
            &r("b", 1000, &pb),
            &opts
        )
        .is_err());
    }

    #[test]
    fn snapshots_out_of_order_are_an_error() {
        let a = snap(&[1, 3, 5, 7, 9, 101, 103, 105, 17], true);
        let r = diff(
            &point("a", 100, &a),
            &point("b", 100, &a),
            &point("c", 200, &a),
            &DiffOptions::default(),
        );
        assert!(r.is_err());
    }
}
