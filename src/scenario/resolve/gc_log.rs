//! The `gc_log` memory source in a scenario: `- gc_log` (the launched target's trace, turned
//! on by leakhound) or `- gc_log: {file: PATH, runtime: node|jvm|go}`; when it is on by
//! default; and the check that a target leakhound does not launch names a `file`.
//!
//! On by default (when `memory.sources` is not given) for a launched node, java or Go
//! program: their trace can be turned on without touching the code. A launcher (npm) cannot
//! pass Node the flag, and other programs may run no collector at all, so they get it only
//! when listed.

use std::path::Path;

use super::super::error::KeyPath;
use super::super::plan::{GcRuntime, MemoryPlan, SourcePlan, TargetProcess};
use super::super::schema::{GcLogOptions, Text};
use super::super::source::Source;
use super::target::relative_to;
use super::Result;
use crate::memory::gc_log::launch::default_runtime;

/// `- gc_log: {...}`; `at` is the options' own path.
pub(super) fn options(
    o: &GcLogOptions,
    src: &Source,
    at: &KeyPath,
    base_dir: &Path,
) -> Result<SourcePlan> {
    let file = match &o.file {
        None => None,
        Some(Text(f)) if f.trim().is_empty() => {
            return Err(src.value_error(
                &at.key("file"),
                "is empty; give the file the runtime writes its GC trace to, e.g. \
                 /var/log/app/gc.log (relative to the scenario's folder), or leave `file` out \
                 for a target leakhound launches",
            ))
        }
        Some(Text(f)) => Some(relative_to(base_dir, f.trim())),
    };
    let runtime = match o.runtime.as_ref().map(|t| t.0.trim()) {
        None => None,
        Some("node") => Some(GcRuntime::Node),
        Some("jvm" | "java") => Some(GcRuntime::Jvm),
        Some("go") => Some(GcRuntime::Go),
        Some(other) => {
            return Err(src.value_error(
                &at.key("runtime"),
                format!(
                    "unknown runtime `{other}`; use node, jvm or go (or leave it out: each \
                     line's format says which runtime wrote it)"
                ),
            ))
        }
    };
    Ok(SourcePlan::GcLog { file, runtime })
}

/// The sources when `memory.sources` is not given: the process tree, and the GC trace of a
/// launched node, java or Go program.
pub(super) fn default_sources(process: &TargetProcess) -> Vec<SourcePlan> {
    let mut sources = vec![SourcePlan::Process];
    if default_runtime(process).is_some() {
        sources.push(SourcePlan::GcLog {
            file: None,
            runtime: None,
        });
    }
    sources
}

/// `gc_log` without `file` reads the output of a target leakhound launches.
pub(super) fn check_target(
    memory: &MemoryPlan,
    process: &TargetProcess,
    src: &Source,
    at: &KeyPath,
) -> Result<()> {
    let Some(i) = memory
        .sources
        .iter()
        .position(|s| matches!(s, SourcePlan::GcLog { file: None, .. }))
    else {
        return Ok(());
    };
    if matches!(process, TargetProcess::Launch { .. }) {
        return Ok(());
    }
    Err(src.value_error(
        &at.key("sources").index(i),
        "the gc_log source reads the GC trace from the output of a target leakhound launches; \
         for a running process give the file its runtime writes the trace to: `- gc_log: \
         {file: /var/log/app/gc.log}` (e.g. java -Xlog:gc:file=/var/log/app/gc.log, node \
         --trace-gc-nvp server.js >> /var/log/app/gc.log)",
    ))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::scenario::{parse, GcRuntime, Overrides, Plan, SourcePlan};

    fn plan(target: &str, memory: &str) -> std::result::Result<Plan, String> {
        let text = format!(
            "name: g\ntarget:\n  base_url: http://127.0.0.1:3000\n{target}load:\n  phases:\n    \
             - {{name: a, duration: 10s, rate: 10}}\nrequests:\n  - path: /\n{memory}"
        );
        parse(&text, "s.yaml", Path::new("/base"), &Overrides::default()).map_err(|e| e.to_string())
    }

    const NODE: &str = "  command: [node, app.js]\n";
    const BARE: SourcePlan = SourcePlan::GcLog {
        file: None,
        runtime: None,
    };

    #[test]
    fn on_by_default_for_a_launched_node_or_java_and_then_judged() {
        for target in [NODE, "  command: [java, -jar, app.jar]\n"] {
            let m = plan(target, "").unwrap().memory;
            assert_eq!(m.sources, vec![SourcePlan::Process, BARE], "{target}");
            assert_eq!(m.metric, "heap_after_gc");
        }
        // A metric the user chose is kept; sources the user listed are taken as they are.
        let m = plan(NODE, "memory: {metric: rss_anon}\n").unwrap().memory;
        assert_eq!((m.sources.len(), m.metric.as_str()), (2, "rss_anon"));
        let m = plan(NODE, "memory: {sources: [process]}\n").unwrap().memory;
        assert_eq!((m.sources.len(), m.metric.as_str()), (1, "rss_anon"));
        // Not for what leakhound cannot switch on, or what may have no collector.
        for target in [
            "  command: [npm, start]\n",
            "  command: [python3, app.py]\n",
            "  pid: 4242\n",
        ] {
            assert_eq!(
                plan(target, "").unwrap().memory.sources.len(),
                1,
                "{target}"
            );
        }
        let m = plan(
            "  command: [npm, start]\n",
            "memory: {sources: [process, gc_log]}\n",
        )
        .unwrap()
        .memory;
        assert_eq!(
            (m.sources[1].clone(), m.metric.as_str()),
            (BARE, "heap_after_gc")
        );
    }

    #[test]
    fn options_resolve_and_an_attached_target_needs_a_file() {
        let m = plan(
            "  pid: 4242\n",
            "memory:\n  sources: [process, {gc_log: {file: logs/gc.log, runtime: jvm}}]\n",
        )
        .unwrap()
        .memory;
        assert_eq!(
            m.sources[1],
            SourcePlan::GcLog {
                file: Some(PathBuf::from("/base/logs/gc.log")),
                runtime: Some(GcRuntime::Jvm),
            }
        );
        assert_eq!(m.metric, "heap_after_gc");
        assert!(plan(NODE, "memory:\n  sources:\n    - gc_log:\n").is_ok());
        let cases = [
            (
                "  pid: 4242\n",
                "memory:\n  sources: [process, gc_log]\n",
                "s.yaml:11:22: memory.sources[1]: the gc_log source reads the GC trace from the \
                 output of a target leakhound launches",
            ),
            (
                NODE,
                "memory:\n  sources: [{gc_log: {runtime: python}}]\n",
                "memory.sources[0].gc_log.runtime: unknown runtime `python`; use node, jvm or go",
            ),
            (
                NODE,
                "memory:\n  sources: [{gc_log: {file: ''}}]\n",
                "memory.sources[0].gc_log.file: is empty",
            ),
            (
                NODE,
                "memory:\n  sources: [{gc_log: {path: x}}]\n",
                "memory.sources[0].gc_log: unknown key `path`",
            ),
            (
                NODE,
                "memory:\n  sources: [gc_log, gc_log]\n",
                "`gc_log` is already listed at memory.sources[0]",
            ),
        ];
        for (target, memory, want) in cases {
            let e = plan(target, memory).unwrap_err();
            assert!(e.contains(want), "{memory}: {e}");
        }
    }
}
