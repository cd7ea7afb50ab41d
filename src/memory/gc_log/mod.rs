//! The `gc_log` source: the target runtime's own GC trace, read as it is written.
//!
//! RSS of a garbage-collected runtime follows the heap's capacity, which grows under load and
//! is handed back when idle; the collector itself knows what survived. leakhound turns the
//! trace on in a target it launches ([`launch`]) and follows `target.log`, which still holds
//! everything the target prints; an attached target's trace is followed in the file the user
//! names ([`tail`]). Each collection read becomes a `timeline::GcSample` ([`parse`]), and the
//! last major one of a tick is the metric `heap_after_gc`.
//!
//! Reading is a file read from where the last tick stopped (bounded per tick), on the
//! blocking pool like every source: it never holds up the load.

pub mod launch;
pub mod parse;
pub mod tail;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use super::source::{Source, SourceError, SourceReading};
use crate::scenario::GcRuntime;
use crate::timeline::GcSample;
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
        })
    }
}

impl Source for GcLogSource {
    fn name(&self) -> &str {
        "gc_log"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let (parser, mut found) = (&mut self.parser, Vec::new());
        let result = self
            .follower
            .read_lines(|line| found.extend(parser.line(line)));
        self.read = found;
        result.map_err(|e| SourceError::Read {
            path: self.follower.path().display().to_string(),
            reason: e.to_string(),
        })?;
        let mut metrics = BTreeMap::new();
        if let Some(last) = self.read.iter().rev().find(|g| g.major) {
            metrics.insert(METRIC.to_string(), last.heap_after);
        }
        Ok(SourceReading {
            metrics,
            ..SourceReading::default()
        })
    }

    fn take_gc(&mut self) -> Vec<GcSample> {
        std::mem::take(&mut self.read)
    }
}
