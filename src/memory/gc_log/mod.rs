//! The `gc_log` source: the target runtime's own GC trace, read as it is written.
//!
//! RSS of a garbage-collected runtime follows the heap's capacity, which grows under load and
//! is handed back when idle; the collector itself knows what survived. leakhound turns the
//! trace on in a target it launches ([`launch`]) and follows `target.log`, which still holds
//! everything the target prints; an attached target's trace is followed in the file the user
//! names ([`tail`]). Each collection read becomes a `timeline::GcSample` ([`parse`]), and the
//! last major one of a tick is the metric `heap_after_gc`. Node prefixes each line with its
//! process and isolate (`[pid:0x...]`); a cluster's workers inherit the flag, so
//! `heap_after_gc` is the sum over those of each one's heap after its last major collection
//! (the process tree, like the `process` source), and a process that ended leaves the sum.
//! Once leakhound's preload says what Buffers survived a collection it forced
//! ([`parse::preload_buffers`]), each of that process's collections counts its heap plus its
//! Buffers as last read (`GcSample::external`): Buffers live outside V8's heap, and a leak of
//! them is a leak all the same.
//!
//! Reading is a file read from where the last tick stopped (bounded per tick), on the
//! blocking pool like every source: it never holds up the load.
//!
//! A short run on a small heap may see no major collection at all, so full collections are
//! forced: Node's every `force_every` by leakhound's preload ([`launch`]), which then reads the
//! Buffers; a JVM's after `force_every` without one, through its attach socket ([`attach`]),
//! by the source before the tick's read so the collection's line is read, and stamped, in the
//! same tick. Go collects its whole heap every cycle.

pub mod attach;
pub mod launch;
pub mod parse;
pub mod tail;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::source::{Source, SourceError, SourceReading};
use super::watch::Finding;
use crate::scenario::GcRuntime;
use crate::timeline::GcSample;
use attach::JvmAttach;
pub use parse::GcParser;
use tail::LogFollower;

/// The metric: heap in use after the tick's last major collection.
pub const METRIC: &str = "heap_after_gc";
pub const METRICS: &[&str] = &[METRIC];

pub struct GcLogSource {
    follower: LogFollower,
    parser: GcParser,
    /// What the last sample read, until the run takes it.
    read: Vec<GcSample>,
    /// Heap after the last major collection of each process/isolate (`[pid:0x...]`; "" for
    /// runtimes whose lines do not say).
    heaps: BTreeMap<String, u64>,
    /// Per process, the Buffers that survived its last forced collection (leakhound's Node
    /// preload), added to each of its collections until the next.
    buffers: BTreeMap<u32, u64>,
    force: Option<Force>,
}

/// Forcing a JVM's full collection when it has run none for `every`.
#[derive(Debug)]
struct Force {
    every: Duration,
    /// The target's root process, whose tree holds the JVM.
    root: u32,
    last_major: Instant,
    /// JVM trace lines were read: there is a JVM to look for.
    jvm_seen: bool,
    jvm: Option<JvmAttach>,
    /// When the tree was last searched for the JVM, to search at most once per `every`.
    looked: Option<Instant>,
}

impl Force {
    /// Forces a collection when one is due; what went wrong, once, as an event.
    fn tick(&mut self) -> Option<Finding> {
        if !self.jvm_seen || self.last_major.elapsed() < self.every {
            return None;
        }
        if self.jvm.is_none() && self.looked.is_none_or(|t| t.elapsed() >= self.every) {
            self.looked = Some(Instant::now());
            self.jvm = JvmAttach::find(self.root);
        }
        match self.jvm.as_mut()?.gc_run() {
            Ok(true) => {
                self.last_major = Instant::now();
                None
            }
            Ok(false) => None,
            Err(why) => Some(Finding {
                kind: "gc_log",
                detail: format!("cannot force a full collection: {why}"),
            }),
        }
    }
}

impl GcLogSource {
    /// Follows `path` from byte `from` (the launched target's log, from its launch), or from
    /// its end (a file an attached target writes).
    pub fn open(
        path: &Path,
        from: Option<u64>,
        runtime: Option<GcRuntime>,
    ) -> Result<GcLogSource, SourceError> {
        let follower = LogFollower::open(path, from).map_err(|e| SourceError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(GcLogSource {
            follower,
            parser: GcParser::new(runtime),
            read: Vec::new(),
            heaps: BTreeMap::new(),
            buffers: BTreeMap::new(),
            force: None,
        })
    }

    /// Forces a full collection in the JVM under `root` after `every` without one (Node
    /// targets force their own, through the preload).
    pub fn forcing(mut self, root: Option<u32>, every: Option<Duration>) -> GcLogSource {
        self.force = root.zip(every).map(|(root, every)| Force {
            every,
            root,
            last_major: Instant::now(),
            jvm_seen: self.parser_is(GcRuntime::Jvm),
            jvm: None,
            looked: None,
        });
        self
    }

    fn parser_is(&self, runtime: GcRuntime) -> bool {
        self.parser.runtime() == Some(runtime)
    }
}

impl Source for GcLogSource {
    fn name(&self) -> &str {
        "gc_log"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let events = self
            .force
            .as_mut()
            .and_then(Force::tick)
            .into_iter()
            .collect();
        let (parser, heaps, mut found) = (&mut self.parser, &mut self.heaps, Vec::new());
        let buffers = &mut self.buffers;
        let mut fresh: Vec<String> = Vec::new();
        // Per process, its last major collection read this tick: where it is in `found`, and
        // its key.
        let mut last_major: BTreeMap<u32, (usize, String)> = BTreeMap::new();
        let mut jvm_seen = false;
        let result = self.follower.read_lines(|line| {
            if let Some((pid, bytes)) = parse::preload_buffers(line) {
                // The preload's line follows the collection it forced: it completes it.
                buffers.insert(pid, bytes);
                if let Some((i, key)) = last_major.remove(&pid) {
                    let gc: &mut GcSample = &mut found[i];
                    gc.external = Some(bytes);
                    heaps.insert(key.clone(), gc.retained());
                    fresh.push(key);
                }
                return;
            }
            // HotSpot's decorations (`[gc]`) or its `GC(n)` lines: a JVM wrote the trace.
            jvm_seen |= line.contains("[gc");
            let Some(mut gc) = parser.line(line) else {
                return;
            };
            jvm_seen |= line.contains("GC(");
            if gc.major {
                let key = process_key(line).to_string();
                let pid = pid_of(&key);
                // V8's own collections between forced ones: their Buffers as last read.
                gc.external = pid.and_then(|p| buffers.get(&p).copied());
                heaps.insert(key.clone(), gc.retained());
                fresh.push(key.clone());
                if let Some(pid) = pid {
                    last_major.insert(pid, (found.len(), key));
                }
            }
            found.push(gc);
        });
        if let Some(force) = &mut self.force {
            force.jvm_seen |= jvm_seen;
            if found.iter().any(|g| g.major) {
                force.last_major = Instant::now();
            }
        }
        self.read = found;
        result.map_err(|e| SourceError::Read {
            path: self.follower.path().display().to_string(),
            reason: e.to_string(),
        })?;
        let mut metrics = BTreeMap::new();
        if !fresh.is_empty() {
            // What was just read counts even if its process has ended since.
            self.heaps
                .retain(|key, _| fresh.contains(key) || process_alive(key));
            metrics.insert(METRIC.to_string(), self.heaps.values().sum());
        }
        Ok(SourceReading {
            metrics,
            events,
            ..SourceReading::default()
        })
    }

    fn take_gc(&mut self) -> Vec<GcSample> {
        std::mem::take(&mut self.read)
    }
}

/// V8's `[pid:0xisolate]` line prefix, or "" when the line has none.
fn process_key(line: &str) -> &str {
    let key = line
        .strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .map_or("", |(key, _)| key);
    let is_key = key
        .split_once(':')
        .is_some_and(|(pid, isolate)| pid.parse::<u32>().is_ok() && isolate.starts_with("0x"));
    if is_key {
        key
    } else {
        ""
    }
}

/// The process a key names, if it names one.
fn pid_of(key: &str) -> Option<u32> {
    key.split_once(':')?.0.parse().ok()
}

/// False once the process a key names has ended (its /proc entry is gone).
fn process_alive(key: &str) -> bool {
    pid_of(key).is_none_or(|pid| Path::new("/proc").join(pid.to_string()).exists())
}
