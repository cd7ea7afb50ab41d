//! Render benchmark: a one-hour synthetic run (3,600 one-second ticks, 5 endpoints) rendered
//! into every report file. Prints the time; run it in release:
//!
//!     cargo run --release --example render_bench [KEEP_DIR]
//!
//! With KEEP_DIR, the rendered run folder is left there to look at.
//! The figure quoted in the README comes from this. It is an example, not a timed test, so a
//! busy CI machine cannot make the test suite flaky.

use std::time::Instant;

use leakhound::analysis;
use leakhound::report::plots::synthetic::Synthetic;
use leakhound::report::{self, html, junit, plots};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spec = Synthetic {
        name: "bench-1h".into(),
        ticks: 3600,
        endpoints: 5,
        rate: 500.0,
        event: true,
        latencies_per_tick: 20,
        ..Synthetic::default()
    };
    let t = Instant::now();
    let record = spec.record()?;
    let built = t.elapsed();
    let keep = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("leakhound-render-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;

    let runs = 5;
    let mut best = f64::INFINITY;
    let mut best_all = f64::INFINITY;
    for _ in 0..runs {
        // Everything a report needs except run.json: analysis, 4 plots x 2 formats, html, junit.
        let t = Instant::now();
        let a = analysis::analyze(&record.plan, &record.timeline);
        let summary = report::Summary::new(
            &record.plan.name,
            &record.end,
            &a,
            &record.timeline.events,
            3600.0,
        );
        let figures = plots::render_run(&record, &a)?;
        plots::write_all(&dir, &figures)?;
        let page = html::render(&dir, &record, &a, &summary, &figures)?;
        std::fs::write(dir.join("report.html"), page)?;
        std::fs::write(dir.join("junit.xml"), junit::render(&summary)?)?;
        best = best.min(t.elapsed().as_secs_f64());

        // The whole folder as a run writes it, run.json (the full timeline) included.
        let t = Instant::now();
        report::write_folder(&dir, &record)?;
        best_all = best_all.min(t.elapsed().as_secs_f64());
    }
    // The analysis alone (issue target: under 100 ms for a one-hour timeline).
    let mut best_analysis = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        let a = analysis::analyze(&record.plan, &record.timeline);
        best_analysis = best_analysis.min(t.elapsed().as_secs_f64());
        std::hint::black_box(a);
    }
    println!(
        "analysis alone: {:.1} ms (best of {runs})",
        best_analysis * 1000.0
    );
    let html_kib = std::fs::metadata(dir.join("report.html"))?.len() as f64 / 1024.0;
    println!(
        "one-hour timeline: {} ticks, {} endpoints (built in {:.2}s)",
        record.timeline.ticks.len(),
        record.timeline.endpoints.len(),
        built.as_secs_f64()
    );
    println!("render all report files (analysis, 4 plots as PNG+SVG, report.html, junit.xml): {:.3}s (best of {runs})", best);
    println!(
        "write_folder including run.json and summary.md: {:.3}s (best of {runs})",
        best_all
    );
    println!("report.html: {html_kib:.0} KiB");
    if keep.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
