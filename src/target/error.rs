//! Errors of the target module and how a process ended, worded for the person running leakhound.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why the target could not be started, attached to or made ready. `main` maps all of them to
/// exit code 3 ("the target failed").
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("target.command is empty: give the program to start, e.g. [node, server.js]")]
    EmptyCommand,

    #[error("could not start the target `{command}` (cwd {cwd}): {reason}")]
    Spawn {
        command: String,
        cwd: String,
        reason: String,
    },

    #[error("could not open the target's log file {path}: {source}")]
    LogFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the target `{command}` ended before it was ready ({}){}", exit.detail, tail_text(log, log_tail))]
    ExitedBeforeReady {
        command: String,
        exit: ExitInfo,
        log: Option<PathBuf>,
        /// The last lines of its log (empty when there is no log or it is empty).
        log_tail: String,
    },

    #[error(
        "the target was not ready within {} ({what}); last probe: {last_error}. \
         If it needs longer to start, raise `target.ready.timeout`",
        humantime::format_duration(*timeout)
    )]
    NotReady {
        /// The URL or host:port that was probed.
        what: String,
        timeout: Duration,
        last_error: String,
    },

    #[error("cannot attach to PID {pid}: no such process")]
    NoSuchPid { pid: u32 },

    #[error("cannot attach: PID file {path} {reason}")]
    PidFile { path: PathBuf, reason: String },

    #[error("could not set up the readiness probe: {0}")]
    Probe(String),
}

fn tail_text(log: &Option<PathBuf>, tail: &str) -> String {
    match log {
        None => " (its output was not captured)".to_string(),
        Some(path) if tail.trim().is_empty() => format!("; its log {} is empty", path.display()),
        Some(path) => {
            let quoted: Vec<String> = tail
                .trim_end()
                .lines()
                .map(|l| format!("  | {l}"))
                .collect();
            format!(
                "; last lines of its log {}:\n{}",
                path.display(),
                quoted.join("\n")
            )
        }
    }
}

/// How a target process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// e.g. "exited with code 1", "killed by signal 9 (SIGKILL)".
    pub detail: String,
}

impl ExitInfo {
    pub fn from_status(status: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let code = status.code();
        let signal = status.signal();
        let detail = match (code, signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(s)) => {
                let core = if status.core_dumped() {
                    ", core dumped"
                } else {
                    ""
                };
                match signal_name(s) {
                    Some(name) => format!("killed by signal {s} ({name}{core})"),
                    None => format!("killed by signal {s}{core}"),
                }
            }
            (None, None) => format!("ended ({status})"),
        };
        ExitInfo {
            code,
            signal,
            detail,
        }
    }

    /// An attached process is not our child: its exit status cannot be known.
    pub fn gone(pid: u32) -> Self {
        ExitInfo {
            code: None,
            signal: None,
            detail: format!("process {pid} is gone (attached, exit status unknown)"),
        }
    }
}

/// Names of the signals a server usually dies of.
fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        _ => return None,
    })
}
