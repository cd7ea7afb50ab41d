//! Memory sources. Each implements [`Source`] (metric name -> bytes, once per tick):
//! - `process`: the target's memory read from /proc, summed over its whole process tree (a
//!   Node cluster master and its workers count as one service) — this file and `tree`;
//! - `cgroup` / `docker`: a cgroup v2 directory's memory files ([`cgroup`]);
//! - `prometheus` / `json`: what the target reports over HTTP ([`http`], [`prometheus`]);
//! - `inspector`: the V8 heap over the DevTools protocol ([`inspector`]), and heap snapshots
//!   at phase boundaries with their diff ([`heap`]);
//! - `gc_log`: the runtime's own GC trace (Node, JVM, Go), one sample per collection
//!   ([`gc_log`]).
//!
//! [`open`] builds them from the plan; [`watch`] spots restarts, OOM kills and memory cliffs.
//! Sampling is blocking (files, HTTP with a timeout); run it on `spawn_blocking` so it never
//! stalls the load generator.

pub mod cgroup;
pub mod gc_log;
pub mod heap;
pub mod http;
pub mod inspector;
pub mod open;
pub mod prometheus;
pub mod source;
#[cfg(test)]
mod tests;
mod tree;
pub mod watch;

pub use open::{metrics_of, open_all, OpenContext};
pub use source::{Identity, ProcessSource, Source, SourceError, SourceReading};

use std::collections::BTreeMap;

use procfs::process::Process;
use procfs::ProcError;

use tree::TreeWalker;
pub use tree::{descendants, Discovery};

/// Every metric the process source can report, in bytes.
/// rss/rss_anon/rss_file/rss_shmem/swap come from /proc/PID/status (VmRSS, RssAnon, RssFile,
/// RssShmem, VmSwap); pss/pss_anon from /proc/PID/smaps_rollup (Pss, Pss_Anon).
pub const METRICS: &[&str] = &[
    "rss",
    "rss_anon",
    "rss_file",
    "rss_shmem",
    "pss",
    "pss_anon",
    "swap",
];

/// One reading of a process tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// Metric name -> bytes summed over the tree. A metric no process could report is absent
    /// (e.g. pss on a kernel without smaps_rollup), never 0.
    pub metrics: BTreeMap<String, u64>,
    /// How many processes were summed.
    pub processes: u32,
    /// The PIDs summed, root first.
    pub pids: Vec<u32>,
    /// The PID with the largest RSS and that RSS in bytes (the service under a supervisor).
    pub largest: Option<(u32, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("cannot sample memory: there is no process with PID {pid}")]
    NoSuchProcess { pid: u32 },

    #[error("the target process {pid} has exited; its memory can no longer be sampled")]
    Gone { pid: u32 },

    #[error(
        "cannot read {path}: permission denied. Run leakhound as the same user as process {pid}, \
         or as root / with CAP_SYS_PTRACE"
    )]
    Permission { pid: u32, path: String },

    #[error("cannot read {path}: {reason}")]
    Proc { path: String, reason: String },
}

/// Samples the memory of a process and all its descendants, re-discovered at every sample since
/// workers come and go.
pub struct ProcessTreeSampler {
    root: u32,
    walker: TreeWalker,
    /// False on kernels without /proc/PID/smaps_rollup (< 4.14): pss metrics are then absent.
    smaps_rollup: bool,
    /// Whether pss/pss_anon are read (see [`ProcessTreeSampler::set_pss`]).
    pss: bool,
    /// Most share of one core pss reads may take (see [`ProcessTreeSampler::set_pss_budget`]).
    pss_budget: Option<f64>,
    /// When pss may be read again under the budget.
    pss_due: Option<std::time::Instant>,
    /// Whether the sample being taken reads pss.
    pss_now: bool,
    /// Where the root PID lives when the target may be re-attached (see [`Self::follow`]).
    follow: Option<std::sync::Arc<std::sync::atomic::AtomicU32>>,
}

/// Per-process values, bytes.
#[derive(Default)]
struct Reading {
    status: [Option<u64>; 5],
    pss: Option<u64>,
    pss_anon: Option<u64>,
}

const STATUS_METRICS: [&str; 5] = ["rss", "rss_anon", "rss_file", "rss_shmem", "swap"];

impl ProcessTreeSampler {
    /// Checks that `root`'s memory files are readable, so a permission problem shows before the
    /// run starts rather than as a hole in the data.
    pub fn new(root: u32) -> Result<Self, MemoryError> {
        if root == 0 {
            return Err(MemoryError::NoSuchProcess { pid: root });
        }
        let proc = Process::new(root as i32).map_err(|e| root_error(root, "", e, true))?;
        let status = proc
            .status()
            .map_err(|e| root_error(root, "status", e, true))?;
        if status.vmrss.is_none() {
            return Err(MemoryError::Proc {
                path: format!("/proc/{root}/status"),
                reason: format!(
                    "process {root} has no memory of its own (state {}: a zombie or a kernel \
                     thread)",
                    status.state
                ),
            });
        }
        let smaps_rollup = match proc.smaps_rollup() {
            Ok(_) => true,
            // The process exists (status was read), so NotFound means an old kernel.
            Err(ProcError::NotFound(_)) => false,
            Err(e) => return Err(root_error(root, "smaps_rollup", e, true)),
        };
        let walker = TreeWalker::new(Discovery::detect(root));
        Ok(ProcessTreeSampler {
            root,
            walker,
            smaps_rollup,
            pss: true,
            pss_budget: None,
            pss_due: None,
            pss_now: false,
            follow: None,
        })
    }

    /// Turns reading pss/pss_anon on (the default) or off.
    ///
    /// They come from /proc/PID/smaps_rollup, which makes the kernel walk the process's page
    /// tables under its mmap lock: about 0.6-1.2 ms per Node process, against ~0.05 ms for
    /// everything else. Turn it off when the judged metric is not a pss one and the tree is
    /// large or the interval short.
    pub fn set_pss(&mut self, on: bool) {
        self.pss = on;
    }

    /// Reads pss only as often as keeps its cost under `share` of one core (None: every
    /// sample). The cost is measured: a sample that read pss in 30 ms with a budget of 0.5%
    /// makes the next pss read wait 6 s; samples in between carry no pss.
    pub fn set_pss_budget(&mut self, share: Option<f64>) {
        self.pss_budget = share.filter(|s| *s > 0.0);
    }

    /// True when samples include pss/pss_anon (requested and supported by this kernel).
    pub fn pss(&self) -> bool {
        self.pss && self.smaps_rollup
    }

    pub fn root(&self) -> u32 {
        self.root
    }

    /// Samples the tree of whatever PID `root` holds at each sample: an attached target that
    /// restarts is re-attached through its pid file (`target::Target::root_handle`).
    pub fn follow(&mut self, root: std::sync::Arc<std::sync::atomic::AtomicU32>) {
        self.follow = Some(root);
    }

    /// How descendants are found on this kernel.
    pub fn discovery(&self) -> Discovery {
        self.walker.discovery
    }

    /// Reads every process of the tree and sums each metric. Processes that vanish meanwhile
    /// are skipped; the root vanishing is [`MemoryError::Gone`].
    pub fn sample(&mut self) -> Result<TreeSample, MemoryError> {
        let started = std::time::Instant::now();
        self.pss_now = self.pss()
            && (self.pss_budget.is_none() || self.pss_due.is_none_or(|due| started >= due));
        let result = self.sample_tree();
        if let (true, Some(share)) = (self.pss_now, self.pss_budget) {
            self.pss_due = Some(started + started.elapsed().div_f64(share));
        }
        result
    }

    fn sample_tree(&mut self) -> Result<TreeSample, MemoryError> {
        if let Some(root) = &self.follow {
            self.root = root.load(std::sync::atomic::Ordering::Relaxed);
        }
        let pids = self.walker.list(self.root);
        let mut out = TreeSample::default();
        for pid in pids {
            let reading = match self.read(pid) {
                Ok(Some(r)) => r,
                Ok(None) if pid == self.root => return Err(MemoryError::Gone { pid }),
                Ok(None) => continue,
                Err(e) if pid == self.root => return Err(e),
                // A child we may not read (e.g. it switched user): leave it out, keep going.
                Err(_) => continue,
            };
            out.processes += 1;
            out.pids.push(pid);
            if let Some(rss) = reading.status[0] {
                if out.largest.is_none_or(|(_, max)| rss > max) {
                    out.largest = Some((pid, rss));
                }
            }
            let values = STATUS_METRICS
                .iter()
                .zip(reading.status)
                .chain([(&"pss", reading.pss), (&"pss_anon", reading.pss_anon)]);
            for (name, value) in values {
                if let Some(v) = value {
                    *out.metrics.entry((*name).to_string()).or_insert(0) += v;
                }
            }
        }
        Ok(out)
    }

    /// One process; Ok(None) when it is gone or a zombie (no memory left to count).
    fn read(&self, pid: u32) -> Result<Option<Reading>, MemoryError> {
        let proc = match Process::new(pid as i32) {
            Ok(p) => p,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(root_error(pid, "", e, false)),
        };
        let status = match proc.status() {
            Ok(s) => s,
            Err(ProcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(root_error(pid, "status", e, false)),
        };
        let Some(rss) = status.vmrss else {
            return Ok(None); // zombie: its memory is already freed
        };
        let kib = |v: Option<u64>| v.map(|k| k.saturating_mul(1024));
        let mut reading = Reading {
            status: [
                kib(Some(rss)),
                kib(status.rssanon),
                kib(status.rssfile),
                kib(status.rssshmem),
                kib(status.vmswap),
            ],
            ..Reading::default()
        };
        if self.pss_now {
            // Unreadable (permissions) or vanished: skip pss for this process only.
            if let Ok(rollup) = proc.smaps_rollup() {
                if let Some(map) = rollup.memory_map_rollup.0.first() {
                    // procfs already converts these to bytes.
                    reading.pss = map.extension.map.get("Pss").copied();
                    reading.pss_anon = map.extension.map.get("Pss_Anon").copied();
                }
            }
        }
        Ok(Some(reading))
    }
}

/// Maps a procfs error on `pid`'s `file` to a MemoryError a user can act on.
fn root_error(pid: u32, file: &str, e: ProcError, at_start: bool) -> MemoryError {
    let path = if file.is_empty() {
        format!("/proc/{pid}")
    } else {
        format!("/proc/{pid}/{file}")
    };
    match e {
        ProcError::NotFound(_) if at_start => MemoryError::NoSuchProcess { pid },
        ProcError::NotFound(_) => MemoryError::Gone { pid },
        ProcError::PermissionDenied(_) => MemoryError::Permission { pid, path },
        other => MemoryError::Proc {
            path,
            reason: other.to_string(),
        },
    }
}
