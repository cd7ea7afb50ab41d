//! V8 memory through the inspector (Chrome DevTools Protocol): post-GC heap readings at each
//! sample, heap snapshots at phase boundaries, and a diff of those snapshots that says which
//! objects survived, how many per 1,000 requests, and the chain of references that keeps them.
//!
//! - [`cdp`]: a blocking CDP client (`InspectorClient`) with a deadline on every call.
//! - [`launch`]: adding `--inspect=127.0.0.1:0` to a node command, finding the chosen port.
//! - [`snapshot`]: a `.heapsnapshot` parser driven by the file's own `snapshot.meta`.
//! - [`diff`]: objects born between two snapshots and still alive in a third, by class.
//! - [`retainers`]: the shortest retainer path from the GC roots to an object.

pub mod cdp;
pub mod error;
pub mod launch;

pub use cdp::{InspectorClient, InspectorSample, SnapshotFile, METRICS};
pub use error::InspectError;
pub use launch::{
    find_debugger_endpoint, node_options_with_inspect, parse_debugger_line,
    wait_for_endpoint_in_log, with_inspect_flag, DebuggerEndpoint, INSPECT_FLAG,
};
pub mod diff;
pub mod retainers;
mod scan;
pub mod snapshot;

pub use diff::{
    diff, diff_files, DiffOptions, Grower, HeapGrowth, SnapshotFileRef, SnapshotInfo, SnapshotPoint,
};
pub use retainers::Retainers;
pub use snapshot::HeapSnapshot;

#[cfg(test)]
mod tests;
