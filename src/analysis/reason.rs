//! The verdict's one sentence: what memory did, how sure we are, and what to change when the
//! run could not tell. Kept apart from the statistics so the wording can be read (and tested)
//! on its own.

use super::verdict::{Findings, LeakReport, Verdict};
use crate::units::{format_count, format_size};

fn ci(low: f64, high: f64) -> String {
    format!("95% CI {} to {}", format_size(low), format_size(high))
}

/// Requests needed for the interval to clear the limit: the half-width of a slope against
/// cumulative requests shrinks like requests^-1.5 at a steady rate.
pub(crate) fn more_requests(report: &LeakReport) -> f64 {
    let b = report.bytes_per_request;
    let half = ((b.high - b.low) / 2.0).max(1e-9);
    let room = (b.estimate - report.limit_bytes_per_request)
        .abs()
        .max(half / 10.0);
    let factor = (half / room).powf(2.0 / 3.0).clamp(1.5, 10.0);
    (report.window.requests.max(1) as f64 * (factor - 1.0)).ceil()
}

/// The reason for a run too short to judge.
pub(crate) fn too_short(report: &LeakReport, min_requests: u64, min_points: usize) -> String {
    let w = &report.window;
    let more = (min_requests.saturating_sub(w.requests)).max(min_requests / 2);
    format!(
        "cannot tell: only {} memory samples and {} requests after warm-up; run at least {} more \
         requests (a verdict needs {} requests and {} windows of samples after the first phase)",
        w.samples,
        format_count(w.requests as f64),
        format_count(more as f64),
        format_count(min_requests as f64),
        min_points
    )
}

/// `sentence` prefixed with what was judged when it was not the obvious: the metric fallen
/// back to, and after a restart, where judging started and why.
pub(crate) fn with_context(f: &Findings, sentence: String) -> String {
    let sentence = match f.reset_at_s {
        Some(t) => format!(
            "judged only from {:.1} s: the target restarted (or lost memory) at {t:.1} s, and \
             memory before that belonged to another process; {sentence}",
            f.warmup_end_s
        ),
        None => sentence,
    };
    match &f.fallback {
        Some(why) => format!("{why}; {sentence}"),
        None => sentence,
    }
}

/// Requests that would make growth at `b.estimate` per request material: the sensitivity the
/// model needs of the judged metric, less what the stretch already holds.
fn requests_to_material(report: &LeakReport, f: &Findings) -> f64 {
    let b = report
        .bytes_per_request
        .estimate
        .max(report.limit_bytes_per_request);
    ((f.material - f.judged_growth.max(0.0)) / b)
        .ceil()
        .max(MIN_MORE)
}

/// Never ask for fewer more requests than this.
const MIN_MORE: f64 = 200.0;

/// "/users is flat", "/process grows 1.1KiB per request (95% CI ...)" for each endpoint.
fn endpoint_clauses(report: &LeakReport, names: &[String]) -> Option<String> {
    if names.len() < 2 {
        return None;
    }
    if report.endpoints.values().all(|e| !e.attributed) {
        return Some(
            "the mix never varied, so this cannot be split by endpoint (vary it per phase \
             with `mix:` or use `profile: leak-hunt`)"
                .to_string(),
        );
    }
    let mut leaking = Vec::new();
    let mut rest = Vec::new();
    for name in names {
        let Some(e) = report.endpoints.get(name) else {
            continue;
        };
        let b = e.bytes_per_request;
        match e.verdict {
            Verdict::Leak => leaking.push(format!(
                "{} per `{name}` request ({})",
                format_size(b.estimate),
                ci(b.low, b.high)
            )),
            Verdict::None => rest.push(format!("`{name}` is flat")),
            _ if !e.attributed => rest.push(format!("`{name}` got no requests to judge")),
            _ => rest.push(format!(
                "`{name}` is unclear ({} per request, {})",
                format_size(b.estimate),
                ci(b.low, b.high)
            )),
        }
    }
    let mut parts = Vec::new();
    if !leaking.is_empty() {
        parts.push(format!("it grows {}", leaking.join(" and ")));
    }
    parts.extend(rest);
    Some(parts.join("; "))
}

fn time_clause(report: &LeakReport, f: &Findings) -> String {
    let c = report.bytes_per_second;
    if f.rise < f.material / 2.0 {
        "no growth with time".to_string()
    } else if !f.separable {
        "the load kept one rate, so growth with time cannot be told apart from traffic (add \
         idle phases or use `profile: leak-hunt`)"
            .to_string()
    } else if c.low > f.time_limit {
        format!(
            "it also grows {}/s with time ({})",
            format_size(c.estimate),
            ci(c.low, c.high)
        )
    } else if super::verdict::time_bounded(c, f) {
        "no growth with time".to_string()
    } else {
        format!(
            "growth with time is unclear ({}/s, {})",
            format_size(c.estimate),
            ci(c.low, c.high)
        )
    }
}

/// The sentence for a judged run.
pub(crate) fn sentence(report: &LeakReport, f: &Findings, names: &[String]) -> String {
    let metric = &report.metric;
    let b = report.bytes_per_request;
    let c = report.bytes_per_second;
    let w = &report.window;
    let limit = format_size(report.limit_bytes_per_request);
    let over = format!("over {} requests", format_count(w.requests as f64));
    let endpoints = endpoint_clauses(report, names);
    let mut parts: Vec<String> = Vec::new();
    match report.verdict {
        Verdict::Leak => {
            let head = if b.low > report.limit_bytes_per_request {
                format!(
                    "memory ({metric}) grows {} per request ({}) {over}, above the {limit} limit",
                    format_size(b.estimate),
                    ci(b.low, b.high)
                )
            } else {
                // Only one endpoint leaks; averaged over the mix it stays under the limit.
                format!(
                    "memory ({metric}) grows with requests to one endpoint, above the {limit} \
                     limit per request to it ({} per request overall, {})",
                    format_size(b.estimate),
                    ci(b.low, b.high)
                )
            };
            parts.push(head);
            parts.extend(endpoints);
            parts.push(time_clause(report, f));
        }
        Verdict::TimeGrowth => {
            parts.push(format!(
                "memory ({metric}) grows {}/s with time whatever the traffic ({}), idle phases \
                 included: a timer or background job is hoarding; requests add {} each ({})",
                format_size(c.estimate),
                ci(c.low, c.high),
                format_size(b.estimate),
                ci(b.low, b.high)
            ));
        }
        Verdict::Bounded => {
            parts.push(format!(
                "memory ({metric}) grew {} over the first {} requests after warm-up, \
                 then stayed flat at {} for the last {} ({} per request, {}): a cache or pool \
                 reaching its size, not a leak",
                format_size(f.growth_before),
                format_count(f.requests_before),
                format_size(f.plateau_bytes),
                format_count(w.requests as f64),
                format_size(b.estimate),
                ci(b.low, b.high)
            ));
        }
        Verdict::None => {
            parts.push(format!(
                "no leak: {metric} changes {} per request ({}) {over}, within the {limit} limit",
                format_size(b.estimate),
                ci(b.low, b.high)
            ));
            parts.extend(endpoints);
            parts.push(time_clause(report, f));
        }
        Verdict::Inconclusive => {
            let small_leak = b.low > report.limit_bytes_per_request && f.judged_growth < f.material;
            let small_time = c.low > f.time_limit && f.time_growth < f.material / 2.0;
            if let Some(tail) = f.flat_tail {
                parts.push(format!(
                    "cannot tell: {metric} grew {} per request ({}) {over}, but stayed flat \
                     over its last {} requests: a cache that filled, or a leak that paused \
                     while it refilled freed memory; run at least {} more requests",
                    format_size(b.estimate),
                    ci(b.low, b.high),
                    format_count(tail.requests),
                    format_count(tail.more)
                ));
            } else if small_time && !small_leak {
                // Seconds that would let growth at c's rate add half the material floor.
                let more = (f.material / 2.0 - f.time_growth.max(0.0)) / c.estimate.max(1.0);
                parts.push(format!(
                    "cannot tell: {metric} grows {}/s with time ({}), but only {} over the judged \
                     {:.0} s, less than the {} a verdict on it needs; run at least {:.0} s longer, \
                     with idle phases",
                    format_size(c.estimate),
                    ci(c.low, c.high),
                    format_size(f.time_growth.max(0.0)),
                    f.seconds,
                    format_size(f.material / 2.0),
                    more.ceil()
                ));
            } else if small_leak {
                parts.push(format!(
                    "cannot tell: {metric} rises {} per request ({}) {over}, but only {} in all, \
                     less than the {} it moves by without a leak (heap steps, a runtime still \
                     growing its heap); run at least {} more requests",
                    format_size(b.estimate),
                    ci(b.low, b.high),
                    format_size(f.judged_growth),
                    format_size(f.material),
                    format_count(requests_to_material(report, f))
                ));
            } else if b.high <= report.limit_bytes_per_request {
                parts.push(format!(
                    "cannot tell: {metric} changes only {} per request ({}), but growth with \
                     time ({}/s, {}) straddles the {}/s limit; run longer, with more idle time",
                    format_size(b.estimate),
                    ci(b.low, b.high),
                    format_size(c.estimate),
                    ci(c.low, c.high),
                    format_size(f.time_limit)
                ));
            } else if b.low > report.limit_bytes_per_request {
                parts.push(format!(
                    "cannot tell: {metric} rises {} per request ({}) {over} but without a \
                     consistent trend; run at least {} more requests",
                    format_size(b.estimate),
                    ci(b.low, b.high),
                    format_count(more_requests(report))
                ));
            } else {
                parts.push(format!(
                    "cannot tell: {metric} changes {} per request but the interval ({}) \
                     straddles the {limit} limit {over}; run at least {} more requests",
                    format_size(b.estimate),
                    ci(b.low, b.high),
                    format_count(more_requests(report))
                ));
                if f.separable && c.high > f.time_limit {
                    parts.push(time_clause(report, f));
                }
            }
            parts.extend(endpoints);
        }
    }
    parts.join("; ")
}
