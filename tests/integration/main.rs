//! Integration tests: the real `leakhound` binary against real Node servers on loopback.
//!
//! One test binary (ripgrep style), one module per concern:
//! - [`util`]: spawning leakhound with a deadline, free ports, run folders, the soak lock.
//! - [`soak`]: the example scenarios from `scenarios/` against each leaky target and its fixed
//!   twin (tests/targets/). These put real load on the machine, so they never run two at once:
//!   nextest puts `soak::` tests in a `max-threads = 1` group (.config/nextest.toml) and a
//!   process-wide lock serializes them under plain `cargo test` too.
//! - [`bad_input`]: scenarios leakhound must reject (exit 2) with a message naming the problem,
//!   and `validate`.
//! - [`gc_log`]: the runtime's own GC trace read from a real leaking Node target.
//! - [`target_failures`]: targets that will not start, never become ready or die mid-run
//!   (exit 3), and Ctrl-C (exit 130); the run folder must still be written.
//!
//! Every test needs `node` (20+) on PATH.

mod accuracy;
mod bad_input;
mod faults;
mod gc_log;
mod inspect;
mod interrupts;
mod report;
mod soak;
mod sources;
mod target_failures;
mod util;
