//! The resolved plan as plain text, for `leakhound validate`: what will run, with every default
//! filled in, so a user can check the scenario means what they think before a long soak.

use std::fmt::Write as _;

use super::plan::{Model, Plan, SourcePlan, TargetProcess};
use crate::units::{format_count, format_duration, format_rate};

/// Renders rows as columns padded to the widest cell; `right[i]` right-aligns column i.
fn table(rows: &[Vec<String>], right: &[bool], indent: &str) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = widths[c].saturating_sub(cell.chars().count());
            if right.get(c).copied().unwrap_or(false) {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Quotes an argument only when it needs it, so the command reads like a shell line.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

fn pairs(rows: &[(&str, String)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(k, v)| vec![k.to_string(), v.clone()])
        .collect();
    table(&rows, &[], "  ")
}

/// One memory source and what it reads, e.g. `prometheus  GET http://... : a_bytes, b_bytes`.
fn source_line(s: &SourcePlan) -> String {
    let what = match s {
        SourcePlan::Process => "the target's process tree (/proc): rss, rss_anon, pss, ...".into(),
        SourcePlan::Cgroup { path: None } => {
            "the target's own cgroup (v2): cgroup_current, cgroup_anon, cgroup_file".into()
        }
        SourcePlan::Cgroup { path: Some(p) } => {
            format!("{}: cgroup_current, cgroup_anon, cgroup_file", p.display())
        }
        SourcePlan::Docker { container } => {
            format!("container {container}'s cgroup: docker_current, docker_anon, docker_file")
        }
        SourcePlan::Prometheus { url, series } => format!("GET {url}: {}", series.join(", ")),
        SourcePlan::Json { url, pointer, name } => format!("GET {url} at {pointer}: {name}"),
        SourcePlan::Inspector { gc_every, .. } => {
            let gc = match gc_every {
                0 => "no forced GC".to_string(),
                1 => "after a forced full GC at every sample".to_string(),
                n => format!("a forced full GC every {n} samples"),
            };
            format!(
                "V8 heap via the inspector: heap_used, heap_total, external, array_buffers; {gc}"
            )
        }
        SourcePlan::GcLog {
            file,
            runtime,
            force_every_ms,
        } => {
            let from = file
                .as_ref()
                .map_or("target.log".into(), |f| f.display().to_string());
            let which = runtime.map_or("node, jvm or go".into(), |r| r.name().to_string());
            let force = force_every_ms.map_or(String::new(), |ms| {
                let every = format_duration(std::time::Duration::from_millis(ms));
                format!("; a full collection forced after {every} without one")
            });
            format!("the runtime's GC trace ({which}) in {from}: heap_after_gc, pauses{force}")
        }
    };
    format!("{:<10}  {what}", s.name())
}

/// The inspector's extra lines: where its inspector comes from and when snapshots are taken.
fn inspector_lines(plan: &Plan, connect: Option<&String>) -> Vec<String> {
    let mut out = Vec::new();
    let how = match (
        connect,
        crate::memory::inspector::with_inspector(&plan.target.process),
    ) {
        (Some(addr), _) => format!("connects to the inspector at {addr}"),
        (None, Some((_, crate::memory::inspector::LaunchMode::Flag))) => format!(
            "leakhound adds {} to the node command and reads the port from target.log",
            crate::inspect::INSPECT_FLAG
        ),
        (None, Some(_)) => format!(
            "leakhound adds {} to NODE_OPTIONS; the last inspector announced in target.log is used",
            crate::inspect::INSPECT_FLAG
        ),
        (None, None) => "no inspector to connect to (give `connect:`)".to_string(),
    };
    out.push(format!("{:<10}  {how}", ""));
    let snaps = crate::memory::heap::schedule(plan);
    if snaps.is_empty() {
        out.push(format!("{:<10}  no heap snapshots", ""));
    } else {
        let at: Vec<String> = snaps
            .iter()
            .map(|s| {
                format!(
                    "{} at {}",
                    s.label,
                    format_duration(std::time::Duration::from_secs_f64(s.at_s.max(0.0)))
                )
            })
            .collect();
        let diff = if snaps.len() >= 2 {
            "; diffed after the run (What grew)"
        } else {
            "; one snapshot: no diff"
        };
        out.push(format!(
            "{:<10}  heap snapshots {} into heap-<label>.heapsnapshot (each pauses the target){diff}",
            "",
            at.join(", ")
        ));
    }
    out
}

/// Human-readable resolved plan for `leakhound validate`.
pub fn describe(plan: &Plan) -> String {
    let mut out = String::new();
    let source = plan
        .source
        .as_ref()
        .map(|s| format!("  ({})", s.display()))
        .unwrap_or_default();
    let _ = writeln!(out, "Scenario {}{source}\n", plan.name);

    let t = &plan.target;
    let mut target = vec![("base url", t.base_url.clone())];
    match &t.process {
        TargetProcess::Launch { command, cwd, env } => {
            let words: Vec<String> = command.iter().map(|w| shell_word(w)).collect();
            target.push((
                "process",
                format!("started by leakhound: {}", words.join(" ")),
            ));
            if let Some(cwd) = cwd {
                target.push(("cwd", cwd.display().to_string()));
            }
            if !env.is_empty() {
                let vars: Vec<String> = env
                    .iter()
                    .map(|(k, v)| format!("{k}={}", shell_word(v)))
                    .collect();
                target.push(("env", vars.join(" ")));
            }
        }
        TargetProcess::Pid { pid } => target.push(("process", format!("attach to pid {pid}"))),
        TargetProcess::PidFile { path } => target.push((
            "process",
            format!("attach to the pid in {} (read at start)", path.display()),
        )),
        TargetProcess::None => target.push((
            "process",
            "none (load only, no memory sampling)".to_string(),
        )),
    }
    let ready = match &t.ready.path {
        Some(p) => format!("GET {p} answers 2xx/3xx"),
        None => format!("TCP connect to {}:{}", t.host, t.port),
    };
    target.push((
        "ready",
        format!("{ready}, within {}", format_duration(t.ready.timeout)),
    ));
    let _ = writeln!(out, "Target\n{}", pairs(&target));

    let m = &plan.memory;
    let mut memory = vec![
        ("interval", format_duration(m.interval)),
        (
            "metric",
            format!("{} (the verdict is judged on it)", m.metric),
        ),
    ];
    if m.sources.is_empty() {
        memory.push(("sources", "none".to_string()));
    }
    for (i, s) in m.sources.iter().enumerate() {
        memory.push((if i == 0 { "sources" } else { "" }, source_line(s)));
        if let SourcePlan::Inspector { connect, .. } = s {
            for line in inspector_lines(plan, connect.as_ref()) {
                memory.push(("", line));
            }
        }
        if let Some(t) = crate::memory::gc_log::launch::for_sources(
            std::slice::from_ref(s),
            &plan.target.process,
            Some(std::path::Path::new("RUN_FOLDER/leakhound-preload.js")),
        ) {
            for line in t.done.iter().chain(&t.warnings) {
                memory.push(("", format!("{:<10}  {line}", "")));
            }
        }
    }
    let _ = writeln!(out, "Memory\n{}", pairs(&memory));

    let l = &plan.load;
    let model = match l.model {
        Model::Open => "open (arrival rate; latency from the intended send time)",
        Model::Closed => "closed (fixed concurrency)",
    };
    let mut load = vec![
        ("model", model.to_string()),
        (
            "timeout",
            format!("{} per request", format_duration(l.timeout)),
        ),
    ];
    if l.model == Model::Open {
        load.push(("max in flight", l.max_in_flight.to_string()));
    }
    let _ = writeln!(out, "Load\n{}", pairs(&load));

    let open = l.model == Model::Open;
    let mut rows = vec![vec![
        "#".to_string(),
        "phase".to_string(),
        "duration".to_string(),
        if open { "rate" } else { "concurrency" }.to_string(),
    ]];
    if open {
        rows[0].push("requests".to_string());
    }
    // Per-phase mixes (leak-hunt's rotation, or `mix:` in a phase) are what lets the analysis
    // attribute growth to endpoints, so show them.
    let mixed = l.phases.iter().any(|p| p.mix.is_some());
    if mixed {
        let names: Vec<&str> = plan.requests.iter().map(|r| r.name.as_str()).collect();
        rows[0].push(format!("mix ({})", names.join(":")));
    }
    let mut total_requests = 0.0;
    for (i, p) in l.phases.iter().enumerate() {
        let load = if p.is_idle(l.model) {
            "idle".to_string()
        } else if open {
            match p.ramp_to {
                Some(to) => format!("{} -> {}", format_rate(p.rate), format_rate(to)),
                None => format_rate(p.rate),
            }
        } else {
            p.concurrency.to_string()
        };
        let mut row = vec![
            (i + 1).to_string(),
            p.name.clone(),
            format_duration(p.duration),
            load,
        ];
        if open {
            total_requests += p.expected_requests();
            row.push(format_count(p.expected_requests()));
        }
        if mixed {
            row.push(match &p.mix {
                Some(w) if !p.is_idle(l.model) => {
                    w.iter().map(u32::to_string).collect::<Vec<_>>().join(":")
                }
                Some(_) => "-".to_string(),
                None => "weights".to_string(),
            });
        }
        rows.push(row);
    }
    let mut total = vec![
        String::new(),
        "total".to_string(),
        format_duration(plan.total_duration()),
        String::new(),
    ];
    if open {
        total.push(format_count(total_requests));
    }
    if mixed {
        total.push(String::new());
    }
    rows.push(total);
    let _ = writeln!(
        out,
        "Phases\n{}",
        table(&rows, &[true, false, true, false, open, false], "  ")
    );

    let weights: u64 = plan.requests.iter().map(|r| u64::from(r.weight)).sum();
    let mut rows = vec![vec![
        "request".to_string(),
        "method".to_string(),
        "path".to_string(),
        "weight".to_string(),
        "share".to_string(),
    ]];
    for r in &plan.requests {
        let share = 100.0 * f64::from(r.weight) / weights.max(1) as f64;
        let mut path = r.path.raw().to_string();
        if r.body.is_some() {
            path.push_str("  (with body)");
        }
        rows.push(vec![
            r.name.clone(),
            r.method.clone(),
            path,
            r.weight.to_string(),
            format!("{share:.1}%"),
        ]);
    }
    let _ = writeln!(
        out,
        "Requests\n{}",
        table(&rows, &[false, false, false, true, true], "  ")
    );

    let th = &plan.thresholds;
    let mut limits: Vec<Vec<String>> = Vec::new();
    let mut limit = |name: &str, text: &str, meaning: &str| {
        limits.push(vec![
            name.to_string(),
            text.to_string(),
            meaning.to_string(),
        ]);
    };
    if let Some(l) = &th.leak_per_request {
        limit(
            "leak_per_request",
            &l.text,
            "per request; fails when the leak's lower 95% bound is above it",
        );
    }
    if let Some(l) = &th.growth {
        limit(
            "growth",
            &l.text,
            "growth of the judged metric after warm-up",
        );
    }
    if let Some(l) = &th.p99 {
        limit("p99", &l.text, "99th percentile latency");
    }
    if let Some(l) = &th.error_rate {
        limit(
            "error_rate",
            &l.text,
            "failed requests (status >= 400, connection errors, timeouts)",
        );
    }
    if limits.is_empty() {
        out.push_str("Thresholds\n  none (the run passes unless the target fails)\n");
    } else {
        let _ = write!(
            out,
            "Thresholds\n{}",
            table(&limits, &[false, true, false], "  ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            vec!["a".to_string(), "1".to_string()],
            vec!["long".to_string(), "100".to_string()],
        ];
        assert_eq!(table(&rows, &[false, true], ""), "a       1\nlong  100\n");
    }

    #[test]
    fn thousands_and_quoting() {
        assert_eq!(format_count(157500.0), "157,500");
        assert_eq!(format_count(999.0), "999");
        assert_eq!(format_count(1000.4), "1,000");
        assert_eq!(shell_word("server.js"), "server.js");
        assert_eq!(shell_word("a b"), "'a b'");
    }
}
