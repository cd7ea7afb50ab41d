//! Schema -> [`Plan`]: fills defaults and checks every value and cross-field rule.
//!
//! Each check names the key path it is about, and `Source` turns that into a file:line:col
//! (or the `--set` flag that wrote it), so every message here only has to say what is wrong and
//! how to fix it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::error::{KeyPath, ScenarioError};
use super::plan::*;
use super::schema::{self, Scenario, Text};
use super::source::Source;
use crate::units::format_duration;

/// Metrics the process source reports (other sources add theirs; see `memory::metrics_of`).
pub use crate::memory::METRICS;
pub use memory::SOURCES;

// Sanity caps: beyond these a scenario is a typo, and the engine would only thrash.
pub(crate) const MAX_RATE: f64 = 1_000_000.0;
const MAX_CONCURRENCY: u64 = 10_000;
const MAX_IN_FLIGHT: u64 = 1_000_000;

mod gc_log;
pub use gc_log::auto_force_every;
mod inspector;
mod memory;
mod profile;
mod requests;
mod target;

type Result<T> = std::result::Result<T, ScenarioError>;

pub(crate) fn resolve(s: Scenario, src: &Source, base_dir: &Path) -> Result<Plan> {
    let root = KeyPath::root();
    let name = scenario_name(&s.name.0, src, &root.key("name"))?;
    let target = target::target(&s.target, src, &root.key("target"), base_dir)?;
    let requests = requests::requests(&s.requests, src, &root.key("requests"))?;
    let load = load(&s.load, &requests, src, &root.key("load"))?;
    let force_every = gc_log::auto_force_every(&load);
    let memory = memory::memory(
        s.memory.as_ref(),
        src,
        &root.key("memory"),
        &target.process,
        (base_dir, force_every),
    )?;
    memory::check_target(&memory, &target.process, src, &root.key("memory"))?;
    gc_log::check_target(&memory, &target.process, src, &root.key("memory"))?;
    for (name, needs) in [
        ("process", memory.sources.contains(&SourcePlan::Process)),
        (
            "cgroup",
            memory.sources.contains(&SourcePlan::Cgroup { path: None }),
        ),
    ] {
        if needs && target.process == TargetProcess::None {
            let extra = if name == "cgroup" {
                ", or give the cgroup itself: `- cgroup: {path: /sys/fs/cgroup/...}`"
            } else {
                ""
            };
            return Err(src.key_error(
                &root.key("target"),
                format!(
                    "memory source `{name}` needs a process to watch: add `target.command: \
                     [node, server.js]` so leakhound starts it, or `target.pid: 4242` / \
                     `target.pid_file: app.pid` to attach to a running one{extra}"
                ),
            ));
        }
    }
    let thresholds = thresholds(s.thresholds, src, &root.key("thresholds"))?;
    Ok(Plan {
        name,
        source: None,
        target,
        memory,
        load,
        requests,
        thresholds,
    })
}

fn scenario_name(name: &str, src: &Source, at: &KeyPath) -> Result<String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 100 || !name.chars().all(ok_char) {
        return Err(src.value_error(
            at,
            format!(
                "`{name}` cannot be used: the name goes into folder names, so use 1 to 100 of \
                 letters, digits, `.`, `_`, `-` (e.g. checkout-soak)"
            ),
        ));
    }
    Ok(name.to_string())
}

fn load(l: &schema::Load, reqs: &[RequestPlan], src: &Source, at: &KeyPath) -> Result<LoadPlan> {
    let model = match l.model.as_ref().map(|t| t.0.as_str()) {
        None | Some("open") => Model::Open,
        Some("closed") => Model::Closed,
        Some(other) => {
            return Err(src.value_error(
                &at.key("model"),
                format!("unknown load model `{other}`; use `open` (a request rate) or `closed` (fixed concurrency)"),
            ))
        }
    };
    let timeout = match &l.timeout {
        None => Duration::from_secs(10),
        Some(d) if d.value.is_zero() || d.value > Duration::from_secs(600) => {
            return Err(src.value_error(
                &at.key("timeout"),
                format!(
                    "`{}` is out of range; use more than 0s and at most 10m (e.g. 10s)",
                    d.text
                ),
            ))
        }
        Some(d) => d.value,
    };
    let max_in_flight = match l.max_in_flight {
        None => 2000,
        Some(n) if n.0 >= 1 && n.0 <= MAX_IN_FLIGHT => n.0 as usize,
        Some(n) => {
            return Err(src.value_error(
                &at.key("max_in_flight"),
                format!("`{}` is out of range; use 1 to {MAX_IN_FLIGHT}", n.0),
            ))
        }
    };
    if model == Model::Open && l.concurrency.is_some() {
        return Err(src.key_error(
            &at.key("concurrency"),
            "only used with `model: closed`; the open model sends at each phase's `rate`",
        ));
    }
    let phases_at = at.key("phases");
    if let Some(profile) = &l.profile {
        if model != Model::Open {
            return Err(src.value_error(
                &at.key("profile"),
                "a load profile sets request rates, so it needs `model: open`",
            ));
        }
        if l.phases.is_some() {
            return Err(src.key_error(
                &phases_at,
                "give either `profile` (which writes the phases) or `phases`, not both",
            ));
        }
        let phases = profile::expand(profile, l, reqs, src, at)?;
        return Ok(LoadPlan {
            model,
            timeout,
            max_in_flight,
            phases,
        });
    }
    for key in ["rate", "duration"] {
        let set = if key == "rate" {
            l.rate.is_some()
        } else {
            l.duration.is_some()
        };
        if set {
            return Err(src.key_error(
                &at.key(key),
                "only used with `profile: leak-hunt`; otherwise give each phase its own",
            ));
        }
    }
    let Some(list) = &l.phases else {
        return Err(src.value_error(
            at,
            "missing required key `phases` (or a built-in profile: \
             `profile: leak-hunt, rate: 400, duration: 5m`)",
        ));
    };
    if list.is_empty() {
        return Err(src.value_error(
            &phases_at,
            "needs at least one phase, e.g. `- {name: soak, duration: 5m, rate: 100}`",
        ));
    }
    let mut phases: Vec<PhasePlan> = Vec::with_capacity(list.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, p) in list.iter().enumerate() {
        let here = phases_at.index(i);
        let mut resolved = phase(p, i, model, l.concurrency, src, &here)?;
        if let Some(mix) = &p.mix {
            resolved.mix = Some(profile::mix(mix, reqs, src, &here.key("mix"))?);
        }
        phases.push(resolved);
        let name = &phases[i].name;
        if let Some(j) = seen.insert(name.clone(), i) {
            let (path, how) = match p.name {
                Some(_) => (here.key("name"), "phase names must be unique"),
                None => (
                    here,
                    "unnamed phases are called phaseN; give this one a `name`",
                ),
            };
            return Err(src.value_error(
                &path,
                format!("phase name `{name}` is already used by load.phases[{j}]; {how}"),
            ));
        }
    }
    let idle = |p: &PhasePlan| p.rate <= 0.0 && p.ramp_to.is_none_or(|r| r <= 0.0);
    if model == Model::Open && phases.iter().all(idle) {
        // Nothing would be sent, so nothing could be judged.
        return Err(src.value_error(
            &phases_at,
            "every phase is idle (rate 0), so the run would send no request; give at least one \
             phase a rate, e.g. `- {name: soak, duration: 5m, rate: 100}`",
        ));
    }
    Ok(LoadPlan {
        model,
        timeout,
        max_in_flight,
        phases,
    })
}

fn phase(
    p: &schema::Phase,
    i: usize,
    model: Model,
    default_concurrency: Option<schema::Whole>,
    src: &Source,
    here: &KeyPath,
) -> Result<PhasePlan> {
    let name = match &p.name {
        None => format!("phase{}", i + 1),
        Some(Text(n)) if n.trim().is_empty() => {
            return Err(src.value_error(&here.key("name"), "is empty; name the phase, e.g. soak"))
        }
        Some(Text(n)) => n.clone(),
    };
    if p.duration.value.is_zero() {
        return Err(src.value_error(&here.key("duration"), "must be longer than 0s, e.g. 5m"));
    }
    let (rate, ramp_to, concurrency) = match model {
        Model::Open => {
            if p.concurrency.is_some() {
                return Err(src.key_error(
                    &here.key("concurrency"),
                    "only used with `load.model: closed`; in the open model give `rate` (requests per second)",
                ));
            }
            let Some(rate) = &p.rate else {
                return Err(src.value_error(
                    here,
                    "missing required key `rate` (requests per second; 0 = an idle phase)",
                ));
            };
            for (key, r) in [("rate", Some(rate)), ("ramp_to", p.ramp_to.as_ref())] {
                if let Some(r) = r.filter(|r| r.value > MAX_RATE) {
                    return Err(src.value_error(
                        &here.key(key),
                        format!(
                            "`{}` is above the limit of {MAX_RATE} requests per second",
                            r.text
                        ),
                    ));
                }
            }
            (rate.value, p.ramp_to.as_ref().map(|r| r.value), 0)
        }
        Model::Closed => {
            for (key, set) in [("rate", p.rate.is_some()), ("ramp_to", p.ramp_to.is_some())] {
                if set {
                    return Err(src.key_error(
                        &here.key(key),
                        "only used with `load.model: open`; in the closed model give `concurrency`",
                    ));
                }
            }
            let c = p.concurrency.or(default_concurrency).ok_or_else(|| {
                src.value_error(
                    here,
                    "missing required key `concurrency` (the closed model runs that many request \
                     loops; 0 = an idle phase); set it here or once in `load.concurrency`",
                )
            })?;
            if c.0 > MAX_CONCURRENCY {
                let path = match p.concurrency {
                    Some(_) => here.key("concurrency"),
                    None => KeyPath::root().key("load").key("concurrency"),
                };
                return Err(src.value_error(
                    &path,
                    format!("`{}` is above the limit of {MAX_CONCURRENCY}", c.0),
                ));
            }
            (0.0, None, c.0 as usize)
        }
    };
    Ok(PhasePlan {
        name,
        duration: p.duration.value,
        rate,
        ramp_to,
        concurrency,
        mix: None,
    })
}

fn thresholds(t: Option<schema::Thresholds>, src: &Source, at: &KeyPath) -> Result<Thresholds> {
    let Some(t) = t else {
        return Ok(Thresholds::default());
    };
    if let Some(p) = t.p99.as_ref().filter(|p| p.value.is_zero()) {
        return Err(src.value_error(
            &at.key("p99"),
            format!(
                "`{}` can never pass; use a latency such as {}",
                p.text,
                format_duration(Duration::from_millis(500))
            ),
        ));
    }
    Ok(Thresholds {
        leak_per_request: t.leak_per_request.map(|s| Limit {
            value: s.value as f64,
            text: s.text,
        }),
        growth: t.growth.map(|s| Limit {
            value: s.value,
            text: s.text,
        }),
        p99: t.p99.map(|d| Limit {
            value: d.value,
            text: d.text,
        }),
        error_rate: t.error_rate.map(|p| Limit {
            value: p.value,
            text: p.text,
        }),
    })
}
