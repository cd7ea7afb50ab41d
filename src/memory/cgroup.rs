//! The `cgroup` and `docker` sources: memory of a cgroup v2 directory, which is what a
//! container runtime or the kernel's OOM killer counts (page cache and kernel memory included,
//! unlike a process's RSS).
//!
//! Read per tick: `memory.current` (total), `memory.stat` anon/file, and `memory.events`
//! `oom_kill` (a counter; when it moves, the run records an OOM kill). A docker container is
//! resolved to its cgroup through its main PID (`docker inspect`), which works with either the
//! systemd or the cgroupfs driver.
//!
//! Hosts whose memory controller is still on cgroup v1 (hybrid setups, older distributions)
//! are read too, from the v1 equivalents: `memory.usage_in_bytes`, `memory.stat`
//! `total_rss`/`total_cache`, and `memory.oom_control` `oom_kill`.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::source::{Identity, Source, SourceError, SourceReading};

/// Metrics of the `cgroup` source.
pub const CGROUP_METRICS: &[&str] = &["cgroup_current", "cgroup_anon", "cgroup_file"];
/// Metrics of the `docker` source (the same files, for a container).
pub const DOCKER_METRICS: &[&str] = &["docker_current", "docker_anon", "docker_file"];
/// Longest a `docker inspect` may take.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Which memory-controller interface a cgroup directory offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V1,
}

impl Version {
    /// The version of `dir`, from the file holding total usage.
    fn of(dir: &Path) -> Option<Version> {
        if dir.join("memory.current").is_file() {
            Some(Version::V2)
        } else if dir.join("memory.usage_in_bytes").is_file() {
            Some(Version::V1)
        } else {
            None
        }
    }
}

/// Reads one cgroup directory.
pub struct CgroupSource {
    /// `cgroup` or `docker`: the source name and the metrics' prefix.
    kind: &'static str,
    dir: PathBuf,
    version: Version,
    /// The container to re-resolve when its cgroup disappears (it was restarted).
    container: Option<String>,
}

impl CgroupSource {
    /// A cgroup directory; checks that it is a cgroup v2 directory with memory accounting.
    pub fn at(dir: PathBuf) -> Result<Self, SourceError> {
        let mut s = CgroupSource {
            kind: "cgroup",
            dir,
            version: Version::V2,
            container: None,
        };
        s.check()?;
        Ok(s)
    }

    /// The cgroup of process `pid` (from /proc/PID/cgroup).
    pub fn of_process(pid: u32) -> Result<Self, SourceError> {
        CgroupSource::at(cgroup_of(pid)?)
    }

    /// The cgroup of a running Docker container, by name or id.
    pub fn of_container(container: &str) -> Result<Self, SourceError> {
        let dir = cgroup_of(container_pid(container)?)?;
        let mut s = CgroupSource {
            kind: "docker",
            dir,
            version: Version::V2,
            container: Some(container.to_string()),
        };
        s.check()?;
        Ok(s)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn version(&self) -> Version {
        self.version
    }

    fn check(&mut self) -> Result<(), SourceError> {
        if let Some(v) = Version::of(&self.dir) {
            self.version = v;
            return Ok(());
        }
        let current = self.dir.join("memory.current");
        match std::fs::metadata(&current) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound && self.dir.is_dir() => {
                Err(SourceError::Unavailable(format!(
                    "{} has no memory.current: it is not a cgroup v2 directory (nor a v1 memory \
                     cgroup), or the memory controller is not enabled for it (see \
                     cgroup.controllers of its parent)",
                    self.dir.display()
                )))
            }
            Err(e) => Err(read_error(&current, &e)),
        }
    }

    fn read(&self) -> Result<SourceReading, SourceError> {
        let (current, stat_keys, events) = match self.version {
            Version::V2 => ("memory.current", ["anon", "file"], "memory.events"),
            // v1 `total_*` include child cgroups, like v2's figures.
            Version::V1 => (
                "memory.usage_in_bytes",
                ["total_rss", "total_cache"],
                "memory.oom_control",
            ),
        };
        let path = self.dir.join(current);
        let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, &e))?;
        let current = text.trim().parse::<u64>().map_err(|_| SourceError::Read {
            path: path.display().to_string(),
            reason: format!("expected a number of bytes, found {:?}", text.trim()),
        })?;
        let mut metrics = BTreeMap::from([(format!("{}_current", self.kind), current)]);
        // memory.stat and memory.events are optional extras: a kernel without a field still
        // gives memory.current.
        if let Ok(stat) = std::fs::read_to_string(self.dir.join("memory.stat")) {
            for (key, name) in stat_keys.iter().zip(["anon", "file"]) {
                if let Some(v) = field(&stat, key) {
                    metrics.insert(format!("{}_{name}", self.kind), v);
                }
            }
        }
        let oom_kills = std::fs::read_to_string(self.dir.join(events))
            .ok()
            .and_then(|events| field(&events, "oom_kill"));
        Ok(SourceReading {
            metrics,
            identity: Identity {
                oom_kills,
                ..Identity::default()
            },
            events: Vec::new(),
        })
    }
}

impl Source for CgroupSource {
    fn name(&self) -> &str {
        self.kind
    }

    fn sample(&mut self) -> Result<SourceReading, SourceError> {
        match self.read() {
            Ok(r) => Ok(r),
            Err(e) => {
                // A restarted container may get a new cgroup (cgroupfs driver): look it up again.
                let Some(container) = &self.container else {
                    return Err(e);
                };
                let dir = cgroup_of(container_pid(container)?)?;
                if dir == self.dir {
                    return Err(e);
                }
                self.dir = dir;
                self.read()
            }
        }
    }
}

/// `key value` from a flat-keyed cgroup file (memory.stat, memory.events).
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

fn read_error(path: &Path, e: &std::io::Error) -> SourceError {
    let reason = match e.kind() {
        ErrorKind::NotFound => "it does not exist (a cgroup v2 directory was expected)".to_string(),
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    SourceError::Read {
        path: path.display().to_string(),
        reason,
    }
}

/// The memory cgroup directory of `pid`: its `0::` line in /proc/PID/cgroup below the cgroup2
/// mount (found in /proc/self/mountinfo; usually /sys/fs/cgroup), or, when the memory
/// controller is not on v2 there, its v1 `memory` line below the v1 memory mount.
pub fn cgroup_of(pid: u32) -> Result<PathBuf, SourceError> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).map_err(|e| read_error(Path::new(&path), &e))?;
    let v2 = cgroup2_of(pid, &path, &text);
    if matches!(&v2, Ok(dir) if Version::of(dir).is_some()) {
        return v2;
    }
    match cgroup1_memory_of(&text) {
        Some(dir) if Version::of(&dir) == Some(Version::V1) => Ok(dir),
        _ => v2,
    }
}

/// The v1 memory controller's directory for the /proc/PID/cgroup `text`.
fn cgroup1_memory_of(text: &str) -> Option<PathBuf> {
    let rel = text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, controllers, rel) = (f.next()?, f.next()?, f.next()?);
        controllers.split(',').any(|c| c == "memory").then_some(rel)
    })?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let (root, mount) = mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split_whitespace();
        let (fstype, _, options) = (r.next()?, r.next()?, r.next()?);
        if fstype != "cgroup" || !options.split(',').any(|o| o == "memory") {
            return None;
        }
        let mut f = left.split_whitespace();
        Some((f.nth(3)?.to_string(), f.next()?.to_string()))
    })?;
    Some(join_below(&mount, &root, rel.trim()))
}

fn cgroup2_of(pid: u32, path: &str, text: &str) -> Result<PathBuf, SourceError> {
    let Some(rel) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Err(SourceError::Unavailable(format!(
            "process {pid} is not in a cgroup v2 hierarchy ({path} has no `0::` line): this \
             machine uses cgroup v1; use the `process` source"
        )));
    };
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| read_error(Path::new("/proc/self/mountinfo"), &e))?;
    let Some((root, mount)) = cgroup2_mount(&mountinfo) else {
        return Err(SourceError::Unavailable(
            "no cgroup2 file system is mounted (see /proc/self/mountinfo); use the `process` \
             source"
                .to_string(),
        ));
    };
    Ok(join_below(&mount, &root, rel.trim()))
}

/// (root within the hierarchy, mount point) of the first cgroup2 mount in mountinfo text.
fn cgroup2_mount(mountinfo: &str) -> Option<(String, String)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if right.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut f = left.split_whitespace();
        let root = f.nth(3)?;
        let mount = f.next()?;
        Some((root.to_string(), mount.to_string()))
    })
}

/// `mount` + (`rel` without the mount's own root), so a cgroup namespace's view works too.
fn join_below(mount: &str, root: &str, rel: &str) -> PathBuf {
    let rel = match rel.strip_prefix(root) {
        Some(rest) if root != "/" => rest,
        _ => rel,
    };
    let mut p = PathBuf::from(mount);
    for part in rel.split('/').filter(|s| !s.is_empty() && *s != "..") {
        p.push(part);
    }
    p
}

/// The main PID of a running container, via `docker inspect` (bounded by [`DOCKER_TIMEOUT`]).
pub fn container_pid(container: &str) -> Result<u32, SourceError> {
    let mut child = Command::new("docker")
        .args(["inspect", "--format", "{{.State.Pid}}", "--", container])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            SourceError::Unavailable(if e.kind() == ErrorKind::NotFound {
                format!(
                    "docker source: the `docker` command is not on PATH, so container \
                     `{container}` cannot be found; install the docker CLI, or give the \
                     container's cgroup directly: `- cgroup: {{path: /sys/fs/cgroup/...}}`"
                )
            } else {
                format!("docker source: cannot run `docker inspect`: {e}")
            })
        })?;
    let deadline = Instant::now() + DOCKER_TIMEOUT;
    // Bounded by the deadline: poll, then kill.
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceError::Unavailable(format!(
                    "docker source: `docker inspect {container}` did not answer within 10s"
                )));
            }
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| SourceError::Unavailable(format!("docker source: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(SourceError::Unavailable(format!(
            "docker source: `docker inspect {container}` failed: {}",
            stderr.trim()
        )));
    }
    match stdout.trim().parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(SourceError::Unavailable(format!(
            "docker source: container `{container}` is not running (its PID is {:?})",
            stdout.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_fields_are_found_by_whole_key() {
        let stat = "anon 4096\nanon_thp 0\nfile 8192\nfile_mapped 1\n";
        assert_eq!(field(stat, "anon"), Some(4096));
        assert_eq!(field(stat, "file"), Some(8192));
        assert_eq!(field(stat, "shmem"), None);
        assert_eq!(field("low 0\noom_kill 3\n", "oom_kill"), Some(3));
    }

    #[test]
    fn the_cgroup2_mount_and_namespaced_paths() {
        let mi = "25 30 0:23 / /sys rw - sysfs sysfs rw\n\
                  30 25 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw\n";
        let (root, mount) = cgroup2_mount(mi).unwrap();
        assert_eq!((root.as_str(), mount.as_str()), ("/", "/sys/fs/cgroup"));
        assert_eq!(
            join_below(&mount, &root, "/user.slice/app.scope"),
            PathBuf::from("/sys/fs/cgroup/user.slice/app.scope")
        );
        // Inside a container whose cgroup2 mount's root is its own cgroup.
        assert_eq!(
            join_below("/sys/fs/cgroup", "/docker/abc", "/docker/abc/sub"),
            PathBuf::from("/sys/fs/cgroup/sub")
        );
        assert_eq!(
            join_below("/sys/fs/cgroup", "/", "/../x"),
            PathBuf::from("/sys/fs/cgroup/x")
        );
        assert!(cgroup2_mount("25 30 0:23 / /sys rw - sysfs sysfs rw\n").is_none());
    }

    #[test]
    fn a_directory_without_memory_files_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let e = CgroupSource::at(dir.path().to_path_buf()).err().unwrap();
        assert!(e.to_string().contains("not a cgroup v2 directory"), "{e}");
        let e = CgroupSource::at(dir.path().join("nope")).err().unwrap();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }

    #[test]
    fn reads_a_cgroup_shaped_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.current"), "1048576\n").unwrap();
        std::fs::write(dir.path().join("memory.stat"), "anon 524288\nfile 262144\n").unwrap();
        std::fs::write(dir.path().join("memory.events"), "oom 1\noom_kill 2\n").unwrap();
        let mut s = CgroupSource::at(dir.path().to_path_buf()).unwrap();
        let r = s.sample().unwrap();
        assert_eq!(r.metrics["cgroup_current"], 1_048_576);
        assert_eq!(r.metrics["cgroup_anon"], 524_288);
        assert_eq!(r.metrics["cgroup_file"], 262_144);
        assert_eq!(r.identity.oom_kills, Some(2));
        std::fs::write(dir.path().join("memory.current"), "max\n").unwrap();
        assert!(s.sample().is_err());
    }

    #[test]
    fn reads_a_v1_memory_cgroup_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("memory.usage_in_bytes"), "4096\n").unwrap();
        std::fs::write(
            dir.path().join("memory.stat"),
            "cache 1\nrss 2\ntotal_cache 1024\ntotal_rss 2048\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n",
        )
        .unwrap();
        let mut s = CgroupSource::at(dir.path().to_path_buf()).unwrap();
        assert_eq!(s.version(), Version::V1);
        let r = s.sample().unwrap();
        assert_eq!(r.metrics["cgroup_current"], 4096);
        assert_eq!(r.metrics["cgroup_anon"], 2048);
        assert_eq!(r.metrics["cgroup_file"], 1024);
        assert_eq!(r.identity.oom_kills, Some(1));
    }

    #[test]
    fn own_cgroup_of_this_process_is_readable_or_explained() {
        match CgroupSource::of_process(std::process::id()) {
            Ok(mut s) => {
                let r = s.sample().unwrap();
                assert!(r.metrics["cgroup_current"] > 0, "{:?}", s.dir());
            }
            Err(e) => eprintln!("skipped: this machine gives no cgroup v2 memory files: {e}"),
        }
    }
}
