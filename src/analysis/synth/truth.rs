//! What the target really retains: nothing, a fixed amount per request, a cache that fills and
//! stops, or a timer that hoards whatever the traffic. The runtime models add it to their live
//! data; everything else they do (sawtooth, heap steps, noise) is not retention.

use rand::rngs::SmallRng;
use rand::Rng;

use super::design::{Design, Load};
use super::{log_uniform, Kind};
use crate::analysis::Verdict;

/// Retention of a cache's filling that counts it full (for the soft fill).
const FULL: f64 = 0.99;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TruthKind {
    None,
    Leak,
    Bounded,
    TimeGrowth,
}

impl TruthKind {
    pub(crate) const ALL: [TruthKind; 4] = [
        TruthKind::Leak,
        TruthKind::TimeGrowth,
        TruthKind::Bounded,
        TruthKind::None,
    ];

    /// The verdict that names this truth.
    pub(crate) fn verdict(self) -> Verdict {
        match self {
            TruthKind::None => Verdict::None,
            TruthKind::Leak => Verdict::Leak,
            TruthKind::Bounded => Verdict::Bounded,
            TruthKind::TimeGrowth => Verdict::TimeGrowth,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Truth {
    /// Stateless: nothing is kept.
    None,
    /// Every request (to `endpoint` only, when set) keeps this many bytes for ever.
    Leak {
        bytes_per_request: f64,
        endpoint: Option<usize>,
    },
    /// A cache of `entries` × `entry_bytes`. Hard: every request adds an entry (unique keys)
    /// until it is full, then an LRU evicts one per insert. Soft: keys drawn at random from
    /// `entries`, so it fills as 1 - e^(-requests/entries).
    Bounded {
        entries: f64,
        entry_bytes: f64,
        soft: bool,
    },
    /// A timer keeps this many bytes a second, traffic or not.
    TimeGrowth { bytes_per_s: f64 },
}

/// Where the current process started: retention counts from here (a restart empties it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Since {
    pub(crate) t_s: f64,
    pub(crate) total: u64,
    pub(crate) endpoints: Vec<u64>,
}

impl Since {
    pub(crate) fn at(t_s: f64, total: u64, endpoints: &[u64]) -> Since {
        Since {
            t_s,
            total,
            endpoints: endpoints.to_vec(),
        }
    }
}

impl Truth {
    pub(crate) fn draw(
        rng: &mut SmallRng,
        fixed: Option<TruthKind>,
        kind: Kind,
        design: &Design,
    ) -> Truth {
        let which = match (fixed, kind) {
            (_, Kind::ShortPlateau | Kind::FillPooled) => TruthKind::Bounded,
            (_, Kind::ShortTimer) => TruthKind::TimeGrowth,
            (Some(k), _) => k,
            _ => match rng.random_range(0..20) {
                0..=5 => TruthKind::None,
                6..=11 => TruthKind::Leak,
                12..=16 => TruthKind::Bounded,
                _ => TruthKind::TimeGrowth,
            },
        };
        match which {
            TruthKind::None => Truth::None,
            TruthKind::Leak => Truth::Leak {
                bytes_per_request: log_uniform(rng, 32.0, 8192.0),
                endpoint: (design.endpoints.len() > 1 && rng.random_bool(0.6))
                    .then(|| rng.random_range(0..design.endpoints.len())),
            },
            TruthKind::Bounded => bounded(rng, kind, design),
            TruthKind::TimeGrowth => Truth::TimeGrowth {
                bytes_per_s: match kind {
                    Kind::ShortTimer => 100_000.0 * rng.random_range(0.9..1.1),
                    _ => log_uniform(rng, 10_000.0, 200_000.0),
                },
            },
        }
    }

    pub(crate) fn kind(&self) -> TruthKind {
        match self {
            Truth::None => TruthKind::None,
            Truth::Leak { .. } => TruthKind::Leak,
            Truth::Bounded { .. } => TruthKind::Bounded,
            Truth::TimeGrowth { .. } => TruthKind::TimeGrowth,
        }
    }

    /// Bytes retained `secs` after the process started, having served `requests` in all and
    /// `per_endpoint` to each endpoint since.
    pub(crate) fn retained(&self, requests: f64, per_endpoint: &[f64], secs: f64) -> f64 {
        match *self {
            Truth::None => 0.0,
            Truth::Leak {
                bytes_per_request: b,
                endpoint,
            } => b * endpoint.map_or(requests, |i| per_endpoint[i]),
            Truth::Bounded {
                entries,
                entry_bytes,
                soft: false,
            } => entries.min(requests) * entry_bytes,
            Truth::Bounded {
                entries,
                entry_bytes,
                soft: true,
            } => entries * (1.0 - (-requests / entries).exp()) * entry_bytes,
            Truth::TimeGrowth { bytes_per_s } => bytes_per_s * secs,
        }
    }

    /// [`Truth::retained`] at fraction `f` (0..=1) of a tick, requests spread evenly in it.
    pub(crate) fn retained_at(&self, since: &Since, load: &Load, f: f64) -> f64 {
        let lerp = |a: u64, b: u64, s: u64| a as f64 + f * (b as f64 - a as f64) - s as f64;
        let total = lerp(load.total_prev, load.total, since.total);
        let eps: Vec<f64> = (0..load.endpoints.len())
            .map(|i| {
                let s = since.endpoints.get(i).copied().unwrap_or(0);
                lerp(load.endpoints_prev[i], load.endpoints[i], s)
            })
            .collect();
        let secs = load.t_prev_s + f * (load.t_s - load.t_prev_s) - since.t_s;
        self.retained(total, &eps, secs)
    }

    /// Requests after which a cache counts as full (all its entries, or [`FULL`] of them
    /// when it fills softly).
    pub(crate) fn fill_requests(&self) -> Option<f64> {
        match *self {
            Truth::Bounded {
                entries,
                soft: false,
                ..
            } => Some(entries),
            Truth::Bounded {
                entries,
                soft: true,
                ..
            } => Some(-entries * (1.0 - FULL).ln()),
            _ => None,
        }
    }
}

/// A cache whose fill ends within the warm-up, mid-run or late, by `kind`.
fn bounded(rng: &mut SmallRng, kind: Kind, design: &Design) -> Truth {
    let total = design.expected_requests();
    let warm = design.warmup_requests();
    let after = (total - warm).max(1.0);
    let fill = match kind {
        // The CI cases: a plateau of ~1,750 of 6,000 requests, and a fill pooled with a
        // plateau about as long as itself.
        Kind::ShortPlateau => warm + after * rng.random_range(0.68..0.78),
        Kind::FillPooled => warm + after * rng.random_range(0.4..0.65),
        _ => match rng.random_range(0..4) {
            0 => warm * rng.random_range(0.2..0.9),
            1 | 2 => warm + after * rng.random_range(0.05..0.55),
            _ => warm + after * rng.random_range(0.55..0.85),
        },
    }
    .max(10.0);
    let entry_bytes = match kind {
        Kind::Plain | Kind::Cluster3 => log_uniform(rng, 64.0, 16384.0),
        _ => log_uniform(rng, 512.0, 8192.0),
    };
    let soft = kind == Kind::Plain && rng.random_bool(0.25);
    let entries = if soft {
        fill / -(1.0 - FULL).ln()
    } else {
        fill
    };
    Truth::Bounded {
        entries: entries.round().max(1.0),
        entry_bytes,
        soft,
    }
}
