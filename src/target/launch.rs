//! Starting a target process (in its own process group, tied to leakhound's life) and killing
//! that group.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::error::TargetError;

/// Spawns `command` in a new process group with stdout+stderr appended to `log` (or discarded).
///
/// The child gets SIGKILL if leakhound dies (PR_SET_PDEATHSIG). The kernel sends it when the
/// *thread* that forked exits, so call this from a long-lived thread (a runtime worker or the
/// main thread), never from `spawn_blocking`, whose threads retire when idle.
pub(crate) fn spawn(
    command: &[String],
    cwd: Option<&Path>,
    env: &BTreeMap<String, String>,
    log: Option<&Path>,
) -> Result<Child, TargetError> {
    let (program, args) = command.split_first().ok_or(TargetError::EmptyCommand)?;
    let cwd_text = match cwd {
        Some(dir) => dir.display().to_string(),
        None => std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| ".".to_string()),
    };
    let spawn_error = |reason: String| TargetError::Spawn {
        command: program.clone(),
        cwd: cwd_text.clone(),
        reason,
    };
    // A missing cwd makes spawn fail with NotFound too; say which one it was.
    if let Some(dir) = cwd {
        if !dir.is_dir() {
            return Err(spawn_error(
                "the working directory does not exist".to_string(),
            ));
        }
    }

    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(env)
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    match log {
        Some(path) => {
            let open_err = |source| TargetError::LogFile {
                path: path.to_path_buf(),
                source,
            };
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(open_err)?;
            let copy = file.try_clone().map_err(open_err)?;
            cmd.stdout(copy).stderr(file);
        }
        None => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
    }
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the closure only makes async-signal-safe syscalls (prctl, getppid).
        unsafe {
            cmd.pre_exec(move || {
                let sig = libc::SIGKILL as libc::c_ulong;
                if libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // leakhound died between fork and prctl: the signal will never come, so do not
                // start an orphan.
                if libc::getppid() != parent {
                    return Err(io::Error::other("leakhound exited during spawn"));
                }
                Ok(())
            });
        }
    }

    cmd.spawn().map_err(|e| {
        let reason = match e.kind() {
            io::ErrorKind::NotFound if program.contains('/') => "no such file".to_string(),
            io::ErrorKind::NotFound => "command not found (not on PATH)".to_string(),
            io::ErrorKind::PermissionDenied => "permission denied (is it executable?)".to_string(),
            _ => e.to_string(),
        };
        spawn_error(reason)
    })
}

/// Sends `sig` to every process of group `pgid`. Returns false when the group is empty.
pub(crate) fn signal_group(pgid: u32, sig: libc::c_int) -> bool {
    if pgid <= 1 {
        return false; // never signal "all processes" or init's group by mistake
    }
    // SAFETY: plain syscall with checked arguments.
    unsafe { libc::killpg(pgid as libc::pid_t, sig) == 0 }
}

/// True while group `pgid` has a member that is not a zombie. Zombies are excluded because an
/// orphaned, exited grandchild may never be reaped (e.g. leakhound is PID 1 in a container).
pub(crate) fn group_alive(pgid: u32) -> bool {
    // Cheap check first: no member at all.
    if !signal_group(pgid, 0) {
        return false;
    }
    let Ok(all) = procfs::process::all_processes() else {
        return true;
    };
    all.filter_map(|p| p.ok()?.stat().ok())
        .any(|st| st.pgrp == pgid as i32 && st.state != 'Z' && st.state != 'X')
}

/// The last `lines` lines of a log file (reads at most its last 64 KiB); empty when unreadable.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX: u64 = 64 * 1024;
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX && file.seek(SeekFrom::Start(len - MAX)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.take(MAX).read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
