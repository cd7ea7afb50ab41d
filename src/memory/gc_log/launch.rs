//! Turning the GC trace on in a target leakhound launches, without doubling a switch the user
//! already set:
//! - `node ...`: `--trace-gc-nvp` after `node` (unless a `--trace-gc*` flag is there);
//! - a node launcher (npm, npx, ...): Node 20 refuses V8 flags such as `--trace-gc-nvp` in
//!   `NODE_OPTIONS` (it exits with "is not allowed in NODE_OPTIONS", status 9), but not
//!   `--require`: leakhound's preload (`preload.js`, written into the run folder) turns the
//!   trace on from inside each node process the launcher starts;
//! - node either way, with `force_every`: the same preload forces a full collection after that
//!   long without one (`LEAKHOUND_FORCE_GC_MS`);
//! - `java ...`: `-Xlog:gc` after `java` (unless `-Xlog:gc*`, `-verbose:gc` or `-XX:+PrintGC`
//!   is there or in `JAVA_TOOL_OPTIONS`/`JDK_JAVA_OPTIONS`);
//! - a Go binary (its ELF build-id note says so): `GODEBUG=gctrace=1`, added to the GODEBUG
//!   settings it already has;
//! - anything else (`sh -c ...`, a launcher script): `GODEBUG=gctrace=1` and
//!   `JAVA_TOOL_OPTIONS=-Xlog:gc`, which only a Go or Java program it starts reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::inspect::launch::is_node;
use crate::memory::inspector::NODE_LAUNCHERS;
use crate::scenario::{GcRuntime, TargetProcess};

pub const NODE_FLAG: &str = "--trace-gc-nvp";
/// leakhound's node preload, written into the run folder under [`PRELOAD_FILE`].
pub const PRELOAD: &str = include_str!("preload.js");
pub const PRELOAD_FILE: &str = "leakhound-preload.js";
pub const JVM_FLAG: &str = "-Xlog:gc";
const GO_SETTING: &str = "gctrace=1";

/// What a launched command runs, as far as its GC trace goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Node,
    /// npm, npx, yarn, ...: starts node itself.
    NodeLauncher,
    Java,
    /// A Go binary.
    Go,
    Other,
}

/// The launched target with its GC trace turned on, what was done, and what could not be.
#[derive(Debug, Clone, PartialEq)]
pub struct Traced {
    pub process: TargetProcess,
    /// What leakhound set, for `validate` ("adds --trace-gc-nvp to the node command").
    pub done: Vec<String>,
    /// What it could not do, for the run's events.
    pub warnings: Vec<String>,
}

/// What `command` (run in `cwd`) starts.
pub fn program_of(command: &[String], cwd: Option<&Path>) -> Program {
    let Some(program) = command.first() else {
        return Program::Other;
    };
    let base = Path::new(program)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(program);
    if is_node(program) {
        Program::Node
    } else if NODE_LAUNCHERS.contains(&base) {
        Program::NodeLauncher
    } else if base == "java" {
        Program::Java
    } else if find_program(program, cwd).is_some_and(|p| is_go_binary(&p)) {
        Program::Go
    } else {
        Program::Other
    }
}

/// The runtime a launched target is known to run (node, java, a Go binary): the `gc_log`
/// source is then on by default. None for anything else, and for targets not launched.
pub fn default_runtime(process: &TargetProcess) -> Option<GcRuntime> {
    let TargetProcess::Launch { command, cwd, .. } = process else {
        return None;
    };
    match program_of(command, cwd.as_deref()) {
        Program::Node | Program::NodeLauncher => Some(GcRuntime::Node),
        Program::Java => Some(GcRuntime::Jvm),
        Program::Go => Some(GcRuntime::Go),
        Program::Other => None,
    }
}

/// How leakhound reaches inside a node target: its preload at `preload` (None: it could not
/// be written), forcing a full collection after `force_every_ms` without one.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeHooks {
    pub preload: Option<PathBuf>,
    pub force_every_ms: Option<u64>,
}

/// `process` (when launched) with the trace of `runtime` turned on, or of whatever the command
/// runs when `runtime` is None.
pub fn with_gc_trace(
    process: &TargetProcess,
    runtime: Option<GcRuntime>,
    hooks: &NodeHooks,
) -> Traced {
    let mut out = Traced {
        process: process.clone(),
        done: Vec::new(),
        warnings: Vec::new(),
    };
    let TargetProcess::Launch { command, cwd, env } = &mut out.process else {
        return out;
    };
    let program = program_of(command, cwd.as_deref());
    let runtimes = match (runtime, program) {
        (Some(r), _) => vec![r],
        (None, Program::Node | Program::NodeLauncher) => vec![GcRuntime::Node],
        (None, Program::Java) => vec![GcRuntime::Jvm],
        (None, Program::Go) => vec![GcRuntime::Go],
        (None, Program::Other) => vec![GcRuntime::Go, GcRuntime::Jvm],
    };
    let name = command.first().cloned().unwrap_or_default();
    for r in runtimes {
        let (done, warning) = match r {
            GcRuntime::Node => node(command, env, program, hooks),
            GcRuntime::Jvm => {
                let (done, warning) = jvm(command, env, program);
                (done.into_iter().collect(), warning)
            }
            GcRuntime::Go => (go(env).into_iter().collect(), None),
        };
        out.done.extend(done);
        out.warnings.extend(warning);
    }
    if runtime.is_none() && program == Program::Other {
        out.done.push(format!(
            "(a node process `{name}` starts needs {NODE_FLAG} in its own command)"
        ));
    }
    out
}

/// Writes leakhound's node preload into `dir` (the run folder); its path.
pub fn write_preload(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(PRELOAD_FILE);
    std::fs::write(&path, PRELOAD)?;
    Ok(path)
}

fn node(
    command: &mut Vec<String>,
    env: &mut BTreeMap<String, String>,
    program: Program,
    hooks: &NodeHooks,
) -> (Vec<String>, Option<String>) {
    let mut done = Vec::new();
    // The trace from the command line where there is a node command; from the preload under
    // a launcher or a script (a node process it starts).
    let via_preload = program != Program::Node;
    if via_preload {
        env.insert("LEAKHOUND_GC_TRACE".into(), "1".into());
        done.push(format!("turns on {NODE_FLAG} from leakhound's preload"));
    } else if command
        .iter()
        .skip(1)
        .take_while(|a| a.starts_with('-'))
        .any(|a| a.starts_with("--trace-gc") || a.starts_with("--trace_gc"))
    {
        done.push("the node command already traces GC".into());
    } else {
        command.insert(1, NODE_FLAG.to_string());
        done.push(format!("adds {NODE_FLAG} to the node command"));
    }
    if let Some(ms) = hooks.force_every_ms {
        env.insert("LEAKHOUND_FORCE_GC_MS".into(), ms.to_string());
        done.push(format!(
            "forces a full collection after {} without one, from leakhound's preload",
            crate::units::format_duration(std::time::Duration::from_millis(ms))
        ));
    }
    if !via_preload && hooks.force_every_ms.is_none() {
        return (done, None);
    }
    let path = hooks.preload.as_ref().map(|p| p.display().to_string());
    let Some(path) = path.filter(|p| !p.contains(['"', '\\'])) else {
        for key in ["LEAKHOUND_GC_TRACE", "LEAKHOUND_FORCE_GC_MS"] {
            env.remove(key);
        }
        done.retain(|d| !d.contains("preload"));
        let warning = "leakhound's node preload could not be written to the run folder, or its \
                       path holds a quote or a backslash NODE_OPTIONS cannot carry: no GC trace \
                       under a launcher, no forced collections";
        return (done, Some(warning.to_string()));
    };
    // NODE_OPTIONS takes a quoted path; the user's own options stay first.
    let require = format!("--require \"{path}\"");
    let value = match inherited(env, "NODE_OPTIONS") {
        Some(v) if !v.trim().is_empty() => format!("{} {require}", v.trim()),
        _ => require,
    };
    env.insert("NODE_OPTIONS".into(), value);
    (done, None)
}

fn jvm(
    command: &mut Vec<String>,
    env: &mut BTreeMap<String, String>,
    program: Program,
) -> (Option<String>, Option<String>) {
    let traces = |opts: &str| {
        opts.split_ascii_whitespace().any(|o| {
            o.starts_with("-Xlog:gc") || o == "-verbose:gc" || o.starts_with("-XX:+PrintGC")
        })
    };
    let from_env = ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS"]
        .iter()
        .any(|k| inherited(env, k).is_some_and(|v| traces(&v)));
    if from_env || (program == Program::Java && command.iter().skip(1).any(|a| traces(a))) {
        return (Some("the java command already logs GC".into()), None);
    }
    if program == Program::Java {
        command.insert(1, JVM_FLAG.to_string());
        return (Some(format!("adds {JVM_FLAG} to the java command")), None);
    }
    let value = match inherited(env, "JAVA_TOOL_OPTIONS") {
        Some(v) if !v.trim().is_empty() => format!("{} {JVM_FLAG}", v.trim()),
        _ => JVM_FLAG.to_string(),
    };
    env.insert("JAVA_TOOL_OPTIONS".into(), value);
    (Some(format!("sets JAVA_TOOL_OPTIONS={JVM_FLAG}")), None)
}

fn go(env: &mut BTreeMap<String, String>) -> Option<String> {
    let value = match inherited(env, "GODEBUG") {
        Some(v) if v.split(',').any(|s| s.trim().starts_with("gctrace=")) => {
            return Some("GODEBUG already sets gctrace".into())
        }
        Some(v) if !v.trim().is_empty() => format!("{},{GO_SETTING}", v.trim()),
        _ => GO_SETTING.to_string(),
    };
    env.insert("GODEBUG".into(), value);
    Some(format!("sets GODEBUG={GO_SETTING}"))
}

/// A variable as the target will see it: the scenario's `env`, else leakhound's own.
fn inherited(env: &BTreeMap<String, String>, key: &str) -> Option<String> {
    env.get(key).cloned().or_else(|| std::env::var(key).ok())
}

/// Where `program` lives: relative to `cwd` when it has a `/`, else on PATH.
fn find_program(program: &str, cwd: Option<&Path>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return Some(match cwd {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        });
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// True for a Go ELF binary: the Go linker puts a note named "Go" of type 4 (the build id) in
/// the first page, where `go tool buildid` looks for it too.
pub fn is_go_binary(path: &Path) -> bool {
    let mut head = Vec::with_capacity(32 << 10);
    let read = std::fs::File::open(path).and_then(|f| f.take(32 << 10).read_to_end(&mut head));
    if read.is_err() || !head.starts_with(b"\x7fELF") {
        return false;
    }
    // An ELF note: namesz = 4, descsz, type = 4, then the name "Go\0\0".
    head.windows(16)
        .any(|w| w[..4] == [4, 0, 0, 0] && w[8..12] == [4, 0, 0, 0] && &w[12..] == b"Go\0\0")
}

/// The trace switch for the `gc_log` source among `sources`, when it reads the launched
/// target's output (not a `file`); None otherwise. `preload`: where the node preload is
/// (None: nowhere).
pub fn for_sources(
    sources: &[crate::scenario::SourcePlan],
    process: &TargetProcess,
    preload: Option<&Path>,
) -> Option<Traced> {
    sources.iter().find_map(|s| match s {
        crate::scenario::SourcePlan::GcLog {
            file: None,
            runtime,
            force_every_ms,
        } if matches!(process, TargetProcess::Launch { .. }) => {
            let hooks = NodeHooks {
                preload: preload.map(Path::to_path_buf),
                force_every_ms: *force_every_ms,
            };
            Some(with_gc_trace(process, *runtime, &hooks))
        }
        _ => None,
    })
}

/// The launched target with its GC trace on, and leakhound's node preload written into the
/// run folder `out_dir` when the trace needs it; None when no `gc_log` source reads a launched
/// target's output. The preload is named by its absolute path (the target's working directory
/// may be elsewhere); if it cannot be written, nothing names it.
pub fn prepare(
    sources: &[crate::scenario::SourcePlan],
    process: &TargetProcess,
    out_dir: &Path,
) -> Option<Traced> {
    let run_dir = std::path::absolute(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    let preload = run_dir.join(PRELOAD_FILE);
    let traced = for_sources(sources, process, Some(&preload))?;
    let needs_preload = matches!(
        &traced.process,
        TargetProcess::Launch { env, .. } if env.contains_key("LEAKHOUND_GC_TRACE")
            || env.contains_key("LEAKHOUND_FORCE_GC_MS")
    );
    if !needs_preload || write_preload(&run_dir).is_ok() {
        return Some(traced);
    }
    for_sources(sources, process, None)
}
