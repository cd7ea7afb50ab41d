//! Tests of the process-tree sampler against real Node processes and real /proc.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

const MIB: u64 = 1024 * 1024;

/// A Node process in its own group; the whole group is killed when the test ends, pass or fail.
struct NodeGroup {
    child: Child,
}

impl NodeGroup {
    /// Runs `script`, which must print `ready` once it is set up; waits for that line (5 s max,
    /// enforced by the script's own watchdog, so a hung read cannot block the test forever).
    fn start(script: &str) -> NodeGroup {
        let watchdog = "setTimeout(() => process.exit(9), 8000).unref();";
        let child = Command::new("node")
            .args(["-e", &format!("{watchdog}\n{script}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut group = NodeGroup { child };
        let out = group.child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "node setup failed");
        group
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for NodeGroup {
    fn drop(&mut self) {
        // SAFETY: plain syscall on the group this test created.
        unsafe { libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// A parent that spawns `n` Node children, each idle, and prints `ready` when all are up.
fn tree_script(n: usize) -> String {
    format!(
        r#"
const cp = require('child_process');
let up = 0;
for (let i = 0; i < {n}; i++) {{
  const c = cp.spawn(process.execPath, ['-e', 'setInterval(() => {{}}, 1000); console.log("up")'],
                     {{ stdio: ['ignore', 'pipe', 'inherit'] }});
  c.stdout.once('data', () => {{ if (++up === {n}) console.log('ready'); }});
}}
setInterval(() => {{}}, 1000);
"#
    )
}

#[test]
fn counts_50_mib_of_filled_buffers_as_anonymous_memory() {
    let g = NodeGroup::start(
        "const keep = []; for (let i = 0; i < 50; i++) keep.push(Buffer.alloc(1 << 20, 1)); \
         console.log('ready'); setInterval(() => keep.length, 1000);",
    );
    let mut sampler = ProcessTreeSampler::new(g.pid()).unwrap();
    let s = sampler.sample().unwrap();
    assert_eq!(s.processes, 1);
    let anon = s.metrics["rss_anon"];
    assert!(anon >= 50 * MIB, "rss_anon {} MiB", anon / MIB);
    let rss = s.metrics["rss"];
    assert!(rss >= anon && rss == anon + s.metrics["rss_file"] + s.metrics["rss_shmem"]);
    // A single process owns its anonymous pages alone: Pss_Anon is close to RssAnon.
    let pss_anon = s.metrics["pss_anon"];
    assert!(
        pss_anon >= 50 * MIB && pss_anon <= anon + MIB,
        "pss_anon {pss_anon}"
    );
    for m in METRICS {
        assert!(s.metrics.contains_key(*m), "missing {m}: {:?}", s.metrics);
    }
}

#[test]
fn sums_a_parent_and_its_two_children() {
    let g = NodeGroup::start(&tree_script(2));
    let kids = descendants(g.pid());
    assert_eq!(kids.len(), 2, "{kids:?}");
    let mut tree = ProcessTreeSampler::new(g.pid()).unwrap();
    let before = tree.sample().unwrap();
    assert_eq!(before.processes, 3);

    // Each process on its own.
    let mut each = 0;
    for pid in std::iter::once(g.pid()).chain(kids.iter().copied()) {
        let anon = tree.read(pid).unwrap().unwrap().status[1].unwrap(); // rss_anon
        assert!(
            anon > 2 * MIB,
            "process {pid} has only {anon} B of rss_anon"
        );
        each += anon;
    }
    // A leaf's tree is itself.
    assert_eq!(
        ProcessTreeSampler::new(kids[0])
            .unwrap()
            .sample()
            .unwrap()
            .processes,
        1
    );
    let after = tree.sample().unwrap();
    // Freshly started Node processes still grow a little, so bracket the per-process sum by
    // the tree readings taken just before and after it.
    let (lo, hi) = (before.metrics["rss_anon"], after.metrics["rss_anon"]);
    let (lo, hi) = (lo.min(hi), lo.max(hi));
    assert!(
        each as f64 >= lo as f64 * 0.97 && each as f64 <= hi as f64 * 1.03,
        "sum of each {each} outside tree readings {lo}..{hi}"
    );
}

#[test]
fn a_vanished_root_is_gone_and_a_missing_one_is_refused() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    let mut sampler = ProcessTreeSampler::new(pid).unwrap();
    assert_eq!(sampler.sample().unwrap().processes, 1);

    // Killed but not reaped: a zombie has no memory left, the target is gone.
    child.kill().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(sampler.sample(), Err(MemoryError::Gone { pid: p }) if p == pid));
    child.wait().unwrap();
    let err = sampler.sample().unwrap_err();
    assert!(matches!(err, MemoryError::Gone { .. }), "{err}");
    assert!(err.to_string().contains(&pid.to_string()));

    let err = ProcessTreeSampler::new(999_999_999).err().unwrap();
    assert!(
        matches!(err, MemoryError::NoSuchProcess { pid: 999_999_999 }),
        "{err}"
    );
}

#[test]
fn a_child_that_exits_is_dropped_from_the_sum_without_error() {
    let g = NodeGroup::start(&tree_script(2));
    let mut sampler = ProcessTreeSampler::new(g.pid()).unwrap();
    assert_eq!(sampler.sample().unwrap().processes, 3);
    let kids = descendants(g.pid());
    // SAFETY: plain syscall on a child of this test's group.
    unsafe { libc::kill(kids[0] as libc::pid_t, libc::SIGKILL) };
    // Bounded wait for the parent to reap it (until then it is a zombie, also skipped).
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut n = 3;
    while Instant::now() < deadline && n != 2 {
        n = sampler.sample().unwrap().processes;
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(n, 2);
}

#[test]
fn pss_is_read_within_its_cpu_budget() {
    let g = NodeGroup::start(&tree_script(1));
    let mut sampler = ProcessTreeSampler::new(g.pid()).unwrap();
    // A budget so small the next read is due in hours: only the first sample reads pss.
    sampler.set_pss_budget(Some(1e-9));
    let first = sampler.sample().unwrap();
    let second = sampler.sample().unwrap();
    if sampler.pss() {
        assert!(first.metrics.contains_key("pss"), "{first:?}");
    }
    assert!(!second.metrics.contains_key("pss"), "{second:?}");
    assert!(second.metrics.contains_key("rss_anon"));
    // Without a budget every sample reads it.
    sampler.set_pss_budget(None);
    let third = sampler.sample().unwrap();
    assert_eq!(third.metrics.contains_key("pss"), sampler.pss());
}

/// Cost of one sample on a Node tree of 4 processes: a benchmark, printed for the record
/// (`cargo test --release --lib sample_cost -- --ignored --nocapture`).
#[test]
#[ignore = "benchmark: prints the cost of a sample"]
fn sample_cost_on_a_node_tree() {
    let g = NodeGroup::start(&tree_script(3));
    let mut sampler = ProcessTreeSampler::new(g.pid()).unwrap();
    assert_eq!(sampler.sample().unwrap().processes, 4);
    let rounds = 100;
    let t0 = Instant::now();
    for _ in 0..rounds {
        sampler.sample().unwrap();
    }
    let per = t0.elapsed() / rounds;
    sampler.set_pss(false);
    let lean = sampler.sample().unwrap();
    assert!(!lean.metrics.contains_key("pss") && lean.metrics.contains_key("rss_anon"));
    let t0 = Instant::now();
    for _ in 0..rounds {
        sampler.sample().unwrap();
    }
    let per_lean = t0.elapsed() / rounds;

    let mut scan = TreeWalker::new(Discovery::StatScan);
    let mut files = TreeWalker::new(Discovery::ChildrenFiles);
    assert_eq!(scan.list(g.pid()).len(), 4);
    let t1 = Instant::now();
    for _ in 0..rounds {
        scan.list(g.pid());
    }
    let per_scan = t1.elapsed() / rounds;
    let t2 = Instant::now();
    for _ in 0..rounds {
        files.list(g.pid());
    }
    let per_files = t2.elapsed() / rounds;
    let procs = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    eprintln!(
        "sample() on 4 node processes: {per:?} with pss, {per_lean:?} without ({:?} discovery); listing the tree: children \
         files {per_files:?}, /proc stat scan {per_scan:?} ({procs} processes on this host)",
        sampler.discovery()
    );
    assert!(per < Duration::from_millis(50), "{per:?} per sample");
    assert!(
        per_lean < Duration::from_millis(10),
        "{per_lean:?} per sample without pss"
    );
}

#[test]
fn both_discovery_methods_find_the_same_tree() {
    let g = NodeGroup::start(&tree_script(2));
    let mut a = TreeWalker::new(Discovery::StatScan).list(g.pid());
    let mut b = TreeWalker::new(Discovery::ChildrenFiles).list(g.pid());
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
}
