//! The `gc_log` memory source in a scenario: `- gc_log` (the launched target's trace, turned
//! on by leakhound) or `- gc_log: {file: PATH, runtime: node|jvm|go}`; when it is on by
//! default; and the check that a target leakhound does not launch names a `file`.
//!
//! On by default (when `memory.sources` is not given) for a launched node, java or Go
//! program: their trace can be turned on without touching the code. A launcher (npm) cannot
//! pass Node the flag, and other programs may run no collector at all, so they get it only
//! when listed.
//!
//! `force_gc` (`auto`, `off` or a duration): a runtime collects its whole heap only when it
//! must, and a short run on a small heap may see none, leaving nothing but RSS to judge.
//! `auto` forces a full collection when there was none for 1/30 of the judged part of the run
//! (after warm-up; 250 ms to 30 s), so a run has about 30 post-GC readings to judge, well above
//! the 10 the verdict needs even when a busy machine delays some. A JVM that collects on its own
//! often enough gets none forced; Node gets one every time, as only those say what Buffers
//! survived (`memory::gc_log`). `auto` forces nothing when another metric is judged: forced collections shrink the
//! heap's capacity, and with it the RSS a scenario may have chosen to judge.

use std::path::Path;
use std::time::Duration;

use super::super::error::KeyPath;
use super::super::plan::{GcRuntime, LoadPlan, MemoryPlan, SourcePlan, TargetProcess};
use super::super::schema::{GcLogOptions, Text};
use super::super::source::Source;
use super::target::relative_to;
use super::Result;
use crate::memory::gc_log::launch::default_runtime;
use crate::units::parse_duration;

/// Post-GC readings `force_gc: auto` aims for over the judged part of the run.
const AUTO_READINGS: u32 = 30;
/// The range of `auto`'s time between forced collections: a full collection costs a small
/// heap a few milliseconds, so four a second only in a run of a few seconds; a big heap's own
/// collections come more often than every 30 s under load.
const AUTO_MIN: Duration = Duration::from_millis(250);
const AUTO_MAX: Duration = Duration::from_secs(30);
/// The range a scenario may give.
const FORCE_MIN: Duration = Duration::from_millis(200);
const FORCE_MAX: Duration = Duration::from_secs(3600);

/// `force_gc: auto` until the judged metric is known ([`settle_auto`]).
const AUTO: Option<u64> = Some(u64::MAX);

/// `force_gc: auto`'s time between forced collections for a run of `load`: 1/30 of the part
/// the verdict judges (after warm-up), from 250 ms to 30 s.
pub fn auto_force_every(load: &LoadPlan) -> Duration {
    let length = load.length().as_secs_f64();
    let judged = Duration::from_secs_f64(length - load.warmup_s(length));
    (judged / AUTO_READINGS).clamp(AUTO_MIN, AUTO_MAX)
}

/// `- gc_log` with every option at its default.
pub(super) fn bare() -> SourcePlan {
    SourcePlan::GcLog {
        file: None,
        runtime: None,
        force_every_ms: AUTO,
    }
}

/// `force_gc: auto` made concrete once the judged `metric` is known: forced collections every
/// `every` when `heap_after_gc` is judged, none otherwise.
pub(super) fn settle_auto(sources: &mut [SourcePlan], metric: &str, every: Duration) {
    for s in sources {
        if let SourcePlan::GcLog { force_every_ms, .. } = s {
            if *force_every_ms == AUTO {
                *force_every_ms =
                    (metric == crate::memory::gc_log::METRIC).then_some(every.as_millis() as u64);
            }
        }
    }
}

fn force_gc(text: Option<&Text>, src: &Source, at: &KeyPath) -> Result<Option<u64>> {
    let value = text.map_or("auto", |t| t.0.trim());
    match value {
        "auto" => return Ok(AUTO),
        "off" | "never" => return Ok(None),
        _ => {}
    }
    match parse_duration(value) {
        Ok(d) if (FORCE_MIN..=FORCE_MAX).contains(&d) => Ok(Some(d.as_millis() as u64)),
        _ => Err(src.value_error(
            at,
            format!(
                "`{value}` is not a time between forced collections; use `auto` (the default), \
                 `off`, or a duration from 200ms to 1h such as `5s`"
            ),
        )),
    }
}

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
    let force_every_ms = force_gc(o.force_gc.as_ref(), src, &at.key("force_gc"))?;
    Ok(SourcePlan::GcLog {
        file,
        runtime,
        force_every_ms,
    })
}

/// The sources when `memory.sources` is not given: the process tree, and the GC trace of a
/// launched node, java or Go program.
pub(super) fn default_sources(process: &TargetProcess) -> Vec<SourcePlan> {
    let mut sources = vec![SourcePlan::Process];
    if default_runtime(process).is_some() {
        sources.push(bare());
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
    use std::time::Duration;

    use crate::scenario::plan::{LoadPlan, Model, PhasePlan};
    use crate::scenario::{parse, GcRuntime, Overrides, Plan, SourcePlan};

    fn plan(target: &str, memory: &str) -> std::result::Result<Plan, String> {
        let text = format!(
            "name: g\ntarget:\n  base_url: http://127.0.0.1:3000\n{target}load:\n  phases:\n    \
             - {{name: a, duration: 10s, rate: 10}}\nrequests:\n  - path: /\n{memory}"
        );
        parse(&text, "s.yaml", Path::new("/base"), &Overrides::default()).map_err(|e| e.to_string())
    }

    const NODE: &str = "  command: [node, app.js]\n";
    /// The scenario's one phase is 10 s long, 8 s of it judged: `auto` forces a collection every
    /// 8 s / 30.
    const BARE: SourcePlan = SourcePlan::GcLog {
        file: None,
        runtime: None,
        force_every_ms: Some(266),
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
        // npm and co. start node: the preload turns the trace on there.
        assert_eq!(
            plan("  command: [npm, start]\n", "")
                .unwrap()
                .memory
                .sources[1],
            BARE
        );
        for target in ["  command: [python3, app.py]\n", "  pid: 4242\n"] {
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
                force_every_ms: Some(266),
            }
        );
        assert_eq!(m.metric, "heap_after_gc");
        assert!(plan(NODE, "memory:\n  sources:\n    - gc_log:\n").is_ok());
        let forced = |option: &str| match &plan(
            NODE,
            &format!("memory:\n  sources: [{{gc_log: {{{option}}}}}]\n"),
        )
        .unwrap()
        .memory
        .sources[0]
        {
            SourcePlan::GcLog { force_every_ms, .. } => *force_every_ms,
            other => panic!("{other:?}"),
        };
        assert_eq!(forced("force_gc: 5s"), Some(5000));
        assert_eq!(forced("force_gc: off"), None);
        assert_eq!(forced("force_gc: auto"), Some(266));
        // auto forces nothing when RSS is judged: forced collections shrink it.
        let m = plan(NODE, "memory: {metric: rss_anon}\n").unwrap().memory;
        assert!(matches!(
            m.sources[1],
            SourcePlan::GcLog {
                force_every_ms: None,
                ..
            }
        ));
        // auto: 1/30 of the run after warm-up (the first of several phases, else 20%), from
        // 250 ms to 30 s.
        let every = |phases: &[u64]| {
            let phases = phases.iter().map(|&s| PhasePlan {
                name: "p".into(),
                duration: Duration::from_secs(s),
                rate: 10.0,
                ramp_to: None,
                concurrency: 0,
                mix: None,
            });
            super::auto_force_every(&LoadPlan {
                model: Model::Open,
                timeout: Duration::from_secs(1),
                max_in_flight: 1,
                phases: phases.collect(),
            })
            .as_millis()
        };
        assert_eq!(every(&[4, 12]), 400);
        assert_eq!(every(&[3]), 250);
        assert_eq!(every(&[750]), 20_000);
        assert_eq!(every(&[60, 3600, 3600]), 30_000);
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
                "memory:\n  sources: [{gc_log: {force_gc: 10ms}}]\n",
                "memory.sources[0].gc_log.force_gc: `10ms` is not a time between forced \
                 collections; use `auto` (the default), `off`, or a duration from 200ms to 1h",
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
