//! Built-in load profiles and per-phase request mixes.
//!
//! `load: {profile: leak-hunt, rate: 400, duration: 5m}` expands into a warm-up and blocks of
//! busy (the full rate), idle (rate 0) and low (a third of the rate) phases. Memory that grows
//! with requests and memory that grows with time then leave different marks (the idle phases
//! add time without requests, the rate changes add requests at different speeds), so analysis
//! can tell the two apart. With several requests the phases of each block favour different ones
//! (4x their weight), so growth can be attributed to endpoints.

use std::time::Duration;

use super::{KeyPath, Result, ScenarioError};
use crate::scenario::plan::{PhasePlan, RequestPlan};
use crate::scenario::schema::{self, Ordered, Text, Whole};
use crate::scenario::source::Source;

/// The profiles there are.
pub const PROFILES: &[&str] = &["leak-hunt"];
/// Shortest leak-hunt run: a warm-up and three blocks of at least a few seconds.
const MIN_DURATION: Duration = Duration::from_secs(12);
/// A block's phases: name, share of the block, share of the rate, and which request it
/// favours (offset from the block's number). Within one block the favoured request changes
/// three times, so even a judged stretch as short as one block has the mix varying in three
/// directions: enough to attribute growth among up to three requests (seen: judging only the
/// last block of a one-favourite-per-block design left a one-of-three leak unattributed).
const BLOCK: [(&str, f64, f64, usize); 4] = [
    ("busy", 0.225, 1.0, 0),
    ("busy", 0.225, 1.0, 1),
    ("idle", 0.25, 0.0, 0),
    ("low", 0.30, 1.0 / 3.0, 2),
];
/// How much more a block's favoured request is sent.
const FAVOUR: u32 = 4;

fn err(src: &Source, at: &KeyPath, msg: impl Into<String>) -> ScenarioError {
    src.value_error(at, msg)
}

/// The phases of `profile` for this load section.
pub(super) fn expand(
    profile: &Text,
    l: &schema::Load,
    reqs: &[RequestPlan],
    src: &Source,
    at: &KeyPath,
) -> Result<Vec<PhasePlan>> {
    if !PROFILES.contains(&profile.0.as_str()) {
        return Err(err(
            src,
            &at.key("profile"),
            format!(
                "unknown profile `{}`; use one of: {}",
                profile.0,
                PROFILES.join(", ")
            ),
        ));
    }
    let rate = match &l.rate {
        Some(r) if r.value > 0.0 => r.value,
        Some(r) => {
            return Err(err(
                src,
                &at.key("rate"),
                format!("`{}` must be above 0", r.text),
            ))
        }
        None => {
            return Err(err(
                src,
                at,
                "`profile: leak-hunt` needs `rate` (the peak requests per second)",
            ))
        }
    };
    let duration = match &l.duration {
        Some(d) if d.value >= MIN_DURATION => d.value,
        Some(d) => {
            return Err(err(
                src,
                &at.key("duration"),
                format!(
                    "`{}` is too short for leak-hunt; use at least 12s (3m or more tells more)",
                    d.text
                ),
            ))
        }
        None => {
            return Err(err(
                src,
                at,
                "`profile: leak-hunt` needs `duration` (e.g. 5m)",
            ))
        }
    };
    Ok(leak_hunt(rate, duration, reqs))
}

/// The leak-hunt phases for a peak `rate` over `duration`.
pub fn leak_hunt(rate: f64, duration: Duration, reqs: &[RequestPlan]) -> Vec<PhasePlan> {
    let total_ms = duration.as_millis() as u64;
    let warm_ms = (total_ms * 15 / 100).clamp(1000, 60_000);
    let body_ms = total_ms - warm_ms;
    // One block per request (so each is favoured once), at least 3, each at least 3 s.
    let blocks = reqs.len().max(3).min((body_ms / 3000).max(1) as usize);
    let block_ms = body_ms / blocks as u64;
    let phase = |name: String, ms: u64, rate: f64, mix: Option<Vec<u32>>| PhasePlan {
        name,
        duration: Duration::from_millis(ms),
        rate,
        ramp_to: None,
        concurrency: 0,
        mix,
    };
    let mut out = vec![phase("warmup".into(), warm_ms, rate / 2.0, None)];
    let mix = |favoured: usize| {
        (reqs.len() >= 2).then(|| {
            let favoured = favoured % reqs.len();
            reqs.iter()
                .enumerate()
                .map(|(j, r)| {
                    if j == favoured {
                        r.weight.saturating_mul(FAVOUR)
                    } else {
                        r.weight
                    }
                })
                .collect()
        })
    };
    for b in 0..blocks {
        for (i, (name, share, factor, offset)) in BLOCK.iter().enumerate() {
            let ms = (block_ms as f64 * share).round() as u64;
            // Two busy halves: name them apart (busy-1a, busy-1b).
            let name = match (name, i) {
                (&"busy", 0) => format!("busy-{}a", b + 1),
                (&"busy", _) => format!("busy-{}b", b + 1),
                _ => format!("{name}-{}", b + 1),
            };
            out.push(phase(name, ms.max(100), rate * factor, mix(b + offset)));
        }
    }
    // Rounding: the last phase takes up the difference so the total is exact.
    let sum: u64 = out.iter().map(|p| p.duration.as_millis() as u64).sum();
    if let Some(last) = out.last_mut() {
        let ms = (last.duration.as_millis() as u64 + total_ms)
            .saturating_sub(sum)
            .max(100);
        last.duration = Duration::from_millis(ms);
    }
    out
}

/// A phase's `mix: {request name: weight}` as weights in the order of the requests; requests
/// it does not name are not sent in that phase.
pub(super) fn mix(
    m: &Ordered<Whole>,
    reqs: &[RequestPlan],
    src: &Source,
    at: &KeyPath,
) -> Result<Vec<u32>> {
    let mut weights = vec![0u32; reqs.len()];
    for (name, Whole(w)) in &m.0 {
        let here = at.key(name);
        let Some(i) = reqs.iter().position(|r| &r.name == name) else {
            let names: Vec<&str> = reqs.iter().map(|r| r.name.as_str()).collect();
            return Err(src.key_error(
                &here,
                format!(
                    "no request is named `{name}`; the requests are: {}",
                    names.join(", ")
                ),
            ));
        };
        weights[i] = u32::try_from(*w)
            .ok()
            .filter(|w| (1..=1_000_000).contains(w))
            .ok_or_else(|| {
                err(
                    src,
                    &here,
                    format!("`{w}` is out of range; use a weight from 1 to 1000000"),
                )
            })?;
    }
    if weights.iter().all(|&w| w == 0) {
        return Err(err(
            src,
            at,
            "name at least one request, e.g. `mix: {process: 3, users: 1}`",
        ));
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::{parse, Overrides};

    const HUNT: &str = "name: hunt\ntarget: {base_url: \"http://127.0.0.1:9\", pid: 1}\n\
        load: {profile: leak-hunt, rate: 400, duration: 5m}\n\
        requests:\n  - {name: process, path: /p, weight: 3}\n  - {name: users, path: /u}\n";

    fn plan(text: &str) -> Result<crate::scenario::Plan, String> {
        parse(text, "hunt.yaml", Path::new("."), &Overrides::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn leak_hunt_expands_into_warm_up_busy_idle_and_low_phases() {
        let p = plan(HUNT).unwrap();
        let phases = &p.load.phases;
        assert_eq!(p.total_duration().as_secs(), 300);
        assert_eq!(phases[0].name, "warmup");
        assert_eq!((phases[0].duration.as_secs(), phases[0].rate), (45, 200.0));
        assert_eq!(
            phases.len(),
            1 + 3 * 4,
            "three blocks of busy (two halves), idle, low"
        );
        assert!(phases.iter().filter(|p| p.rate == 0.0).count() == 3);
        assert!(phases.iter().any(|p| (p.rate - 400.0 / 3.0).abs() < 1e-9));
        // Each request is favoured in some block: weights 12:1 then 3:4.
        let mixes: Vec<_> = phases.iter().filter_map(|p| p.mix.clone()).collect();
        assert!(
            mixes.contains(&vec![12, 1]) && mixes.contains(&vec![3, 4]),
            "{mixes:?}"
        );
        assert_eq!(phases[0].mix, None);
    }

    #[test]
    fn leak_hunt_needs_rate_duration_and_the_open_model() {
        let e = plan(&HUNT.replace(", rate: 400", "")).unwrap_err();
        assert!(e.contains("needs `rate`"), "{e}");
        let e = plan(&HUNT.replace("duration: 5m", "duration: 5s")).unwrap_err();
        assert!(e.contains("too short for leak-hunt"), "{e}");
        let e = plan(&HUNT.replace("leak-hunt", "leak-hunter")).unwrap_err();
        assert!(
            e.contains("unknown profile `leak-hunter`; use one of: leak-hunt"),
            "{e}"
        );
        let e = plan(&HUNT.replace("duration: 5m}", "duration: 5m, phases: []}")).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = plan(&HUNT.replace("profile: leak-hunt, ", "")).unwrap_err();
        assert!(e.contains("only used with `profile: leak-hunt`"), "{e}");
    }

    #[test]
    fn a_phase_mix_names_requests() {
        let text = HUNT.replace(
            "load: {profile: leak-hunt, rate: 400, duration: 5m}",
            "load:\n  phases:\n    - {duration: 5s, rate: 10, mix: {users: 2}}\n    - {duration: 5s, rate: 10}\n",
        );
        let p = plan(&text).unwrap();
        assert_eq!(p.load.phases[0].mix, Some(vec![0, 2]));
        assert_eq!(p.load.phases[1].mix, None);
        let e = plan(&text.replace("users: 2", "user: 2")).unwrap_err();
        assert!(
            e.contains("no request is named `user`; the requests are: process, users"),
            "{e}"
        );
        let e = plan(&text.replace("users: 2", "users: 0")).unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
