//! The resolved plan: a scenario after parsing, defaults, validation and CLI overrides.
//!
//! Everything downstream (target, load, memory, run, analysis, report) reads only this type,
//! never the YAML. It is stored in run.json so a saved run can be re-analysed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::template::Template;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub name: String,
    /// The scenario file this plan came from (None for the built-in demo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PathBuf>,
    pub target: TargetPlan,
    pub memory: MemoryPlan,
    pub load: LoadPlan,
    pub requests: Vec<RequestPlan>,
    pub thresholds: Thresholds,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetPlan {
    /// Normalised base URL without a trailing slash, e.g. `http://127.0.0.1:3000`.
    pub base_url: String,
    pub host: String,
    pub port: u16,
    pub process: TargetProcess,
    pub ready: Readiness,
}

/// How leakhound finds the process whose memory it samples.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum TargetProcess {
    /// leakhound starts it, waits until ready, stops it (and its process group) at the end.
    Launch {
        command: Vec<String>,
        /// Resolved against the scenario file's folder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
    /// Attach to a running process.
    Pid { pid: u32 },
    /// Attach to the PID written in this file (read when the run starts).
    PidFile { path: PathBuf },
    /// No process: load only, memory cannot be sampled from /proc.
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Readiness {
    /// HTTP path that must answer 2xx/3xx; None = a TCP connect to host:port suffices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryPlan {
    /// Sampling period, 100ms..=60s.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// The metric the verdict is judged on, e.g. `rss_anon`.
    pub metric: String,
    /// Sources to record, each at most once; `[process]` by default.
    pub sources: Vec<SourcePlan>,
}

/// One memory source, resolved. Serialized like the scenario writes it: a bare word
/// (`"process"`) or a one-key mapping (`{"prometheus": {"url": ..., "series": [...]}}`), so a
/// run.json from before sources had options still loads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum SourcePlan {
    /// The target's process tree, from /proc.
    Process,
    /// A cgroup v2 directory; None = the target's own cgroup (from /proc/PID/cgroup).
    Cgroup {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<PathBuf>,
    },
    /// A Docker container by name or id; its cgroup is found when the run starts.
    Docker { container: String },
    /// Named series of a Prometheus text `/metrics` endpoint; each series is a metric.
    Prometheus { url: String, series: Vec<String> },
    /// One number read by JSON pointer from a JSON document, recorded as metric `name`.
    Json {
        url: String,
        pointer: String,
        name: String,
    },
    /// A V8 inspector (Node's `--inspect`): post-GC heap readings and heap snapshots.
    Inspector {
        /// `host:port` or `ws://host:port/id` of an inspector that is already open; None =
        /// leakhound opens one in the node target it launches (`--inspect=127.0.0.1:0`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connect: Option<String>,
        /// Force a full GC before every Nth sample (1 = every sample, 0 = never).
        #[serde(default)]
        gc_every: u32,
        /// Heap snapshots to take: `after-warmup`, `mid`, `end` (in run order).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        snapshots: Vec<String>,
    },
    /// The runtime's own GC trace (`--trace-gc-nvp`, `-Xlog:gc`, `GODEBUG=gctrace=1`): one
    /// sample per collection, and `heap_after_gc` from the major ones.
    GcLog {
        /// A file the runtime writes its trace to, followed from its end; None = the launched
        /// target's output (target.log), with the trace turned on by leakhound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
        /// Only this runtime's lines are read; None = any, recognised line by line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        runtime: Option<GcRuntime>,
        /// Force a full collection when the runtime has run none for this long (milliseconds),
        /// so a short run still has post-GC readings: Node through a preload, the JVM through
        /// its attach socket (`jcmd GC.run`). None = never.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        force_every_ms: Option<u64>,
    },
}

/// A runtime whose GC trace the `gc_log` source reads.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GcRuntime {
    /// V8 (Node): `--trace-gc-nvp`, or `--trace-gc` when the command already has it.
    Node,
    /// HotSpot: `-Xlog:gc` (unified logging, JDK 9+).
    Jvm,
    /// Go: `GODEBUG=gctrace=1`.
    Go,
}

impl GcRuntime {
    pub fn name(self) -> &'static str {
        match self {
            GcRuntime::Node => "node",
            GcRuntime::Jvm => "jvm",
            GcRuntime::Go => "go",
        }
    }
}

impl SourcePlan {
    /// The source's name: its key in `MemorySample::readings` and in the scenario.
    pub fn name(&self) -> &'static str {
        match self {
            SourcePlan::Process => "process",
            SourcePlan::Cgroup { .. } => "cgroup",
            SourcePlan::Docker { .. } => "docker",
            SourcePlan::Prometheus { .. } => "prometheus",
            SourcePlan::Json { .. } => "json",
            SourcePlan::Inspector { .. } => "inspector",
            SourcePlan::GcLog { .. } => "gc_log",
        }
    }
}

/// Lets `sources.join(", ")` list the source names.
impl std::borrow::Borrow<str> for SourcePlan {
    fn borrow(&self) -> &str {
        self.name()
    }
}

impl PartialEq<String> for SourcePlan {
    fn eq(&self, name: &String) -> bool {
        self.name() == name
    }
}

/// A source from its bare word, for code that builds plans by hand (tests, the demo):
/// `cgroup` is the target's own cgroup; any other word is the `process` source, the only other
/// source that needs no options.
impl From<&str> for SourcePlan {
    fn from(name: &str) -> Self {
        match name {
            "cgroup" => SourcePlan::Cgroup { path: None },
            _ => SourcePlan::Process,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Arrival rate held whatever the latency; latency measured from the intended send time.
    Open,
    /// A fixed number of concurrent loops, each sending its next request when the last ends.
    Closed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadPlan {
    pub model: Model,
    /// Per-request timeout: no request outlives it.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Open model: most requests in flight at once; arrivals beyond it are counted as overflow.
    pub max_in_flight: usize,
    pub phases: Vec<PhasePlan>,
}

impl LoadPlan {
    /// Seconds of a run lasting `run_s` that are warm-up, which the verdict does not judge:
    /// the first phase when there are several, else the first 20%.
    pub fn warmup_s(&self, run_s: f64) -> f64 {
        match self.phases.as_slice() {
            [first, _, ..] => first.duration.as_secs_f64(),
            _ => run_s * 0.2,
        }
    }

    /// The planned length of all phases.
    pub fn length(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PhasePlan {
    pub name: String,
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Requests per second at the phase start (open model); 0 = idle phase.
    pub rate: f64,
    /// Requests per second at the phase end: a linear ramp from `rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ramp_to: Option<f64>,
    /// Concurrent loops (closed model); 0 = idle phase.
    pub concurrency: usize,
    /// This phase's weight for each request, in the order of `Plan::requests`; None = the
    /// requests' own weights. Varying the mix across phases lets analysis attribute growth
    /// to endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<Vec<u32>>,
}

impl PhasePlan {
    /// True when no request is sent in this phase.
    pub fn is_idle(&self, model: Model) -> bool {
        match model {
            Model::Open => self.rate <= 0.0 && self.ramp_to.unwrap_or(0.0) <= 0.0,
            Model::Closed => self.concurrency == 0,
        }
    }

    /// Requests the phase should send in the open model (area under the rate line).
    pub fn expected_requests(&self) -> f64 {
        let end = self.ramp_to.unwrap_or(self.rate);
        (self.rate + end) / 2.0 * self.duration.as_secs_f64()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestPlan {
    pub name: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// Path and query, starting with `/`, may hold template variables.
    pub path: Template,
    pub headers: Vec<(String, Template)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Template>,
    /// Relative share of the mix, >= 1.
    pub weight: u32,
}

/// A limit as the user wrote it and as a number.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Limit<T> {
    pub value: T,
    /// The text from the scenario, e.g. `64B`, shown back in summaries.
    pub text: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Thresholds {
    /// Bytes per request; fails when the leak's lower 95% bound is above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak_per_request: Option<Limit<f64>>,
    /// Bytes of growth of the judged metric after warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<Limit<u64>>,
    /// p99 latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<Limit<Duration>>,
    /// Fraction 0..=1 of requests that failed (status >= 400, connection error or timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<Limit<f64>>,
}

impl Plan {
    /// Total planned duration of all phases.
    pub fn total_duration(&self) -> Duration {
        self.load.phases.iter().map(|p| p.duration).sum()
    }
}
