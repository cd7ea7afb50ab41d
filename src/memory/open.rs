//! From the plan's `memory.sources` to live [`Source`]s, and the metrics each source provides
//! (which validation uses to check `memory.metric`).
//!
//! Adding a source kind: a `SourcePlan` variant (scenario/plan.rs), its scenario syntax
//! (scenario/schema.rs, scenario/resolve/memory.rs), an arm in [`open`] and in [`metrics_of`].

use std::time::Duration;

use super::cgroup::{CgroupSource, CGROUP_METRICS, DOCKER_METRICS};
use super::gc_log::GcLogSource;
use super::http::{JsonSource, PrometheusSource, MAX_TIMEOUT};
use super::inspector::{InspectorSource, SharedInspector};
use super::source::{ProcessSource, Source, SourceError};
use super::{ProcessTreeSampler, METRICS};
use crate::scenario::SourcePlan;

/// What opening a source may need to know about the run.
#[derive(Clone)]
pub struct OpenContext {
    /// The target's root PID, when there is a process.
    pub pid: Option<u32>,
    pub interval: Duration,
    /// Whether the process source reads pss/pss_anon (costly; see `ProcessTreeSampler::set_pss`).
    pub pss: bool,
    /// When set, pss is read only as often as keeps its cost under this share of one core.
    pub pss_budget: Option<f64>,
    /// The run's inspector session, connected beforehand (see `inspector::connect`).
    pub inspector: Option<SharedInspector>,
    /// Where an attached target's current PID lives, when it is re-attached after a restart
    /// (`target.pid_file`); the process source follows it.
    pub root: Option<std::sync::Arc<std::sync::atomic::AtomicU32>>,
    /// A launched target's log and the byte where this run's output starts in it: where the
    /// `gc_log` source reads the trace unless given a `file`.
    pub log: Option<(std::path::PathBuf, u64)>,
}

impl OpenContext {
    /// An HTTP scrape's timeout: the interval, but never more than 2 s.
    pub fn http_timeout(&self) -> Duration {
        self.interval.min(MAX_TIMEOUT)
    }
}

/// The metric names `spec` reports.
pub fn metrics_of(spec: &SourcePlan) -> Vec<String> {
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
    match spec {
        SourcePlan::Process => owned(METRICS),
        SourcePlan::Cgroup { .. } => owned(CGROUP_METRICS),
        SourcePlan::Docker { .. } => owned(DOCKER_METRICS),
        SourcePlan::Prometheus { series, .. } => series.clone(),
        SourcePlan::Json { name, .. } => vec![name.clone()],
        SourcePlan::Inspector { .. } => owned(crate::inspect::METRICS),
        SourcePlan::GcLog { .. } => owned(super::gc_log::METRICS),
    }
}

/// Opens one source; Ok(None) for a source that has nothing to watch (the process source of a
/// target without a process). Network sources are not contacted here.
///
/// Call from a blocking thread (it may run `docker inspect`), inside the tokio runtime.
pub fn open(spec: &SourcePlan, ctx: &OpenContext) -> Result<Option<Box<dyn Source>>, SourceError> {
    let no_pid = || {
        SourceError::Unavailable(
            "the cgroup source needs a target process to find its cgroup, or a `path`".to_string(),
        )
    };
    let source: Box<dyn Source> = match spec {
        SourcePlan::Process => {
            let Some(pid) = ctx.pid else { return Ok(None) };
            let mut sampler = ProcessTreeSampler::new(pid)?;
            sampler.set_pss(ctx.pss);
            sampler.set_pss_budget(ctx.pss_budget);
            if let Some(root) = &ctx.root {
                sampler.follow(root.clone());
            }
            Box::new(ProcessSource(sampler))
        }
        SourcePlan::Cgroup { path: Some(path) } => Box::new(CgroupSource::at(path.clone())?),
        SourcePlan::Cgroup { path: None } => {
            Box::new(CgroupSource::of_process(ctx.pid.ok_or_else(no_pid)?)?)
        }
        SourcePlan::Docker { container } => Box::new(CgroupSource::of_container(container)?),
        SourcePlan::Prometheus { url, series } => {
            Box::new(PrometheusSource::new(url, series, ctx.http_timeout())?)
        }
        SourcePlan::Json { url, pointer, name } => {
            Box::new(JsonSource::new(url, pointer, name, ctx.http_timeout())?)
        }
        SourcePlan::Inspector { gc_every, .. } => {
            let client = ctx.inspector.clone().ok_or_else(|| {
                SourceError::Unavailable(
                    "the inspector source has no inspector to talk to: give `connect: \
                     HOST:PORT`, or let leakhound launch the node target"
                        .to_string(),
                )
            })?;
            Box::new(InspectorSource::new(client, *gc_every))
        }
        SourcePlan::GcLog {
            file: Some(path),
            runtime,
            force_every_ms,
        } => Box::new(
            GcLogSource::open(path, None, *runtime)?
                .forcing(ctx.pid, force_every_ms.map(Duration::from_millis)),
        ),
        SourcePlan::GcLog {
            file: None,
            runtime,
            force_every_ms,
        } => {
            let (path, from) = ctx.log.as_ref().ok_or_else(|| {
                SourceError::Unavailable(
                    "the gc_log source reads a launched target's output: for a running \
                     process give the file its runtime writes the trace to, `file: PATH`"
                        .to_string(),
                )
            })?;
            Box::new(
                GcLogSource::open(path, Some(*from), *runtime)?
                    .forcing(ctx.pid, force_every_ms.map(Duration::from_millis)),
            )
        }
    };
    Ok(Some(source))
}

/// Opens every source and takes one sample of each, so a wrong URL, a missing series or an
/// unreadable cgroup stops the run before any load, with a message naming the source.
pub fn open_all(specs: &[SourcePlan], ctx: &OpenContext) -> Result<Vec<Box<dyn Source>>, String> {
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name();
        let opened = open(spec, ctx).map_err(|e| format!("memory source `{name}`: {e}"))?;
        let Some(mut source) = opened else { continue };
        // The gc_log source's first read would drop the collections it finds.
        if !matches!(spec, SourcePlan::Process | SourcePlan::GcLog { .. }) {
            source
                .sample()
                .map_err(|e| format!("memory source `{name}`: {e}"))?;
        }
        out.push(source);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_come_from_the_plan() {
        assert!(metrics_of(&SourcePlan::Process).contains(&"rss_anon".to_string()));
        assert_eq!(
            metrics_of(&SourcePlan::Docker {
                container: "x".into()
            })[0],
            "docker_current"
        );
        let p = SourcePlan::Prometheus {
            url: "http://127.0.0.1:1/metrics".into(),
            series: vec!["a_bytes".into()],
        };
        assert_eq!(metrics_of(&p), vec!["a_bytes".to_string()]);
    }

    #[test]
    fn a_cgroup_without_path_or_process_is_explained() {
        let ctx = OpenContext {
            pid: None,
            interval: Duration::from_secs(1),
            pss_budget: None,
            pss: false,
            inspector: None,
            root: None,
            log: None,
        };
        let e = open(&SourcePlan::Cgroup { path: None }, &ctx)
            .err()
            .unwrap();
        assert!(e.to_string().contains("or a `path`"), "{e}");
        assert!(open(&SourcePlan::Process, &ctx).unwrap().is_none());
        assert_eq!(ctx.http_timeout(), Duration::from_secs(1));
        let inspector = SourcePlan::Inspector {
            connect: None,
            gc_every: 1,
            snapshots: Vec::new(),
        };
        let e = open(&inspector, &ctx).err().unwrap();
        assert!(e.to_string().contains("connect: HOST:PORT"), "{e}");
        assert_eq!(metrics_of(&inspector)[0], "heap_used");
    }
}
