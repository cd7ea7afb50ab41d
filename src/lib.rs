//! leakhound: soak tests that watch the target's memory.
//!
//! Data flows one way: [`scenario`] (YAML -> a resolved [`scenario::Plan`]) -> [`run`] (drives
//! [`target`], [`load`] and [`memory`], builds the [`timeline::Timeline`]) -> [`analysis`]
//! (the verdict) -> [`report`] (the run folder). `main.rs` only parses the CLI and maps the
//! outcome to an exit code.

pub mod analysis;
pub mod demo;
pub mod inspect;
pub mod load;
pub mod memory;
pub mod progress;
pub mod report;
pub mod run;
pub mod scenario;
pub mod selfstat;
pub mod target;
pub mod timeline;
pub mod units;
