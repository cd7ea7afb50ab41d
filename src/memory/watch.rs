//! Noticing restarts, OOM kills and memory cliffs from one sample to the next, so the run can
//! record them as events and keep going.
//!
//! - restart: the process that held the most memory in the target's tree is gone while the
//!   tree lives on (a supervisor or cluster master restarted it), or a Prometheus page's
//!   `process_start_time_seconds` changed (a remote target restarted);
//! - oom_kill: a cgroup's `memory.events` `oom_kill` counter moved;
//! - memory_cliff: the judged metric fell by more than half (and by at least 16 MiB) while
//!   requests failed, and no restart or OOM explains it.

use std::collections::BTreeMap;

use super::source::Identity;
use crate::units::format_size;

/// A cliff must drop at least this much, so small heaps breathing do not count.
const CLIFF_MIN_BYTES: u64 = 16 * 1024 * 1024;

/// Something worth an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `restart`, `oom_kill` or `memory_cliff`.
    pub kind: &'static str,
    pub detail: String,
}

/// What the previous samples showed, per source.
#[derive(Debug, Default)]
pub struct Watch {
    main: BTreeMap<String, (u32, u64)>,
    oom_kills: BTreeMap<String, u64>,
    start_time: BTreeMap<String, f64>,
}

impl Watch {
    /// Compares `source`'s identity with its previous one and remembers it.
    pub fn observe(&mut self, source: &str, id: &Identity) -> Vec<Finding> {
        let mut out = Vec::new();
        if let Some((pid, rss)) = self.main.get(source).copied() {
            if !id.pids.is_empty() && !id.pids.contains(&pid) {
                out.push(Finding {
                    kind: "restart",
                    detail: format!(
                        "process {pid}, the largest in the target's tree ({}), is gone while the \
                         tree lives on ({} process{} now): the service was restarted",
                        format_size(rss as f64),
                        id.pids.len(),
                        if id.pids.len() == 1 { "" } else { "es" }
                    ),
                });
            }
        }
        match id.main {
            Some(m) => {
                self.main.insert(source.to_string(), m);
            }
            None => {
                self.main.remove(source);
            }
        }
        if let Some(now) = id.oom_kills {
            if let Some(before) = self.oom_kills.insert(source.to_string(), now) {
                if now > before {
                    let n = now - before;
                    out.push(Finding {
                        kind: "oom_kill",
                        detail: format!(
                            "the kernel OOM-killed {n} process{} in the {source} cgroup \
                             (memory.events oom_kill {before} -> {now})",
                            if n == 1 { "" } else { "es" }
                        ),
                    });
                }
            }
        }
        if let Some(now) = id.start_time {
            if let Some(before) = self.start_time.insert(source.to_string(), now) {
                if (now - before).abs() >= 1.0 {
                    out.push(Finding {
                        kind: "restart",
                        detail: format!(
                            "{source}: process_start_time_seconds moved from {before:.0} to \
                             {now:.0}: the target restarted"
                        ),
                    });
                }
            }
        }
        out
    }
}

/// A memory cliff: `now` is less than half of `before` (and at least 16 MiB less) while
/// `failed` requests (errors and timeouts) ended in the interval.
pub fn cliff(metric: &str, before: u64, now: u64, failed: u64) -> Option<Finding> {
    let drop = before.saturating_sub(now);
    (failed > 0 && now < before / 2 && drop >= CLIFF_MIN_BYTES).then(|| Finding {
        kind: "memory_cliff",
        detail: format!(
            "{metric} fell from {} to {} while {failed} request{} failed: the target likely \
             crashed or was killed and came back",
            format_size(before as f64),
            format_size(now as f64),
            if failed == 1 { "" } else { "s" }
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(main: (u32, u64), pids: &[u32]) -> Identity {
        Identity {
            main: Some(main),
            pids: pids.to_vec(),
            processes: Some(pids.len() as u32),
            ..Identity::default()
        }
    }

    #[test]
    fn the_largest_process_vanishing_is_a_restart() {
        let mut w = Watch::default();
        assert!(w
            .observe("process", &tree((11, 50 << 20), &[10, 11]))
            .is_empty());
        // The biggest process changing while the old one lives is no restart.
        assert!(w
            .observe("process", &tree((12, 60 << 20), &[10, 11, 12]))
            .is_empty());
        let f = w.observe("process", &tree((10, 5 << 20), &[10]));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, "restart");
        assert!(f[0].detail.contains("process 12"), "{}", f[0].detail);
        // The supervisor alone, then the new child: no second event.
        assert!(w
            .observe("process", &tree((13, 40 << 20), &[10, 13]))
            .is_empty());
    }

    #[test]
    fn oom_counter_and_start_time_moves_are_reported_once() {
        let mut w = Watch::default();
        let oom = |n| Identity {
            oom_kills: Some(n),
            ..Identity::default()
        };
        assert!(w.observe("cgroup", &oom(0)).is_empty());
        let f = w.observe("cgroup", &oom(2));
        assert_eq!(f[0].kind, "oom_kill");
        assert!(f[0].detail.contains("oom_kill 0 -> 2"), "{}", f[0].detail);
        assert!(w.observe("cgroup", &oom(2)).is_empty());
        let start = |t| Identity {
            start_time: Some(t),
            ..Identity::default()
        };
        assert!(w.observe("prometheus", &start(100.0)).is_empty());
        assert!(w.observe("prometheus", &start(100.2)).is_empty());
        assert_eq!(w.observe("prometheus", &start(160.0))[0].kind, "restart");
    }

    #[test]
    fn a_cliff_needs_a_big_drop_and_failures() {
        let mib = 1 << 20;
        assert!(cliff("rss", 100 * mib, 30 * mib, 5).is_some());
        assert!(
            cliff("rss", 100 * mib, 30 * mib, 0).is_none(),
            "no failures"
        );
        assert!(
            cliff("rss", 100 * mib, 60 * mib, 5).is_none(),
            "less than half"
        );
        assert!(cliff("rss", 10 * mib, mib, 5).is_none(), "under 16 MiB");
    }
}
