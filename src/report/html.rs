//! report.html: one self-contained page (CSS and SVG plots inline, nothing fetched) that says
//! in five seconds whether memory climbs with requests, by how much, where, and what to do.
//!
//! The page is a minijinja template (templates/, compiled into the binary); this module only
//! turns the run and its analysis into the template's context.

use std::path::Path;

use serde::Serialize;
use thiserror::Error;

use super::plots::memory::signed_size;
use super::plots::Rendered;
use super::record::RunRecord;
use super::summary::{Outcome, RunEnd, Summary};
use crate::analysis::{Analysis, Estimate, ThresholdResult, Verdict};
use crate::scenario::{Model, TargetProcess};
use crate::timeline::Timeline;
use crate::units::{format_count, format_duration, format_rate, format_size};

#[derive(Debug, Error)]
#[error("cannot render {page}: {detail}")]
pub struct HtmlError {
    pub page: &'static str,
    pub detail: String,
}

/// The templates, compiled into the binary.
pub(crate) fn templates() -> Result<minijinja::Environment<'static>, HtmlError> {
    let mut env = minijinja::Environment::new();
    let add = |env: &mut minijinja::Environment<'static>, name: &'static str, src: &'static str| {
        env.add_template(name, src).map_err(|e| HtmlError {
            page: name,
            detail: e.to_string(),
        })
    };
    add(&mut env, "base.html", include_str!("templates/base.html"))?;
    add(
        &mut env,
        "report.html",
        include_str!("templates/report.html"),
    )?;
    add(
        &mut env,
        "compare.html",
        include_str!("templates/compare.html"),
    )?;
    Ok(env)
}

/// Renders `name` with `ctx`.
pub(crate) fn render_page<T: Serialize>(name: &'static str, ctx: &T) -> Result<String, HtmlError> {
    let env = templates()?;
    let tmpl = env.get_template(name).map_err(|e| HtmlError {
        page: name,
        detail: e.to_string(),
    })?;
    tmpl.render(minijinja::Value::from(minijinja::value::Serde(ctx)))
        .map_err(|e| HtmlError {
            page: name,
            detail: format!("{e:#}"),
        })
}

/// An SVG ready to inline into HTML: the namespace attribute is implied inside HTML, and
/// dropping it keeps the page free of any URL text at all.
pub(crate) fn inline_svg(svg: &str) -> String {
    svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1)
}

#[derive(Debug, Serialize)]
pub(crate) struct Card {
    pub label: String,
    pub value: String,
    pub sub: Option<String>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PlotView {
    pub stem: &'static str,
    pub note: &'static str,
    pub svg: String,
}

impl PlotView {
    pub fn from_rendered(p: &Rendered) -> PlotView {
        PlotView {
            stem: p.stem,
            note: plot_note(p.stem),
            svg: inline_svg(&p.svg),
        }
    }
}

/// How to read each plot, under it.
fn plot_note(stem: &str) -> &'static str {
    match stem {
        "memory-vs-requests" => {
            "The thick blue line is the judged metric; a leak is a line that keeps climbing as \
             requests complete. The dashed red line is the fitted slope over the judged window, \
             its shaded bow-tie the 95% interval of that slope. Grey: warm-up, not judged."
        }
        "memory-vs-time" => {
            "Memory over time with the request rate (orange, right axis): growth while the rate \
             is zero is growth with time, not with traffic."
        }
        "latency" => "Latency percentiles per sampling interval; a leak often drags p99 and max up over time.",
        "throughput" => "Requests completed per second, with errors and timeouts on the right axis.",
        "compare-memory" => {
            "Growth of the judged metric from each run's first sample, against requests since \
             that sample; dashed: each run's fitted slope with its 95% band."
        }
        "compare-latency" => "Whole-run latency percentiles of both runs, side by side.",
        _ => "",
    }
}

#[derive(Debug, Serialize)]
struct VerdictView {
    word: String,
    headline: String,
    reason: String,
    endpoint: Option<String>,
    next: String,
}

#[derive(Debug, Serialize)]
struct EndpointRow {
    name: String,
    completed: String,
    errors: String,
    timeouts: String,
    p50: String,
    p99: String,
    per_request: String,
    verdict: String,
}

#[derive(Debug, Serialize)]
struct PhaseRow {
    name: String,
    from: String,
    to: String,
    load: String,
    requests: String,
    warmup: bool,
}

#[derive(Debug, Serialize)]
struct EventRow {
    t: String,
    requests: String,
    kind: String,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Reproduce {
    command: String,
    rerender: String,
    compare: String,
}

#[derive(Debug, Serialize)]
struct ReportPage {
    version: String,
    scenario: String,
    outcome: &'static str,
    badge: &'static str,
    started_at: String,
    duration: String,
    stopped: Option<String>,
    verdict: VerdictView,
    figures: Vec<Card>,
    plots: Vec<PlotView>,
    endpoints: Vec<EndpointRow>,
    attribution_note: Option<String>,
    thresholds: Vec<ThresholdResult>,
    phases: Vec<PhaseRow>,
    events: Vec<EventRow>,
    environment: Vec<(String, String)>,
    reproduce: Reproduce,
    /// "What grew", from the heap snapshots of the inspector source.
    heap: Option<super::heap::HeapView>,
}

/// `553B (552B to 553B)`.
pub(crate) fn with_interval(e: &Estimate) -> String {
    format!(
        "{} ({} to {})",
        signed_size(e.estimate),
        format_size(e.low),
        format_size(e.high)
    )
}

/// Milliseconds as `1.23ms` / `1.2s`.
pub(crate) fn ms(v: f64) -> String {
    format_duration(std::time::Duration::from_secs_f64(v.max(0.0) / 1000.0))
}

/// Quotes an argument for a POSIX shell only when it needs it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

fn headline(a: &Analysis) -> String {
    let l = &a.leak;
    match l.verdict {
        Verdict::Leak => format!(
            "Memory grows with requests: {} per request",
            signed_size(l.bytes_per_request.estimate)
        ),
        Verdict::TimeGrowth => format!(
            "Memory grows with time: {}/s, whatever the traffic",
            signed_size(l.bytes_per_second.estimate)
        ),
        Verdict::Bounded => "Memory grew, then levelled off".to_string(),
        Verdict::None => "No leak: memory stays flat under load".to_string(),
        Verdict::Inconclusive if l.intercept_bytes.is_some() => format!(
            "Cannot tell yet: {} per request, but the interval is too wide",
            signed_size(l.bytes_per_request.estimate)
        ),
        Verdict::Inconclusive => "Cannot tell yet: not enough data".to_string(),
    }
}

fn next_step(v: Verdict) -> &'static str {
    match v {
        Verdict::Leak => {
            "Find what each request leaves behind: a listener added to a long-lived emitter, a \
             cache keyed by request data with no size bound or expiry, a promise that never \
             settles because an upstream call has no timeout, a global array that only grows. \
             Take two heap snapshots a few thousand requests apart and compare what grew; after \
             the fix, run again and use `leakhound compare` on the two folders."
        }
        Verdict::TimeGrowth => {
            "Memory climbs even without traffic: look for timers or background jobs that append \
             to a store on every tick, and give the store a bound or process and drop its data."
        }
        Verdict::Bounded => {
            "A cache or pool filled and stopped growing. Check that its size limit is one you \
             are happy to pay for in production."
        }
        Verdict::None => {
            "Nothing to fix. Keep this run as a baseline: `leakhound compare` it with the next \
             release's run."
        }
        Verdict::Inconclusive => {
            "Run longer or at a higher rate (the reason above says how much), so the slope's \
             interval is narrow enough to decide."
        }
    }
}

/// Endpoints the leak is attributed to, largest first: `process (+2.1KiB per request)`.
fn leaking_endpoints(a: &Analysis) -> Option<String> {
    let mut leaking: Vec<_> = a
        .leak
        .endpoints
        .iter()
        .filter(|(_, e)| e.attributed && e.verdict == Verdict::Leak)
        .collect();
    leaking.sort_by(|x, y| {
        y.1.bytes_per_request
            .estimate
            .total_cmp(&x.1.bytes_per_request.estimate)
    });
    let parts: Vec<String> = leaking
        .iter()
        .map(|(name, e)| {
            format!(
                "{name} ({} per request)",
                signed_size(e.bytes_per_request.estimate)
            )
        })
        .collect();
    (!parts.is_empty()).then(|| format!("endpoint {}", parts.join(", ")))
}

/// Requests completed between two instants, from the counters of the ticks nearest to them
/// (a tick ends a few milliseconds after a phase boundary, not exactly on it).
fn completed_between(tl: &Timeline, from_s: f64, to_s: f64) -> u64 {
    let at = |t: f64| {
        if t <= 0.0 {
            return 0;
        }
        tl.ticks
            .iter()
            .min_by(|a, b| (a.t_s - t).abs().total_cmp(&(b.t_s - t).abs()))
            .map_or(0, |k| k.completed)
    };
    at(to_s).saturating_sub(at(from_s))
}

fn target_text(p: &TargetProcess) -> String {
    match p {
        TargetProcess::Launch { command, .. } => command
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
        TargetProcess::Pid { pid } => format!("attached to pid {pid}"),
        TargetProcess::PidFile { path } => format!("attached via pid file {}", path.display()),
        TargetProcess::None => "none (load only)".to_string(),
    }
}

/// Renders report.html for a run.
pub fn render(
    dir: &Path,
    record: &RunRecord,
    analysis: &Analysis,
    summary: &Summary,
    plots: &[Rendered],
) -> Result<String, HtmlError> {
    let tl = &record.timeline;
    let plan = &record.plan;
    let leak = &analysis.leak;
    let env = &record.environment;
    let (outcome, badge) = match summary.outcome {
        Outcome::Pass => ("pass", "PASS"),
        Outcome::Fail => ("fail", "FAIL"),
        Outcome::Error => ("error", "ERROR"),
    };
    let stopped = match &record.end {
        RunEnd::Completed => None,
        RunEnd::Interrupted { signal } => Some(format!("interrupted by signal {signal}")),
        RunEnd::TargetFailed { detail } => Some(format!("the target failed: {detail}")),
    };
    let verdict = VerdictView {
        word: leak.verdict.to_string(),
        headline: headline(analysis),
        reason: leak.reason.clone(),
        endpoint: leaking_endpoints(analysis),
        next: next_step(leak.verdict).to_string(),
    };
    let m = &analysis.memory;
    let q = &analysis.requests;
    let l = &analysis.latency_ms;
    let mut figures = vec![
        Card {
            label: "per request".into(),
            value: if leak.intercept_bytes.is_some() {
                signed_size(leak.bytes_per_request.estimate)
            } else {
                "—".into()
            },
            sub: leak.intercept_bytes.map(|_| {
                format!(
                    "95% CI {} to {}",
                    format_size(leak.bytes_per_request.low),
                    format_size(leak.bytes_per_request.high)
                )
            }),
        },
        Card {
            label: format!("memory ({})", m.metric),
            value: format!(
                "{} → {}",
                format_size(m.start_bytes as f64),
                format_size(m.end_bytes as f64)
            ),
            sub: Some(format!("peak {}", format_size(m.peak_bytes as f64))),
        },
        Card {
            label: "requests".into(),
            value: format_count(q.completed as f64),
            sub: Some(format!(
                "{} achieved · {} errors · {} timeouts",
                format_rate(analysis.achieved_rate),
                format_count(q.errors as f64),
                format_count(q.timeouts as f64)
            )),
        },
        Card {
            label: "latency p50 / p99".into(),
            value: format!("{} / {}", ms(l.p50), ms(l.p99)),
            sub: Some(format!("max {}", ms(l.max))),
        },
        Card {
            label: "duration".into(),
            value: format_duration(std::time::Duration::from_secs_f64(
                summary.duration_s.max(0.0).round(),
            )),
            sub: Some(format!(
                "{} samples every {}",
                m.samples,
                format_duration(plan.memory.interval)
            )),
        },
    ];
    let g = &analysis.generator;
    if let (Some(cpu), Some(rss)) = (g.cpu_percent, g.rss_peak_bytes) {
        figures.push(Card {
            label: "leakhound itself".into(),
            value: format!("{cpu:.0}% CPU · {}", format_size(rss as f64)),
            sub: Some(match (&g.saturated, g.cpu_us_per_request) {
                (Some(_), _) => "saturated: see the verdict".to_string(),
                (None, Some(us)) => format!("{us:.0} µs CPU per request; kept up"),
                (None, None) => "kept up".to_string(),
            }),
        });
    }
    let endpoints: Vec<EndpointRow> = analysis
        .endpoints
        .iter()
        .map(|e| {
            // An endpoint the analysis could not separate from the others has no figure.
            let attributed = leak.endpoints.get(&e.name).filter(|a| a.attributed);
            EndpointRow {
                name: e.name.clone(),
                completed: format_count(e.completed as f64),
                errors: format_count(e.errors as f64),
                timeouts: format_count(e.timeouts as f64),
                p50: ms(e.latency_ms.p50),
                p99: ms(e.latency_ms.p99),
                per_request: attributed
                    .map_or("—".into(), |a| with_interval(&a.bytes_per_request)),
                verdict: attributed.map_or("—".into(), |a| a.verdict.to_string()),
            }
        })
        .collect();
    let unattributed = analysis
        .endpoints
        .iter()
        .any(|e| !leak.endpoints.get(&e.name).is_some_and(|a| a.attributed));
    let attribution_note = unattributed.then(|| {
        "—: this run cannot split the growth by endpoint (the reason above says why); \
         the whole-run figure is in the banner."
            .to_string()
    });
    let phases = tl
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| PhaseRow {
            name: p.name.clone(),
            from: format_duration(std::time::Duration::from_secs_f64(p.start_s.max(0.0))),
            to: format_duration(std::time::Duration::from_secs_f64(p.end_s.max(0.0))),
            load: match (plan.load.model, p.ramp_to, p.concurrency) {
                (Model::Closed, _, c) => format!("{} loops", c.unwrap_or(0)),
                (_, Some(to), _) => format!("{} → {}", format_rate(p.rate), format_rate(to)),
                _ if p.rate <= 0.0 => "idle".to_string(),
                _ => format_rate(p.rate),
            },
            requests: format_count(completed_between(tl, p.start_s, p.end_s) as f64),
            warmup: i == 0
                && leak.window.samples > 0
                && leak.window.from_s >= p.end_s - 1e-6
                && p.start_s < leak.window.from_s,
        })
        .collect();
    // Forced GCs (one a second or so) are one row, not hundreds.
    let gc = super::summary::ForcedGc::from_events(&tl.events);
    let mut gc_listed = false;
    let events = tl
        .events
        .iter()
        .filter(|e| {
            let first = e.kind != super::summary::FORCED_GC || !gc_listed;
            gc_listed |= e.kind == super::summary::FORCED_GC;
            first
        })
        .map(|e| EventRow {
            t: if e.t_s < 60.0 {
                format!("{:.1}s", e.t_s)
            } else {
                crate::report::plots::style::seconds_label(e.t_s)
            },
            requests: format_count(e.requests as f64),
            kind: e.kind.clone(),
            detail: match (&gc, e.kind == super::summary::FORCED_GC) {
                (Some(gc), true) => format!(
                    "{}, from this time on; each stalls the target (the latency plot marks them)",
                    gc.text()
                ),
                _ => e.detail.clone(),
            },
        })
        .collect();
    let environment = vec![
        ("leakhound".to_string(), env.leakhound_version.clone()),
        ("target".to_string(), target_text(&plan.target.process)),
        ("base URL".to_string(), plan.target.base_url.clone()),
        (
            "host".to_string(),
            if env.cpus > 0 {
                format!("{} ({} CPUs)", env.host, env.cpus)
            } else {
                env.host.clone()
            },
        ),
        (
            "kernel".to_string(),
            format!("{} {} {}", env.os, env.kernel, env.arch),
        ),
        ("started".to_string(), tl.started_at.clone()),
        (
            "memory".to_string(),
            format!(
                "{} judged; sampled every {} from {}",
                plan.memory.metric,
                format_duration(plan.memory.interval),
                plan.memory.sources.join(", ")
            ),
        ),
        (
            "load".to_string(),
            format!(
                "{:?} model, timeout {}",
                plan.load.model,
                format_duration(plan.load.timeout)
            )
            .to_lowercase(),
        ),
    ];
    let dir_text = shell_quote(&dir.display().to_string());
    let page = ReportPage {
        version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: plan.name.clone(),
        outcome,
        badge,
        started_at: tl.started_at.clone(),
        duration: format_duration(std::time::Duration::from_secs_f64(
            summary.duration_s.max(0.0).round(),
        )),
        stopped,
        verdict,
        figures,
        plots: plots.iter().map(PlotView::from_rendered).collect(),
        endpoints,
        attribution_note,
        thresholds: analysis.thresholds.clone(),
        phases,
        events,
        environment,
        heap: record
            .heap_growth
            .as_ref()
            .map(|g| super::heap::HeapView::build(dir, g)),
        reproduce: Reproduce {
            command: env
                .command_line
                .iter()
                .map(|a| shell_quote(a))
                .collect::<Vec<_>>()
                .join(" "),
            rerender: format!("leakhound report {dir_text}"),
            compare: format!("leakhound compare {dir_text} AFTER_RUN_FOLDER"),
        },
    };
    render_page("report.html", &page)
}

#[cfg(test)]
#[path = "html_tests.rs"]
pub(crate) mod tests;
