//! run.json: everything needed to re-analyse and re-render a run.
//!
//! The resolved plan, the environment it ran in, how it ended, and the whole timeline.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::summary::RunEnd;
use crate::inspect::HeapGrowth;
use crate::scenario::Plan;
use crate::timeline::Timeline;

/// Bumped when run.json changes incompatibly.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Environment {
    pub leakhound_version: String,
    pub os: String,
    pub arch: String,
    pub kernel: String,
    pub host: String,
    pub cpus: usize,
    /// The command line that produced the run, for "how to reproduce".
    pub command_line: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_pid: Option<u32>,
}

impl Environment {
    /// Reads the host's facts (best effort: a field that cannot be read stays empty).
    pub fn detect(target_pid: Option<u32>) -> Environment {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        Environment {
            leakhound_version: env!("CARGO_PKG_VERSION").to_string(),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            kernel: read("/proc/sys/kernel/osrelease"),
            host: read("/proc/sys/kernel/hostname"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            command_line: std::env::args().collect(),
            target_pid,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub format: u32,
    pub environment: Environment,
    pub plan: Plan,
    pub end: RunEnd,
    pub timeline: Timeline,
    /// What grew between the heap snapshots of the inspector source (absent without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heap_growth: Option<HeapGrowth>,
}

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read {}: {source}; is this a leakhound run folder?", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid run.json: {source}", path.display())]
    Parse {
        path: std::path::PathBuf,
        source: serde_json::Error,
    },
    #[error("{} has format {found}; this leakhound reads format {FORMAT_VERSION}", path.display())]
    Format {
        path: std::path::PathBuf,
        found: u32,
    },
}

impl RunRecord {
    /// Reads `DIR/run.json`.
    pub fn read(dir: &Path) -> Result<RunRecord, ReadError> {
        let path = dir.join("run.json");
        let text = std::fs::read(&path).map_err(|source| ReadError::Io {
            path: path.clone(),
            source,
        })?;
        let rec: RunRecord = serde_json::from_slice(&text).map_err(|source| ReadError::Parse {
            path: path.clone(),
            source,
        })?;
        if rec.format != FORMAT_VERSION {
            return Err(ReadError::Format {
                path,
                found: rec.format,
            });
        }
        Ok(rec)
    }
}
