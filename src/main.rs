//! The `leakhound` binary: parse the CLI, run, map the outcome to an exit code.

mod cli;

/// jemalloc, as oha uses: faster for the engine's many small per-request allocations, and it
/// hands memory freed after an in-flight burst back to the OS, where glibc's arenas keep the
/// high-water mark (leakhound's own RSS is part of every report).
#[cfg(all(target_os = "linux", not(target_env = "musl")))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command, ScenarioArgs};
use leakhound::progress::{Progress, ProgressMode};
use leakhound::report::{self, RunEnd, Summary};
use leakhound::run::{self, RunOptions};
use leakhound::scenario::{self, Overrides, Plan};
use leakhound::units::format_size;

/// Bad usage, a bad scenario, or a folder that cannot be written.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The error and its causes, skipping a cause whose text the message already includes.
fn describe(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    let mode = if cli.quiet {
        ProgressMode::Off
    } else {
        ProgressMode::detect(cli.no_progress)
    };
    match cli.command {
        Command::Run(args) => {
            let plan = load_plan(&args.scenario)?;
            run_plan(&plan, args.out, mode, cli.quiet).await
        }
        Command::Validate(args) => {
            let plan = load_plan(&args)?;
            println!("{}", scenario::describe(&plan));
            println!("ok: {} is valid", args.scenario.display());
            Ok(0)
        }
        Command::Report { run_dir } => {
            let summary = report::rerender(&run_dir)?;
            print_result(&summary, &run_dir, cli.quiet);
            // The summary's exit code is the run's; a re-render itself succeeded.
            Ok(summary.exit_code.clamp(0, 255) as u8)
        }
        Command::Compare { before, after, out } => {
            let out = out.unwrap_or_else(|| report::compare::default_folder(SystemTime::now()));
            let cmp = report::compare::compare(&before, &after, &out)?;
            println!("{}", report::compare::text(&cmp, &out, cli.quiet));
            Ok(cmp.exit_code.clamp(0, 255) as u8)
        }
        Command::Demo { clean, out } => {
            let exe = std::env::current_exe()
                .context("cannot find the leakhound binary to start the demo target")?;
            let port = leakhound::demo::free_port().context("cannot find a free loopback port")?;
            let plan = leakhound::demo::plan(&exe, port, clean)?;
            if !cli.quiet {
                eprintln!(
                    "leakhound demo: {} target on 127.0.0.1:{port}, about {}s of load",
                    if clean { "a clean" } else { "a leaky" },
                    plan.total_duration().as_secs()
                );
            }
            run_plan(&plan, out, mode, cli.quiet).await
        }
        Command::DemoTarget { port, clean } => {
            leakhound::demo::server::serve(port, clean)
                .await
                .with_context(|| format!("demo target cannot serve on 127.0.0.1:{port}"))?;
            Ok(0)
        }
    }
}

fn load_plan(args: &ScenarioArgs) -> anyhow::Result<Plan> {
    let overrides = Overrides {
        duration: args.duration,
        rate: args.rate,
        set: args.set.clone(),
    };
    Ok(scenario::load(&args.scenario, &overrides)?)
}

async fn run_plan(
    plan: &Plan,
    out: Option<PathBuf>,
    mode: ProgressMode,
    quiet: bool,
) -> anyhow::Result<u8> {
    let dir = out.unwrap_or_else(|| report::default_folder(&plan.name, SystemTime::now()));
    report::prepare_folder(&dir)?;
    let progress = Progress::new(mode, plan);
    let record = run::execute(
        plan,
        RunOptions {
            out_dir: dir.clone(),
            progress,
        },
    )
    .await?;
    let (_, summary) = report::write_folder(&dir, &record)?;
    print_result(&summary, &dir, quiet);
    Ok(summary.exit_code.clamp(0, 255) as u8)
}

fn print_result(s: &Summary, dir: &Path, quiet: bool) {
    let head = match s.exit_code {
        0 => "PASS".to_string(),
        1 => "FAIL".to_string(),
        3 => "ERROR: the target failed".to_string(),
        130 => "INTERRUPTED".to_string(),
        143 => "TERMINATED".to_string(),
        c => format!("exit {c}"),
    };
    if let RunEnd::TargetFailed { detail } = &s.end {
        // An error belongs on stderr too, where CI logs and scripts look for it.
        eprintln!("error: {detail}");
    }
    if quiet {
        println!("{head}: {} -> {}", s.leak.reason, dir.display());
        return;
    }
    let partial = if s.completed {
        ""
    } else {
        " (stopped early; partial results)"
    };
    println!("\nleakhound: {} — {head}{partial}", s.scenario);
    println!("  verdict    {}: {}", s.leak.verdict, s.leak.reason);
    let r = &s.requests;
    println!(
        "  requests   {} completed, {} errors, {} timeouts, {:.0}/s achieved; p50 {:.1} ms, p99 {:.1} ms",
        r.completed, r.errors, r.timeouts, s.achieved_rate, s.latency_ms.p50, s.latency_ms.p99
    );
    if r.overflow + r.missed > 0 {
        println!(
            "  not sent   {} over max_in_flight, {} behind schedule",
            r.overflow, r.missed
        );
    }
    let m = &s.memory;
    println!(
        "  memory     {} {} -> {} (peak {})",
        m.metric,
        format_size(m.start_bytes as f64),
        format_size(m.end_bytes as f64),
        format_size(m.peak_bytes as f64)
    );
    for t in &s.thresholds {
        let mark = if t.passed { "ok  " } else { "FAIL" };
        println!("  {mark}       {} {} (limit {})", t.name, t.actual, t.limit);
    }
    for e in &s.events {
        println!("  event      {:.1}s {}: {}", e.t_s, e.kind, e.detail);
    }
    println!("  folder     {}", dir.display());
}
