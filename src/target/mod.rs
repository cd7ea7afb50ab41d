//! The process under test: launch it (or attach to it), wait until it is ready, notice when it
//! exits, and stop it at the end.
//!
//! A launched target runs in its own process group, so stopping it reaches the workers it
//! forked too, and it never outlives leakhound: `kill_on_drop`, a group SIGKILL when [`Target`]
//! is dropped, and on Linux `PR_SET_PDEATHSIG` for the case where leakhound itself crashes.
//! Attached targets are only watched, never signalled: leakhound does not own them.

mod error;
mod launch;
mod ready;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;

pub use error::{ExitInfo, TargetError};

use crate::scenario::{TargetPlan, TargetProcess};

/// How often an attached process is checked for having exited.
const ATTACH_POLL: Duration = Duration::from_millis(200);
/// Lines of the target's log quoted when it dies before it is ready.
const LOG_TAIL_LINES: usize = 20;

/// A target that is up and answered its readiness probe.
pub struct Target {
    kind: Kind,
}

enum Kind {
    Launched {
        child: Child,
        /// Also the process group id (the child leads its own group).
        pid: u32,
        exit: Option<ExitInfo>,
        /// Set once `stop` has finished, so Drop does not signal a group that is gone.
        stopped: bool,
    },
    Attached {
        pid: u32,
        /// Kernel start time of the process, so a recycled PID is not mistaken for it.
        start_time: u64,
        exit: Option<ExitInfo>,
        /// Attached through a pid file: when the process ends, a new PID written there within
        /// `reattach` is followed (a supervisor restarted the service), through `root`.
        pid_file: Option<(PathBuf, Duration)>,
        /// The current PID, shared with the process memory source.
        root: Arc<AtomicU32>,
        /// When the process was first seen gone, while a new PID is awaited (kept here because
        /// `exited` is dropped and called again at every tick of the run).
        gone_since: Option<tokio::time::Instant>,
    },
    None,
}

/// Launches (or attaches to) the target in `plan` and waits until it is ready.
///
/// `log` receives the launched process's stdout and stderr (appended). If a launched target
/// exits while waiting, this fails at once with its exit status and the end of its log. On any
/// error, a launched target and its process group are killed before returning.
///
/// Call it from a thread that lives as long as the run (the main thread or a runtime worker,
/// not `spawn_blocking`): on Linux the child is SIGKILLed when the thread that spawned it exits.
pub async fn start(plan: &TargetPlan, log: Option<&Path>) -> Result<Target, TargetError> {
    let probe = ready::Probe::new(plan)?;
    let (mut target, label) = match &plan.process {
        TargetProcess::Launch { command, cwd, env } => {
            let child = launch::spawn(command, cwd.as_deref(), env, log)?;
            // A freshly spawned, unpolled child always has an id.
            let pid = child.id().unwrap_or(0);
            let kind = Kind::Launched {
                child,
                pid,
                exit: None,
                stopped: false,
            };
            (Target { kind }, command_label(command))
        }
        TargetProcess::Pid { pid } => (attach(*pid, None)?, format!("pid {pid}")),
        TargetProcess::PidFile { path } => {
            let pid = read_pid_file(path)?;
            // A restarted service gets as long to write its new PID as it had to get ready.
            let again = Some((path.clone(), plan.ready.timeout));
            (
                attach(pid, again)?,
                format!("pid {pid} from {}", path.display()),
            )
        }
        TargetProcess::None => (Target { kind: Kind::None }, plan.base_url.clone()),
    };

    // Only a launched target writes to the log.
    let log = log.filter(|_| target.launched());
    let outcome = tokio::select! {
        ready = probe.wait(plan.ready.timeout) => ready,
        exit = target.exited() => Err(TargetError::ExitedBeforeReady {
            command: label,
            exit,
            log: log.map(PathBuf::from),
            log_tail: log.map(|p| launch::log_tail(p, LOG_TAIL_LINES)).unwrap_or_default(),
        }),
    };
    match outcome {
        Ok(()) => Ok(target),
        Err(e) => {
            // Leave nothing behind: workers of a dead parent, or a target that never got ready.
            target.kill_now().await;
            Err(e)
        }
    }
}

fn command_label(command: &[String]) -> String {
    let mut text = command.join(" ");
    if text.len() > 200 {
        let mut cut = 200;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn attach(pid: u32, pid_file: Option<(PathBuf, Duration)>) -> Result<Target, TargetError> {
    let start_time = live_start_time(pid).ok_or(TargetError::NoSuchPid { pid })?;
    let kind = Kind::Attached {
        pid,
        start_time,
        exit: None,
        pid_file,
        root: Arc::new(AtomicU32::new(pid)),
        gone_since: None,
    };
    Ok(Target { kind })
}

/// The live process a pid file names, other than `old`, polled until `deadline`: how a
/// target attached through its pid file is found again after a supervisor restarted it.
async fn new_pid_in(path: &Path, old: u32, deadline: tokio::time::Instant) -> Option<(u32, u64)> {
    loop {
        let found = read_pid_file(path)
            .ok()
            .filter(|&p| p != old)
            .and_then(|p| Some((p, live_start_time(p)?)));
        if found.is_some() || tokio::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(ATTACH_POLL).await;
    }
}

fn read_pid_file(path: &Path) -> Result<u32, TargetError> {
    let err = |reason: String| TargetError::PidFile {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => err("does not exist".to_string()),
        _ => err(format!("could not be read: {e}")),
    })?;
    let trimmed = text.trim();
    match trimmed.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => {
            let shown: String = trimmed.chars().take(40).collect();
            Err(err(format!("does not hold a PID (found {shown:?})")))
        }
    }
}

/// True while the attached process still runs (not gone, not a zombie, not a recycled PID).
fn attached_alive(pid: u32, start_time: u64) -> bool {
    live_start_time(pid) == Some(start_time)
}

/// The kernel start time of `pid` while it runs (not gone, not a zombie); None otherwise.
fn live_start_time(pid: u32) -> Option<u64> {
    let st = procfs::process::Process::new(i32::try_from(pid).ok().filter(|&p| p > 0)?)
        .and_then(|p| p.stat())
        .ok()?;
    (st.state != 'Z' && st.state != 'X').then_some(st.starttime)
}

impl Target {
    /// The root PID whose process tree is sampled; None when there is no process.
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Launched { pid, .. } | Kind::Attached { pid, .. } => Some(*pid),
            Kind::None => None,
        }
    }

    /// Where the current PID of a target attached through a pid file lives: it changes when
    /// the target is re-attached after a restart. None for other targets.
    pub fn root_handle(&self) -> Option<Arc<AtomicU32>> {
        match &self.kind {
            Kind::Attached {
                pid_file: Some(_),
                root,
                ..
            } => Some(root.clone()),
            _ => None,
        }
    }

    /// True when leakhound started the target (and so stops it).
    pub fn launched(&self) -> bool {
        matches!(self.kind, Kind::Launched { .. })
    }

    /// Resolves when the target process ends; never for a target without a process.
    /// Cancel-safe: it may be dropped in a `select!` and called again.
    pub async fn exited(&mut self) -> ExitInfo {
        match &mut self.kind {
            Kind::Launched {
                exit: Some(info), ..
            }
            | Kind::Attached {
                exit: Some(info), ..
            } => info.clone(),
            Kind::Launched { child, exit, .. } => {
                // Child::wait is cancel-safe and caches the status once reaped.
                let info = match child.wait().await {
                    Ok(status) => ExitInfo::from_status(status),
                    Err(e) => ExitInfo {
                        code: None,
                        signal: None,
                        detail: format!("could not be waited for: {e}"),
                    },
                };
                *exit = Some(info.clone());
                info
            }
            Kind::Attached {
                pid,
                start_time,
                exit,
                pid_file,
                root,
                gone_since,
            } => {
                loop {
                    while attached_alive(*pid, *start_time) {
                        tokio::time::sleep(ATTACH_POLL).await;
                    }
                    let Some((path, wait)) = pid_file.as_ref() else {
                        break;
                    };
                    let since = *gone_since.get_or_insert_with(tokio::time::Instant::now);
                    match new_pid_in(path, *pid, since + *wait).await {
                        // Restarted: follow the new process (the memory watch records the
                        // restart when the old PID leaves the sampled tree).
                        Some((new, started)) => {
                            *pid = new;
                            *start_time = started;
                            *gone_since = None;
                            root.store(new, Ordering::Relaxed);
                        }
                        None => break,
                    }
                }
                let info = ExitInfo::gone(*pid);
                *exit = Some(info.clone());
                info
            }
            Kind::None => std::future::pending().await,
        }
    }

    /// Stops a launched target: SIGTERM to its process group, up to `grace` for the group to
    /// end, then SIGKILL to the group; reaps the child. Returns how the launched process ended
    /// (also when it had already exited), or None for an attached target, which is left alone.
    pub async fn stop(&mut self, grace: Duration) -> Option<ExitInfo> {
        let Kind::Launched { pid, stopped, .. } = &mut self.kind else {
            return None;
        };
        let pgid = *pid;
        if !*stopped {
            launch::signal_group(pgid, libc::SIGTERM);
            let deadline = tokio::time::Instant::now() + grace;
            // Bounded by `grace`: poll the child and the rest of its group.
            loop {
                let child_done = self.try_reap();
                if child_done && !launch::group_alive(pgid) {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.kill_now().await;
        match &self.kind {
            Kind::Launched { exit, .. } => exit.clone(),
            _ => None,
        }
    }

    /// Non-blocking: records the child's exit if it has ended. True once it has.
    fn try_reap(&mut self) -> bool {
        let Kind::Launched { child, exit, .. } = &mut self.kind else {
            return true;
        };
        if exit.is_some() {
            return true;
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                *exit = Some(ExitInfo::from_status(status));
                true
            }
            Ok(None) => false,
            Err(_) => true, // nothing left to wait for
        }
    }

    /// SIGKILL the launched target's group and reap the child (waits at most 5 s, in case the
    /// process is stuck in the kernel). No-op for attached targets.
    async fn kill_now(&mut self) {
        let Kind::Launched {
            child,
            pid,
            exit,
            stopped,
        } = &mut self.kind
        else {
            return;
        };
        if *stopped {
            return;
        }
        launch::signal_group(*pid, libc::SIGKILL);
        if exit.is_none() {
            // start_kill fails only when the child was already reaped; the group kill covers it.
            let _ = child.start_kill();
            if let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(5), child.wait()).await
            {
                *exit = Some(ExitInfo::from_status(status));
            }
        }
        *stopped = true;
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // kill_on_drop only reaches the direct child; its workers share its process group.
        if let Kind::Launched {
            pid,
            stopped: false,
            ..
        } = &self.kind
        {
            launch::signal_group(*pid, libc::SIGKILL);
        }
    }
}
