//! A full collection in a running JVM through HotSpot's attach socket, as `jcmd PID GC.run`
//! does, without starting a JVM to do it (jcmd costs about half a second of CPU per call).
//!
//! The protocol (HotSpot's `attachListener_linux.cpp`): on SIGQUIT a JVM that finds the file
//! `.attach_pid<PID>` in its working directory (or /tmp) opens the socket `/tmp/.java_pid<PID>`;
//! a client writes `1\0jcmd\0GC.run\0\0\0` (protocol version, command, three arguments) and
//! reads a status line (`0` = done) and the command's output. SIGQUIT ends a process that is
//! not a JVM, so it goes only to a process with `libjvm.so` mapped, and only once: the JVM
//! keeps its socket open for later calls.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a JVM may take to open its socket after SIGQUIT.
const OPEN_WITHIN: Duration = Duration::from_secs(5);
/// How long one collection may take before the call gives up (the collection goes on).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a reply read: `GC.run` answers with a status line and nothing else.
const MAX_REPLY: u64 = 64 << 10;

/// A JVM to collect in.
#[derive(Debug)]
pub struct JvmAttach {
    pid: u32,
    state: State,
}

#[derive(Debug)]
enum State {
    Unstarted,
    /// SIGQUIT sent with the attach file in place; the socket is yet to appear.
    Signalled {
        since: Instant,
        file: PathBuf,
    },
    Open,
    Failed,
}

impl JvmAttach {
    /// The first JVM among `root` and its descendants, if there is one.
    pub fn find(root: u32) -> Option<JvmAttach> {
        let tree = std::iter::once(root).chain(crate::memory::tree::descendants(root));
        let pid = tree.into_iter().find(|&p| is_jvm(p))?;
        Some(JvmAttach {
            pid,
            state: State::Unstarted,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Runs a full collection: Ok(true) when done, Ok(false) while the JVM is still opening
    /// its socket (call again later), Err once when it cannot be done (then Ok(false) after).
    pub fn gc_run(&mut self) -> Result<bool, String> {
        let socket = PathBuf::from(format!("/tmp/.java_pid{}", self.pid));
        match &self.state {
            State::Failed => return Ok(false),
            State::Unstarted if !socket.exists() => return self.signal().map(|()| false),
            State::Signalled { since, file } if !socket.exists() => {
                if since.elapsed() < OPEN_WITHIN {
                    return Ok(false);
                }
                let _ = std::fs::remove_file(file);
                return self.fail(format!(
                    "JVM {} opened no attach socket within {}s of SIGQUIT (started with \
                     -XX:+DisableAttachMechanism or -Xrs?)",
                    self.pid,
                    OPEN_WITHIN.as_secs()
                ));
            }
            State::Signalled { file, .. } => {
                let _ = std::fs::remove_file(file);
                self.state = State::Open;
            }
            State::Unstarted | State::Open => self.state = State::Open,
        }
        match call(&socket) {
            Ok(()) => Ok(true),
            Err(e) => self.fail(format!("JVM {} attach socket: {e}", self.pid)),
        }
    }

    fn signal(&mut self) -> Result<(), String> {
        // Still a JVM: the PID may have been reused since it was found.
        if !is_jvm(self.pid) {
            return self.fail(format!("process {} is no longer a JVM", self.pid));
        }
        let name = format!(".attach_pid{}", self.pid);
        let cwd = std::fs::read_link(format!("/proc/{}/cwd", self.pid)).ok();
        let file = [cwd, Some(PathBuf::from("/tmp"))]
            .into_iter()
            .flatten()
            .map(|dir| dir.join(&name))
            .find(|f| std::fs::File::create(f).is_ok());
        let Some(file) = file else {
            return self.fail(format!("cannot write {name} for JVM {}", self.pid));
        };
        // SAFETY: kill(2) with a PID and a signal number reads no memory.
        if unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGQUIT) } != 0 {
            let _ = std::fs::remove_file(&file);
            return self.fail(format!("cannot signal JVM {}", self.pid));
        }
        self.state = State::Signalled {
            since: Instant::now(),
            file,
        };
        Ok(())
    }

    fn fail<T>(&mut self, why: String) -> Result<T, String> {
        self.state = State::Failed;
        Err(why)
    }
}

/// One `jcmd GC.run` over the socket.
fn call(socket: &std::path::Path) -> std::io::Result<()> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_write_timeout(Some(CALL_TIMEOUT))?;
    stream.set_read_timeout(Some(CALL_TIMEOUT))?;
    stream.write_all(b"1\0jcmd\0GC.run\0\0\0")?;
    let mut reply = String::new();
    stream.take(MAX_REPLY).read_to_string(&mut reply)?;
    match reply.lines().next().map(str::trim) {
        Some("0") => Ok(()),
        _ => Err(std::io::Error::other(format!(
            "GC.run answered {:?}",
            reply.chars().take(200).collect::<String>()
        ))),
    }
}

/// True when `pid` has HotSpot's library mapped.
fn is_jvm(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .is_ok_and(|maps| maps.lines().any(|l| l.ends_with("/libjvm.so")))
}
