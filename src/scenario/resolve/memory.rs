//! The `memory` section: sampling interval, the sources to record (each with its options) and
//! the judged metric, which one of the sources must provide.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::error::KeyPath;
use super::super::plan::{MemoryPlan, SourcePlan, TargetProcess};
use super::super::schema::{self, InspectorOptions, SourceEntry, Text};
use super::super::source::Source;
use super::inspector::inspector;
use super::Result;
use crate::memory::inspector::launch_mode;
use crate::memory::prometheus::Selector;
use crate::memory::{metrics_of, METRICS};

/// Memory sources that work today.
pub const SOURCES: &[&str] = &[
    "process",
    "cgroup",
    "docker",
    "prometheus",
    "json",
    "inspector",
    "gc_log",
];
/// Memory sources that are planned but not built yet.
const LATER_SOURCES: &[&str] = &[];

pub(super) fn memory(
    m: Option<&schema::Memory>,
    src: &Source,
    at: &KeyPath,
    process: &TargetProcess,
    (base_dir, force_every): (&Path, Duration),
) -> Result<MemoryPlan> {
    let interval = match m.and_then(|m| m.interval.as_ref()) {
        None => Duration::from_secs(1),
        Some(d) if d.value < Duration::from_millis(100) || d.value > Duration::from_secs(60) => {
            return Err(src.value_error(
                &at.key("interval"),
                format!("`{}` is out of range; use 100ms to 60s (e.g. 1s)", d.text),
            ))
        }
        Some(d) => d.value,
    };
    let mut sources: Vec<SourcePlan> = Vec::new();
    // Which source provides each metric, to refuse two sources reporting the same name.
    let mut provided: Vec<(String, &'static str)> = Vec::new();
    let no_source = || {
        src.value_error(
            &at.key("sources"),
            "lists no source; add one, e.g. `sources: [process]`",
        )
    };
    match m.and_then(|m| m.sources.as_ref()) {
        None => sources = super::gc_log::default_sources(process),
        Some(list) if list.is_empty() => return Err(no_source()),
        Some(list) => {
            for (i, entry) in list.iter().enumerate() {
                let here = at.key("sources").index(i);
                let plan = source(entry, (interval, base_dir), src, &here)?;
                if let Some(j) = sources.iter().position(|s| s.name() == plan.name()) {
                    let how = match plan {
                        SourcePlan::Prometheus { .. } => "; list all its series in one entry",
                        _ => "",
                    };
                    return Err(src.value_error(
                        &here,
                        format!(
                            "`{}` is already listed at memory.sources[{j}]; each source may be \
                             listed once{how}",
                            plan.name()
                        ),
                    ));
                }
                for metric in metrics_of(&plan) {
                    if let Some((_, other)) = provided.iter().find(|(m, _)| *m == metric) {
                        return Err(src.value_error(
                            &here,
                            format!(
                                "metric `{metric}` is also reported by the `{other}` source; \
                                 metric names must be unique across sources{}",
                                if matches!(plan, SourcePlan::Json { .. }) {
                                    " (give this one another `name`)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    provided.push((metric, plan.name()));
                }
                sources.push(plan);
            }
        }
    }
    if provided.is_empty() {
        provided = sources
            .iter()
            .flat_map(|s| metrics_of(s).into_iter().map(|m| (m, s.name())))
            .collect();
    }
    let inspector = sources
        .iter()
        .any(|s| matches!(s, SourcePlan::Inspector { .. }));
    let gc_log = sources
        .iter()
        .any(|s| matches!(s, SourcePlan::GcLog { .. }));
    let metric = match m.and_then(|m| m.metric.as_ref()) {
        // The runtime's own heap after its major collections when its GC trace is read (the
        // analysis falls back to rss_anon when too few happened); else the V8 heap after GC
        // when the inspector is on: live objects, no GC sawtooth, no allocator slack; else
        // rss_anon when the process source is there; else the first source's first metric.
        None if gc_log => crate::memory::gc_log::METRIC.to_string(),
        None if inspector => "heap_used".to_string(),
        None if sources.contains(&SourcePlan::Process) => "rss_anon".to_string(),
        None => match provided.first() {
            Some((m, _)) => m.clone(),
            None => return Err(no_source()),
        },
        Some(Text(name)) if provided.iter().any(|(m, _)| m == name) => name.clone(),
        Some(Text(name)) => {
            let all: Vec<&str> = provided.iter().map(|(m, _)| m.as_str()).collect();
            let hint = if METRICS.contains(&name.as_str()) {
                " (add the `process` source to memory.sources for it)".to_string()
            } else if crate::inspect::cdp::METRICS.contains(&name.as_str()) {
                " (add the `inspector` source to memory.sources for it)".to_string()
            } else {
                String::new()
            };
            return Err(src.value_error(
                &at.key("metric"),
                format!(
                    "unknown metric `{name}`; use one of: {}{hint}",
                    all.join(", ")
                ),
            ));
        }
    };
    super::gc_log::settle_auto(&mut sources, &metric, force_every);
    Ok(MemoryPlan {
        interval,
        metric,
        sources,
    })
}

/// Checks the sources against the target: the inspector source without `connect` needs a
/// target leakhound launches and can open an inspector in (node, or a launcher of node).
/// To be called by `resolve` right after `memory` (until then a run reports the same problem
/// when it opens the source, exit 3).
pub(super) fn check_target(
    memory: &MemoryPlan,
    process: &TargetProcess,
    src: &Source,
    at: &KeyPath,
) -> Result<()> {
    let Some(i) = memory
        .sources
        .iter()
        .position(|s| matches!(s, SourcePlan::Inspector { connect: None, .. }))
    else {
        return Ok(());
    };
    let here = at.key("sources").index(i);
    match process {
        TargetProcess::Launch { command, env, .. } => match launch_mode(command, env) {
            Ok(_) => Ok(()),
            Err(program) => Err(src.value_error(
                &here,
                format!(
                    "the inspector source cannot open a V8 inspector in `{program}`: leakhound \
                     adds --inspect=127.0.0.1:0 to a `node` command (or NODE_OPTIONS for npm, \
                     npx, yarn, pnpm, nodemon, ts-node, tsx). Give `- inspector: {{connect: \
                     127.0.0.1:9229}}` for a node process started with --inspect, or set \
                     `target.env.NODE_OPTIONS: --inspect=127.0.0.1:0` if `{program}` starts node"
                ),
            )),
        },
        _ => Err(src.value_error(
            &here,
            "the inspector source needs `connect: HOST:PORT` when leakhound does not launch \
             the target: start it with `node --inspect=127.0.0.1:9229 server.js` and write \
             `- inspector: {connect: 127.0.0.1:9229}`",
        )),
    }
}

/// One `memory.sources` entry.
fn source(
    entry: &SourceEntry,
    (interval, base_dir): (Duration, &Path),
    src: &Source,
    here: &KeyPath,
) -> Result<SourcePlan> {
    let supported = SOURCES.join(", ");
    let needs = |name: &str, example: &str| {
        src.value_error(
            here,
            format!("memory source `{name}` needs options; write it as `- {name}: {example}`"),
        )
    };
    match entry {
        SourceEntry::Name(name) => match name.as_str() {
            "process" => Ok(SourcePlan::Process),
            "cgroup" => Ok(SourcePlan::Cgroup { path: None }),
            "inspector" => inspector(&InspectorOptions::default(), interval, src, here),
            "gc_log" => Ok(super::gc_log::bare()),
            "docker" => Err(needs("docker", "{container: my-api}")),
            "prometheus" => Err(needs(
                "prometheus",
                "{url: http://127.0.0.1:9464/metrics, series: [process_resident_memory_bytes]}",
            )),
            "json" => Err(needs(
                "json",
                "{url: http://127.0.0.1:3000/stats, pointer: /memory/heapUsed, name: heap_used}",
            )),
            n if LATER_SOURCES.contains(&n) => Err(src.value_error(
                here,
                format!("memory source `{n}` is not supported yet; supported: {supported}"),
            )),
            n => Err(src.value_error(
                here,
                format!("unknown memory source `{n}`; supported: {supported}"),
            )),
        },
        SourceEntry::Cgroup(o) => {
            let path = match &o.path {
                None => None,
                Some(Text(p)) if p.starts_with('/') => Some(PathBuf::from(p)),
                Some(Text(p)) => {
                    return Err(src.value_error(
                        &here.key("cgroup").key("path"),
                        format!(
                            "`{p}` is not an absolute path; give the cgroup v2 directory, e.g. \
                             /sys/fs/cgroup/system.slice/my-api.service, or leave `path` out \
                             for the target's own cgroup"
                        ),
                    ))
                }
            };
            Ok(SourcePlan::Cgroup { path })
        }
        SourceEntry::Docker(o) => {
            let c = o.container.0.trim();
            let ok = |ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-');
            if c.is_empty() || c.starts_with('-') || !c.chars().all(ok) {
                return Err(src.value_error(
                    &here.key("docker").key("container"),
                    format!("`{c}` is not a container name or id (e.g. my-api or 3f2a9c1b)"),
                ));
            }
            Ok(SourcePlan::Docker {
                container: c.to_string(),
            })
        }
        SourceEntry::Prometheus(o) => {
            let at = here.key("prometheus");
            let url = http_url(&o.url.0, src, &at.key("url"), "/metrics")?;
            if o.series.is_empty() {
                return Err(src.value_error(
                    &at.key("series"),
                    "needs at least one series, e.g. [process_resident_memory_bytes]",
                ));
            }
            let mut series = Vec::with_capacity(o.series.len());
            for (i, Text(s)) in o.series.iter().enumerate() {
                let sel = Selector::parse(s)
                    .map_err(|e| src.value_error(&at.key("series").index(i), e))?;
                series.push(sel.text);
            }
            Ok(SourcePlan::Prometheus { url, series })
        }
        SourceEntry::Json(o) => {
            let at = here.key("json");
            let url = http_url(&o.url.0, src, &at.key("url"), "/stats")?;
            let pointer = o.pointer.0.trim().to_string();
            if !pointer.starts_with('/') {
                return Err(src.value_error(
                    &at.key("pointer"),
                    format!(
                        "`{pointer}` is not a JSON pointer; write the path from the document's \
                         root with `/`, e.g. /memory/heapUsed"
                    ),
                ));
            }
            let name = match &o.name {
                Some(Text(n)) => n.trim().to_string(),
                // The pointer's last step: /memory/heapUsed -> heapUsed.
                None => pointer.rsplit('/').next().unwrap_or_default().to_string(),
            };
            let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':');
            if name.is_empty() || !name.chars().all(ok) {
                let key = if o.name.is_some() { "name" } else { "pointer" };
                return Err(src.value_error(
                    &at.key(key),
                    format!(
                        "`{name}` cannot name a metric; give `name:` of letters, digits, `_`, \
                         `.`, `-` (e.g. heap_used)"
                    ),
                ));
            }
            Ok(SourcePlan::Json { url, pointer, name })
        }
        SourceEntry::Inspector(o) => inspector(o, interval, src, &here.key("inspector")),
        SourceEntry::GcLog(o) => super::gc_log::options(o, src, &here.key("gc_log"), base_dir),
    }
}

/// An http(s) URL with a host, as text.
fn http_url(text: &str, src: &Source, at: &KeyPath, example_path: &str) -> Result<String> {
    let text = text.trim();
    let example = format!("e.g. http://127.0.0.1:9464{example_path}");
    let url = reqwest::Url::parse(text)
        .map_err(|e| src.value_error(at, format!("`{text}` is not a URL ({e}); {example}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(src.value_error(
            at,
            format!("`{text}` is not an http:// or https:// URL with a host; {example}"),
        ));
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::{parse, Overrides, Plan};

    const BASE: &str = "\
name: m
target:
  base_url: http://127.0.0.1:3000
  pid: 4242
load:
  phases:
    - {name: a, duration: 10s, rate: 10}
requests:
  - path: /
memory:
";

    fn run(memory: &str) -> std::result::Result<Plan, String> {
        let text = format!("{BASE}{memory}");
        parse(&text, "s.yaml", Path::new("/base"), &Overrides::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn bare_names_and_option_maps_resolve() {
        let p = run("  metric: process_resident_memory_bytes
  sources:
    - process
    - cgroup
    - prometheus: {url: 'http://127.0.0.1:9464/metrics', series: [process_resident_memory_bytes, 'nodejs_heap_space_size_used_bytes{space=\"old\"}']}
    - json: {url: 'http://127.0.0.1:3000/stats', pointer: /memory/heapUsed}
    - docker: {container: my-api}
")
        .unwrap();
        let m = p.memory;
        assert_eq!(m.metric, "process_resident_memory_bytes");
        assert_eq!(m.sources[0], SourcePlan::Process);
        assert_eq!(m.sources[1], SourcePlan::Cgroup { path: None });
        assert_eq!(
            m.sources[2],
            SourcePlan::Prometheus {
                url: "http://127.0.0.1:9464/metrics".into(),
                series: vec![
                    "process_resident_memory_bytes".into(),
                    "nodejs_heap_space_size_used_bytes{space=\"old\"}".into()
                ],
            }
        );
        assert_eq!(
            m.sources[3],
            SourcePlan::Json {
                url: "http://127.0.0.1:3000/stats".into(),
                pointer: "/memory/heapUsed".into(),
                name: "heapUsed".into(),
            }
        );
        assert_eq!(
            m.sources.join(", "),
            "process, cgroup, prometheus, json, docker"
        );
        // The plan round-trips through run.json, and the old form still loads.
        let json = serde_json::to_string(&m.sources).unwrap();
        let back: Vec<SourcePlan> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m.sources);
        let old: Vec<SourcePlan> = serde_json::from_str(r#"["process"]"#).unwrap();
        assert_eq!(old, vec![SourcePlan::Process]);
    }

    #[test]
    fn metric_defaults_follow_the_sources() {
        assert_eq!(
            run("  sources: [process, cgroup]\n").unwrap().memory.metric,
            "rss_anon"
        );
        let p = run("  sources: [{cgroup: {path: /sys/fs/cgroup/x}}]\n").unwrap();
        assert_eq!(p.memory.metric, "cgroup_current");
        let p = run("  sources:\n    - cgroup:\n  metric: cgroup_anon\n").unwrap();
        assert_eq!(p.memory.sources, vec![SourcePlan::Cgroup { path: None }]);
        assert_eq!(p.memory.metric, "cgroup_anon");
    }

    #[test]
    fn errors_name_the_line_and_key_and_the_fix() {
        let cases = [
            ("  sources: [prometheus]\n", "s.yaml:11:13: memory.sources[0]: memory source `prometheus` needs options; write it as `- prometheus: {url:"),
            ("  sources: [{prometheus: {url: 'ftp://x/metrics', series: [a]}}]\n", "s.yaml:11:32: memory.sources[0].prometheus.url: `ftp://x/metrics` is not an http:// or https:// URL"),
            ("  sources: [{prometheus: {url: 'http://h/m', series: []}}]\n", "memory.sources[0].prometheus.series: needs at least one series"),
            ("  sources: [{prometheus: {url: 'http://h/m', series: [a, '9b']}}]\n", "memory.sources[0].prometheus.series[1]: `9b` is not a Prometheus series name"),
            ("  sources: [{prometheus: {url: 'http://h/m', serie: [a]}}]\n", "memory.sources[0].prometheus: unknown key `serie`"),
            ("  sources: [{json: {url: 'http://h/s', pointer: memory.heapUsed}}]\n", "memory.sources[0].json.pointer: `memory.heapUsed` is not a JSON pointer"),
            ("  sources: [process, {json: {url: 'http://h/s', pointer: /rss, name: rss}}]\n", "memory.sources[1]: metric `rss` is also reported by the `process` source"),
            ("  sources: [{cgroup: {path: relative/x}}]\n", "memory.sources[0].cgroup.path: `relative/x` is not an absolute path"),
            ("  sources: [{docker: {container: '-rm'}}]\n", "memory.sources[0].docker.container: `-rm` is not a container name"),
            ("  sources: [docker]\n", "memory source `docker` needs options; write it as `- docker: {container: my-api}`"),
            ("  sources: [{heap: {a: 1}}]\n", "memory.sources[0]: `heap` is not a source that takes options"),
            ("  sources: [{cgroup: ~, docker: {container: x}}]\n", "give one source per list entry"),
            ("  sources: [process, process]\n", "memory.sources[1]: `process` is already listed at memory.sources[0]"),
            ("  sources: [cgroup]\n  metric: rss_anon\n", "memory.metric: unknown metric `rss_anon`; use one of: cgroup_current, cgroup_anon, cgroup_file (add the `process` source"),
            ("  sources: []\n", "memory.sources: lists no source"),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(yaml, want)| match run(yaml) {
                Ok(_) => Some(format!("{yaml}: no error, wanted {want}")),
                Err(e) if e.contains(want) => None,
                Err(e) => Some(format!("{yaml}: got\n  {e}\nwanted\n  {want}")),
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn the_inspector_resolves_with_defaults_and_judges_heap_used() {
        let run = |memory: &str| {
            let text = BASE.replace("  pid: 4242\n", "  command: [node, app.js]\n") + memory;
            parse(&text, "s.yaml", Path::new("/base"), &Overrides::default())
                .map_err(|e| e.to_string())
        };
        let p = run("  interval: 250ms\n  sources: [process, inspector]\n").unwrap();
        assert_eq!(p.memory.metric, "heap_used");
        assert_eq!(
            p.memory.sources[1],
            SourcePlan::Inspector {
                connect: None,
                gc_every: 4,
                snapshots: vec!["after-warmup".into(), "mid".into(), "end".into()],
            }
        );
        let p = run("  metric: rss_anon\n  sources:\n    - process\n    - inspector: {connect: '127.0.0.1:9229', gc_every: 0, snapshots: [end, after_warmup]}\n").unwrap();
        assert_eq!(p.memory.metric, "rss_anon");
        assert_eq!(
            p.memory.sources[1],
            SourcePlan::Inspector {
                connect: Some("127.0.0.1:9229".into()),
                gc_every: 0,
                snapshots: vec!["end".into(), "after-warmup".into()],
            }
        );
        let cases = [
            (
                "  sources: [{inspector: {connect: 'localhost'}}]\n",
                "memory.sources[0].inspector.connect: `localhost` is not an inspector address",
            ),
            (
                "  sources: [{inspector: {snapshots: [start]}}]\n",
                "memory.sources[0].inspector.snapshots[0]: unknown snapshot point `start`",
            ),
            (
                "  sources: [{inspector: {snapshots: [mid, mid]}}]\n",
                "`mid` is listed twice",
            ),
            (
                "  sources: [{inspector: {gc_every: 100000}}]\n",
                "memory.sources[0].inspector.gc_every: `100000` is too large",
            ),
            (
                "  sources: [{inspector: {gc: 1}}]\n",
                "memory.sources[0].inspector: unknown key `gc`",
            ),
        ];
        for (yaml, want) in cases {
            let e = run(yaml).unwrap_err();
            assert!(e.contains(want), "{yaml}: {e}");
        }
    }

    #[test]
    fn the_inspector_needs_a_node_target_or_an_address() {
        // Checked while resolving, so `validate` refuses it with the line (exit 2).
        let check = |target: &str, sources: &str| {
            let text = BASE.replace("  pid: 4242\n", target) + sources;
            parse(&text, "s.yaml", Path::new("/"), &Overrides::default())
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let e = check("  pid: 4242\n", "  sources: [inspector]\n").unwrap_err();
        assert!(
            e.contains("s.yaml:11:")
                && e.contains("memory.sources[0]: the inspector source needs `connect: HOST:PORT`"),
            "{e}"
        );
        let e = check(
            "  command: [python3, app.py]\n",
            "  sources: [process, inspector]\n",
        )
        .unwrap_err();
        assert!(e.contains("cannot open a V8 inspector in `python3`"), "{e}");
        assert!(check("  command: [node, app.js]\n", "  sources: [inspector]\n").is_ok());
        assert!(check("  command: [npm, start]\n", "  sources: [inspector]\n").is_ok());
        assert!(check(
            "  pid: 4242\n",
            "  sources: [{inspector: {connect: '127.0.0.1:9229'}}]\n"
        )
        .is_ok());
    }

    #[test]
    fn sources_without_a_process_need_no_target_process() {
        let text = BASE.replace("  pid: 4242\n", "")
            + "  sources: [{json: {url: 'http://10.0.0.5:3000/stats', pointer: /rss}}]\n";
        let p = parse(&text, "s.yaml", Path::new("/"), &Overrides::default()).unwrap();
        assert_eq!(p.memory.metric, "rss");
        let text = BASE.replace("  pid: 4242\n", "") + "  sources: [cgroup]\n";
        let e = parse(&text, "s.yaml", Path::new("/"), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("or give the cgroup itself"), "{e}");
    }
}
