//! The memory-source interface: anything that can be asked "how much memory now?" once per
//! tick. Each source reports named metrics in bytes, plus identity hints (the main PID, an OOM
//! counter, a start time) that let the run notice restarts and OOM kills.
//!
//! Sources are blocking (file reads, an HTTP GET with a timeout): the run calls them on tokio's
//! blocking pool, never on the tasks that drive the load.

use std::collections::BTreeMap;

use super::watch::Finding;
use super::{MemoryError, ProcessTreeSampler};

/// One reading of one source.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceReading {
    /// Metric name -> bytes. Names are unique across sources (`rss_anon`, `cgroup_current`,
    /// a Prometheus series name, a JSON source's `name`), so `MemorySample::get` finds them.
    pub metrics: BTreeMap<String, u64>,
    pub identity: Identity,
    /// What the reading itself did to the target and the run should record (a forced GC).
    pub events: Vec<Finding>,
}

/// What a source knows about who it measured, for restart and OOM detection. Every field is
/// optional: a source fills in what it can see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    /// Processes summed (the process source).
    pub processes: Option<u32>,
    /// The process holding the most memory and its RSS in bytes: the service itself, also when
    /// the tree's root is a supervisor or a shell.
    pub main: Option<(u32, u64)>,
    /// Every PID summed, to tell whether the former main process is gone.
    pub pids: Vec<u32>,
    /// Cumulative OOM kills of the cgroup (memory.events `oom_kill`).
    pub oom_kills: Option<u64>,
    /// When the measured process started (Prometheus `process_start_time_seconds`), so a
    /// remote target's restart shows even though leakhound cannot see its PID.
    pub start_time: Option<f64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Process(#[from] MemoryError),
    /// A file of a cgroup or /proc could not be read.
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    /// The endpoint did not answer, answered an error, or timed out.
    #[error("{url}: {reason}")]
    Http { url: String, reason: String },
    /// The answer came but does not hold what the scenario asked for.
    #[error("{what}: {reason}")]
    Content { what: String, reason: String },
    /// The source cannot be set up on this machine (no cgroup v2, no docker CLI, ...).
    #[error("{0}")]
    Unavailable(String),
    /// The V8 inspector could not be reached or did not answer.
    #[error(transparent)]
    Inspect(#[from] crate::inspect::InspectError),
    /// The source is in use (a heap snapshot holds the inspector): this sample is skipped,
    /// which is no failure worth an event.
    #[error("skipped: {0}")]
    Busy(String),
}

/// A memory source. `sample` is called once per tick from a blocking thread; it must return
/// within about the sampling interval (network sources time out on their own).
pub trait Source: Send {
    /// The source's name: its key in `MemorySample::readings` (`process`, `cgroup`, ...).
    fn name(&self) -> &str;
    /// Reads the source now.
    fn sample(&mut self) -> Result<SourceReading, SourceError>;
    /// The garbage collections the last `sample` read (the `gc_log` source), unstamped: the
    /// run stamps them with that sample's time and requests.
    fn take_gc(&mut self) -> Vec<crate::timeline::GcSample> {
        Vec::new()
    }
}

/// The `process` source: the target's process tree from /proc.
pub struct ProcessSource(pub ProcessTreeSampler);

impl Source for ProcessSource {
    fn name(&self) -> &str {
        "process"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let s = self.0.sample()?;
        Ok(SourceReading {
            metrics: s.metrics,
            identity: Identity {
                processes: Some(s.processes),
                main: s.largest,
                pids: s.pids,
                ..Identity::default()
            },
            events: Vec::new(),
        })
    }
}
