//! The `inspector` source: the V8 heap of a Node target read over the DevTools protocol
//! (`heap_used`, `heap_total`, `external`, `array_buffers`), after a forced full GC every
//! `gc_every` samples, so the judged figure is live memory rather than a GC sawtooth.
//!
//! A launched `node` target gets `--inspect=127.0.0.1:0` (or `NODE_OPTIONS` when a launcher
//! such as npm starts node); the port it chose is read from `target.log`. One CDP session is
//! shared (behind a mutex) with the heap snapshots of [`super::heap`]: while a snapshot holds
//! it, a sample is skipped ([`SourceError::Busy`]) instead of stalling the tick.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::Duration;

use super::source::{Identity, Source, SourceError, SourceReading};
use super::watch::Finding;
use crate::inspect::launch::is_node;
use crate::inspect::{
    node_options_with_inspect, parse_debugger_line, wait_for_endpoint_in_log, with_inspect_flag,
    InspectorClient,
};
use crate::scenario::TargetProcess;

/// The CDP session shared by the source and the heap snapshots.
pub type SharedInspector = Arc<Mutex<InspectorClient>>;

/// How long a launched target has to announce its inspector once it is ready (the line comes
/// before the server listens, so this is a margin, not a wait).
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Programs that start node themselves, so `NODE_OPTIONS` reaches it.
pub(crate) const NODE_LAUNCHERS: &[&str] = &[
    "npm",
    "npx",
    "yarn",
    "pnpm",
    "nodemon",
    "ts-node",
    "tsx",
    "node-dev",
    "pm2-runtime",
];

/// How leakhound opens an inspector in a target it launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchMode {
    /// `node --inspect=127.0.0.1:0 ...`: the node process is the target itself.
    Flag,
    /// `NODE_OPTIONS=--inspect=127.0.0.1:0`: a launcher starts node; the last inspector
    /// announced (the server, not npm) is used.
    NodeOptions,
}

/// How `command` (with its scenario `env`) can get an inspector, or the program's name when it
/// cannot: not node, not a known node launcher, and no `--inspect` in its `NODE_OPTIONS`.
pub fn launch_mode(
    command: &[String],
    env: &BTreeMap<String, String>,
) -> Result<LaunchMode, String> {
    let Some(program) = command.first() else {
        return Err(String::new());
    };
    if is_node(program) {
        return Ok(LaunchMode::Flag);
    }
    let base = Path::new(program)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(program);
    let opted_in = env
        .get("NODE_OPTIONS")
        .is_some_and(|o| o.contains("--inspect"));
    if NODE_LAUNCHERS.contains(&base) || opted_in {
        Ok(LaunchMode::NodeOptions)
    } else {
        Err(base.to_string())
    }
}

/// The launched target with the inspector turned on, and how; None when the target is not
/// launched or cannot get one (validation has refused that already).
pub fn with_inspector(process: &TargetProcess) -> Option<(TargetProcess, LaunchMode)> {
    let TargetProcess::Launch { command, cwd, env } = process else {
        return None;
    };
    let mode = launch_mode(command, env).ok()?;
    let mut env = env.clone();
    let command = match mode {
        LaunchMode::Flag => with_inspect_flag(command)?,
        LaunchMode::NodeOptions => {
            // The child inherits leakhound's NODE_OPTIONS unless the scenario sets its own.
            let inherited = std::env::var("NODE_OPTIONS").ok();
            let existing = env.get("NODE_OPTIONS").cloned().or(inherited);
            env.insert(
                "NODE_OPTIONS".to_string(),
                node_options_with_inspect(existing.as_deref()),
            );
            command.clone()
        }
    };
    let cwd = cwd.clone();
    Some((TargetProcess::Launch { command, cwd, env }, mode))
}

/// Where to find the inspector of this run.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `host:port` or `ws://host:port/id` from the scenario.
    Given(String),
    /// Announced in the target's log after byte `from`.
    Log {
        path: std::path::PathBuf,
        from: u64,
        mode: LaunchMode,
    },
}

/// The call deadline for one sample: the interval, kept within 1..5 s (a forced GC of a large
/// heap takes a few hundred ms; a hung target must not hold the tick for long).
pub fn call_timeout(interval: Duration) -> Duration {
    interval.clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// Connects to the run's inspector (blocking). Errors say where leakhound looked.
pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<InspectorClient, SourceError> {
    let client = match endpoint {
        Endpoint::Given(addr) if addr.starts_with("ws://") => {
            InspectorClient::connect_ws(addr, timeout)
        }
        Endpoint::Given(addr) => InspectorClient::connect(addr, timeout),
        Endpoint::Log { path, from, mode } => {
            let first = wait_for_endpoint_in_log(path, *from, ANNOUNCE_TIMEOUT)
                .map_err(|e| SourceError::Unavailable(e.to_string()))?;
            // Under a launcher (npm is node too) the server announces last.
            let ep = match mode {
                LaunchMode::Flag => first,
                LaunchMode::NodeOptions => last_endpoint(path, *from).unwrap_or(first),
            };
            InspectorClient::connect_ws(&ep.ws_url, timeout)
        }
    };
    client.map_err(SourceError::from)
}

/// The last inspector announced in `log` after byte `from`.
fn last_endpoint(log: &Path, from: u64) -> Option<crate::inspect::DebuggerEndpoint> {
    let text = std::fs::read(log).ok()?;
    let start = (from as usize).min(text.len());
    let text = String::from_utf8_lossy(&text[start..]);
    text.lines().rev().find_map(parse_debugger_line)
}

/// `gc_every` when the scenario does not give it: every sample at intervals of 1 s or more,
/// else about once a second (a full GC stalls the target for a few ms to a few hundred).
pub fn default_gc_every(interval: Duration) -> u32 {
    let per_second = (1.0 / interval.as_secs_f64().max(0.001)).ceil();
    per_second.clamp(1.0, 600.0) as u32
}

/// The inspector source proper.
pub struct InspectorSource {
    client: SharedInspector,
    gc_every: u32,
    samples: u64,
}

impl InspectorSource {
    pub fn new(client: SharedInspector, gc_every: u32) -> InspectorSource {
        InspectorSource {
            client,
            gc_every,
            samples: 0,
        }
    }

    /// Whether sample number `n` (from 0) forces a GC first.
    fn forces_gc(gc_every: u32, n: u64) -> bool {
        gc_every > 0 && n % u64::from(gc_every) == 0
    }
}

impl Source for InspectorSource {
    fn name(&self) -> &str {
        "inspector"
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        let mut client = match self.client.try_lock() {
            Ok(c) => c,
            // A heap snapshot holds the session (and pauses the target): skip this sample.
            Err(TryLockError::WouldBlock) => {
                return Err(SourceError::Busy("a heap snapshot is being taken".into()))
            }
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        let force = Self::forces_gc(self.gc_every, self.samples);
        self.samples += 1;
        let s = client.sample(force)?;
        let events =
            s.gc.map(|took| Finding {
                kind: "forced_gc",
                detail: format!(
                    "full GC forced by the inspector source took {:.1} ms",
                    took.as_secs_f64() * 1000.0
                ),
            })
            .into_iter()
            .collect();
        Ok(SourceReading {
            metrics: s.metrics,
            identity: Identity::default(),
            events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn node_gets_the_flag_launchers_get_node_options_others_are_refused() {
        let none = BTreeMap::new();
        assert_eq!(
            launch_mode(&v(&["node", "a.js"]), &none),
            Ok(LaunchMode::Flag)
        );
        assert_eq!(
            launch_mode(&v(&["/usr/bin/npm", "start"]), &none),
            Ok(LaunchMode::NodeOptions)
        );
        assert_eq!(
            launch_mode(&v(&["python3", "app.py"]), &none),
            Err("python3".to_string())
        );
        let opted: BTreeMap<String, String> = [(
            "NODE_OPTIONS".to_string(),
            "--inspect=127.0.0.1:0".to_string(),
        )]
        .into();
        assert_eq!(
            launch_mode(&v(&["./start.sh"]), &opted),
            Ok(LaunchMode::NodeOptions)
        );
        // A launched command that already sets NODE_OPTIONS.
        let launch = |cmd: &[&str]| TargetProcess::Launch {
            command: v(cmd),
            cwd: None,
            env: [(
                "NODE_OPTIONS".to_string(),
                "--max-semi-space-size=1".to_string(),
            )]
            .into(),
        };
        let p = launch(&["node", "server.js"]);
        let (launched, mode) = with_inspector(&p).unwrap();
        assert_eq!(mode, LaunchMode::Flag);
        let TargetProcess::Launch { command, env, .. } = launched else {
            panic!("still launched")
        };
        assert_eq!(command, v(&["node", "--inspect=127.0.0.1:0", "server.js"]));
        assert_eq!(env["NODE_OPTIONS"], "--max-semi-space-size=1");
        let npm = launch(&["npm", "start"]);
        let TargetProcess::Launch { command, env, .. } = with_inspector(&npm).unwrap().0 else {
            panic!("still launched")
        };
        assert_eq!(command, v(&["npm", "start"]));
        assert_eq!(
            env["NODE_OPTIONS"],
            "--max-semi-space-size=1 --inspect=127.0.0.1:0"
        );
        assert!(with_inspector(&TargetProcess::Pid { pid: 1 }).is_none());
    }

    #[test]
    fn gc_cadence_follows_the_interval() {
        assert_eq!(default_gc_every(Duration::from_secs(2)), 1);
        assert_eq!(default_gc_every(Duration::from_secs(1)), 1);
        assert_eq!(default_gc_every(Duration::from_millis(250)), 4);
        assert_eq!(default_gc_every(Duration::from_millis(300)), 4);
        let forced: Vec<bool> = (0..5).map(|n| InspectorSource::forces_gc(4, n)).collect();
        assert_eq!(forced, [true, false, false, false, true]);
        assert!(!InspectorSource::forces_gc(0, 0));
        assert_eq!(
            call_timeout(Duration::from_millis(250)),
            Duration::from_secs(1)
        );
        assert_eq!(
            call_timeout(Duration::from_secs(30)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn the_last_announced_inspector_wins_under_a_launcher() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("target.log");
        std::fs::write(
            &log,
            "old: Debugger listening on ws://127.0.0.1:1000/a\n\
             Debugger listening on ws://127.0.0.1:2000/npm\n\
             > server\nDebugger listening on ws://127.0.0.1:3000/server\n",
        )
        .unwrap();
        let from = "old: Debugger listening on ws://127.0.0.1:1000/a\n".len() as u64;
        assert_eq!(last_endpoint(&log, from).unwrap().port, 3000);
        assert_eq!(last_endpoint(&log, 10_000), None);
    }
}
