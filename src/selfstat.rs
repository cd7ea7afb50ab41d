//! leakhound's own cost: the CPU seconds and resident memory of the current process.
//!
//! A load generator shares its machine with the target, so a report should say what the
//! generator itself used. CPU comes from `getrusage(RUSAGE_SELF)` (microsecond resolution,
//! all threads); RSS from `/proc/self/status` (`VmRSS`, and `VmHWM` for the peak).

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SelfStatError {
    #[error("getrusage failed: {0}")]
    Rusage(#[source] std::io::Error),
    #[error("could not read /proc/self/status: {0}")]
    Status(#[source] std::io::Error),
    #[error("/proc/self/status has no {0} line")]
    Missing(&'static str),
}

/// One reading of this process's own usage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfStat {
    /// User plus system CPU time since the process started.
    pub cpu: Duration,
    /// Resident set size now, in bytes.
    pub rss_bytes: u64,
    /// The highest resident set size so far, in bytes.
    pub peak_rss_bytes: u64,
}

impl SelfStat {
    /// CPU per request between two readings, in microseconds (None without requests).
    pub fn cpu_us_per_request(&self, earlier: &SelfStat, requests: u64) -> Option<f64> {
        (requests > 0)
            .then(|| self.cpu.saturating_sub(earlier.cpu).as_secs_f64() * 1e6 / requests as f64)
    }
}

/// Reads the current process's CPU time and RSS.
pub fn read() -> Result<SelfStat, SelfStatError> {
    let cpu = cpu_time()?;
    let status = std::fs::read_to_string("/proc/self/status").map_err(SelfStatError::Status)?;
    let rss_bytes = status_kib(&status, "VmRSS").ok_or(SelfStatError::Missing("VmRSS"))? * 1024;
    // VmHWM is absent on some kernels' threads; fall back to the current value.
    let peak_rss_bytes = status_kib(&status, "VmHWM").map_or(rss_bytes, |k| k * 1024);
    Ok(SelfStat {
        cpu,
        rss_bytes,
        peak_rss_bytes,
    })
}

fn cpu_time() -> Result<Duration, SelfStatError> {
    // SAFETY: an all-zero rusage is a valid value, and getrusage only writes into it.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage we own.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return Err(SelfStatError::Rusage(std::io::Error::last_os_error()));
    }
    let tv = |t: libc::timeval| {
        Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_usec).unwrap_or(0).min(999_999) * 1000,
        )
    };
    Ok(tv(u.ru_utime) + tv(u.ru_stime))
}

/// The value of a `Name:   123 kB` line of /proc/PID/status, in KiB.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tleakhound\nVmPeak:\t  300000 kB\nVmHWM:\t   20480 kB\n\
                          VmRSS:\t   10240 kB\nVmRSSX:\t 1 kB\nThreads:\t3\n";

    #[test]
    fn parses_status_lines_by_exact_name() {
        assert_eq!(status_kib(STATUS, "VmRSS"), Some(10240));
        assert_eq!(status_kib(STATUS, "VmHWM"), Some(20480));
        assert_eq!(status_kib(STATUS, "VmSwap"), None);
        assert_eq!(status_kib("VmRSS:\tlots kB\n", "VmRSS"), None);
    }

    #[test]
    fn reads_this_process_and_cpu_grows_with_work() {
        let a = read().unwrap();
        assert!(a.rss_bytes > 1 << 20, "rss {}", a.rss_bytes);
        assert!(a.peak_rss_bytes >= a.rss_bytes);
        // Burn CPU until 5 ms more are counted, for at most 2 s of wall time.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        let mut b = read().unwrap();
        while b.cpu < a.cpu + Duration::from_millis(5) && start.elapsed() < Duration::from_secs(2) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            b = read().unwrap();
        }
        assert!(
            b.cpu >= a.cpu + Duration::from_millis(5),
            "{:?} -> {:?}",
            a.cpu,
            b.cpu
        );
        let per = b.cpu_us_per_request(&a, 1000).unwrap();
        assert!(per >= 5.0, "{per} us per request for >= 5 ms over 1000");
        assert_eq!(b.cpu_us_per_request(&a, 0), None);
    }
}
