//! Finding a process's descendants in /proc.
//!
//! Preferred: `/proc/PID/task/TID/children` (one small read per thread of each process in the
//! tree, independent of how many processes the host runs). Fallback when the kernel lacks
//! CONFIG_PROC_CHILDREN: a scan of every `/proc/*/stat` for its parent PID.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;

/// Most processes a tree may hold; bounds the walk if /proc ever returns something odd.
const MAX_TREE: usize = 10_000;

/// How descendants are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    ChildrenFiles,
    StatScan,
}

impl Discovery {
    /// ChildrenFiles when this kernel offers the `children` file for `pid`'s main thread.
    pub fn detect(pid: u32) -> Self {
        if std::path::Path::new(&format!("/proc/{pid}/task/{pid}/children")).exists() {
            Discovery::ChildrenFiles
        } else {
            Discovery::StatScan
        }
    }
}

/// Reusable buffers for listing a tree.
pub struct TreeWalker {
    pub discovery: Discovery,
    buf: Vec<u8>,
}

impl TreeWalker {
    pub fn new(discovery: Discovery) -> Self {
        // One read of this size returns a children file whole: seq_file restarts its walk on
        // every read() call, and a child exiting between two calls can hide its siblings.
        TreeWalker {
            discovery,
            buf: vec![0; 64 * 1024],
        }
    }

    /// `root` followed by all its descendants (each once). Processes that vanish meanwhile
    /// are simply not listed.
    pub fn list(&mut self, root: u32) -> Vec<u32> {
        match self.discovery {
            Discovery::ChildrenFiles => self.by_children_files(root),
            Discovery::StatScan => by_stat_scan(root),
        }
    }

    fn by_children_files(&mut self, root: u32) -> Vec<u32> {
        let mut out = vec![root];
        let mut seen: HashSet<u32> = HashSet::from([root]);
        let mut next = 0;
        while next < out.len() && out.len() < MAX_TREE {
            let pid = out[next];
            next += 1;
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue; // gone
            };
            for task in tasks.flatten() {
                let path = task.path().join("children");
                let Some(text) = read_whole(&path, &mut self.buf) else {
                    continue;
                };
                for child in text
                    .split_ascii_whitespace()
                    .filter_map(|w| w.parse::<u32>().ok())
                {
                    if seen.insert(child) {
                        out.push(child);
                    }
                }
            }
        }
        out
    }
}

/// Reads a small /proc file in as few read() calls as the buffer allows.
fn read_whole<'a>(path: &std::path::Path, buf: &'a mut [u8]) -> Option<&'a str> {
    let mut file = File::open(path).ok()?;
    let mut len = 0;
    // Bounded by the buffer size: each pass either fills more of it or ends.
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return None,
        }
    }
    std::str::from_utf8(&buf[..len]).ok()
}

/// Parent PID from the text of `/proc/PID/stat` (the field after the `(comm)`, which may itself
/// hold spaces and parentheses, hence the last `)`).
fn ppid_of(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

fn by_stat_scan(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some(ppid) = ppid_of(&stat) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut seen: HashSet<u32> = HashSet::from([root]);
    let mut next = 0;
    while next < out.len() && out.len() < MAX_TREE {
        let pid = out[next];
        next += 1;
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(child) {
                out.push(child);
            }
        }
    }
    out
}

/// All descendants of `root` (children, grandchildren, ...; not `root` itself), found the
/// cheapest way this kernel allows. Empty when `root` is gone or has no children.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut all = TreeWalker::new(Discovery::detect(root)).list(root);
    all.remove(0);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppid_is_read_after_a_comm_with_spaces_and_parens() {
        let stat = "4242 (my (odd) name) S 17 4242 4242 0 -1 4194560 100";
        assert_eq!(ppid_of(stat), Some(17));
        assert_eq!(ppid_of("garbage"), None);
    }
}
