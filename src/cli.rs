//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  leakhound demo                              see a leak in under a minute, no setup
  leakhound run scenarios/checkout.yaml       soak; live progress; verdict; exit code
  leakhound run s.yaml --duration 2m --rate 300 --out reports/nightly
  leakhound run s.yaml --set target.base_url=http://127.0.0.1:4000 --set load.phases.1.rate=500
  leakhound validate scenarios/checkout.yaml  check a scenario and show the resolved plan
  leakhound report reports/checkout-20261125T081530Z   re-analyse a saved run
  leakhound compare reports/before reports/after       did the fix fix it?

Exit codes: 0 all thresholds passed, 1 a threshold failed (a leak fails), 2 bad usage or
scenario, 3 the target failed (would not start, died, unreachable), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). Except for 2, the run folder is always written.";

#[derive(Debug, Parser)]
#[command(
    name = "leakhound",
    version,
    about = "Soak tests that watch the target's memory: sustained HTTP load, memory vs requests, a leak verdict.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors and the one-line result.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// No live progress (the final verdict is still printed).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a soak test: load + memory sampling -> run folder, verdict, exit code.
    Run(RunArgs),
    /// Check a scenario without running it and print the resolved plan.
    Validate(ScenarioArgs),
    /// Re-analyse a saved run folder and rewrite its summaries.
    Report {
        /// A run folder written by `leakhound run`.
        run_dir: PathBuf,
    },
    /// Compare two run folders (before and after a fix): overlay plot, slopes, verdict
    /// fixed/regressed/improved/unchanged; exit 1 on a regression or a leak still there.
    Compare {
        /// The run folder from before the change.
        before: PathBuf,
        /// The run folder from after the change.
        after: PathBuf,
        /// Output folder (default: reports/compare-<UTC timestamp>).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run the built-in demo: a small leaky target, ~45 s, no setup.
    Demo {
        /// Run against the target with its leak switched off (verdict: none, exit 0).
        #[arg(long)]
        clean: bool,
        /// Run folder (default: reports/demo-<UTC timestamp>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The demo's built-in HTTP target (started by `leakhound demo`).
    #[command(name = "__demo-target", hide = true)]
    DemoTarget {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        clean: bool,
    },
}

#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,
    /// Scale the phases so the whole run lasts D (e.g. 90s, 5m, 1h30m).
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Set the peak request rate (per second, or e.g. 600/1m); other phases scale with it.
    #[arg(long, value_name = "R", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Override a scenario key by dotted path, e.g. --set load.phases.1.rate=500 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Run folder (default: reports/<name>-<UTC timestamp>).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    leakhound::units::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_rate(s: &str) -> Result<f64, String> {
    leakhound::units::parse_rate(s).map_err(|e| e.to_string())
}
