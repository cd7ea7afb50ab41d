//! Turning the GC trace on in a target leakhound launches, without doubling a switch the user
//! already set:
//! - `node ...`: `--trace-gc-nvp` after `node` (unless a `--trace-gc*` flag is there);
//! - a node launcher (npm, npx, ...): nothing can be done. Node 20 refuses V8 flags such as
//!   `--trace-gc-nvp` in `NODE_OPTIONS` (it exits with "is not allowed in NODE_OPTIONS", status
//!   9), so the script must pass the flag to node itself; the run says so in an event;
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
        Program::Node => Some(GcRuntime::Node),
        Program::Java => Some(GcRuntime::Jvm),
        Program::Go => Some(GcRuntime::Go),
        Program::NodeLauncher | Program::Other => None,
    }
}

/// `process` (when launched) with the trace of `runtime` turned on, or of whatever the command
/// runs when `runtime` is None.
pub fn with_gc_trace(process: &TargetProcess, runtime: Option<GcRuntime>) -> Traced {
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
            GcRuntime::Node => node(command, program, &name),
            GcRuntime::Jvm => jvm(command, env, program),
            GcRuntime::Go => (go(env), None),
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

fn node(
    command: &mut Vec<String>,
    program: Program,
    name: &str,
) -> (Option<String>, Option<String>) {
    if program != Program::Node {
        let warning = format!(
            "the gc_log source cannot turn the GC trace on under `{name}`: Node refuses \
             {NODE_FLAG} in NODE_OPTIONS, so add it to the node command `{name}` runs (e.g. \
             `node {NODE_FLAG} server.js`); only GC lines the target prints are read"
        );
        return (None, Some(warning));
    }
    // Node's own options come before the script; anything after it belongs to the script.
    let own = command.iter().skip(1).take_while(|a| a.starts_with('-'));
    let has = own
        .clone()
        .any(|a| a.starts_with("--trace-gc") || a.starts_with("--trace_gc"));
    if has {
        return (Some("the node command already traces GC".into()), None);
    }
    command.insert(1, NODE_FLAG.to_string());
    (Some(format!("adds {NODE_FLAG} to the node command")), None)
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
/// target's output (not a `file`); None otherwise.
pub fn for_sources(
    sources: &[crate::scenario::SourcePlan],
    process: &TargetProcess,
) -> Option<Traced> {
    sources.iter().find_map(|s| match s {
        crate::scenario::SourcePlan::GcLog {
            file: None,
            runtime,
        } if matches!(process, TargetProcess::Launch { .. }) => {
            Some(with_gc_trace(process, *runtime))
        }
        _ => None,
    })
}
