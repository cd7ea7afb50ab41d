//! CLI overrides of `leakhound run`: `--set key=value`, `--duration D`, `--rate R`.
//!
//! `--set` edits the YAML tree before validation, so a value given on the command line is
//! checked exactly like one in the file (and its errors name the flag). `--duration` and
//! `--rate` rescale the resolved plan.

use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::error::{KeyPath, ScenarioError};
use super::plan::{Model, Plan};
use super::source::parse_tree;
use crate::units;

/// CLI overrides, applied in this order: `set` (in order given), then `duration`, then `rate`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--duration`: total run time; every phase is scaled proportionally.
    pub duration: Option<Duration>,
    /// `--rate`: the peak arrival rate; every phase's rate is scaled proportionally.
    pub rate: Option<f64>,
    /// `--set key=value` flags as typed, e.g. `load.phases.1.rate=500`.
    pub set: Vec<String>,
}

/// Shortest phase `--duration` may produce: one 100ms tick.
const MIN_PHASE: Duration = Duration::from_millis(100);

/// One parsed `--set` flag.
#[derive(Debug, Clone)]
pub(crate) struct SetFlag {
    /// The flag as typed, shown in errors.
    pub raw: String,
    /// Where it writes, with list indices resolved against the tree.
    pub path: KeyPath,
    value: Value,
    /// The dotted key as typed, split on dots.
    keys: Vec<String>,
}

fn set_error(raw: &str, key: &str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Set {
        flag: raw.to_string(),
        key: key.to_string(),
        message: message.into(),
    }
}

/// Parses `key=value`; the value is read as YAML, so `500`, `250ms`, `[node, app.js]` all work.
pub(crate) fn parse_set(raw: &str) -> Result<SetFlag, ScenarioError> {
    let Some((key, text)) = raw.split_once('=') else {
        return Err(set_error(
            raw,
            "",
            "expected the form key=value, e.g. --set load.phases.0.rate=500",
        ));
    };
    let key = key.trim();
    let keys: Vec<String> = key.split('.').map(|k| k.trim().to_string()).collect();
    if keys.iter().any(String::is_empty) {
        return Err(set_error(
            raw,
            "",
            format!("`{key}` is not a key path; use dotted keys like target.env.PORT or load.phases.0.rate"),
        ));
    }
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        parse_tree(text).map_err(|e| {
            set_error(
                raw,
                key,
                format!("the value `{text}` is not valid YAML: {e}"),
            )
        })?
    };
    Ok(SetFlag {
        raw: raw.to_string(),
        path: KeyPath::root(),
        value,
        keys,
    })
}

/// Writes the flag's value into `tree`, creating missing mapping keys; fills in `flag.path`.
pub(crate) fn apply_set(tree: &mut Value, flag: &mut SetFlag) -> Result<(), ScenarioError> {
    let mut node = tree;
    let mut path = KeyPath::root();
    for key in &flag.keys {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        node = match node {
            Value::Mapping(map) => {
                path = path.key(key);
                map.entry(Value::String(key.clone())).or_insert(Value::Null)
            }
            Value::Sequence(items) => {
                let len = items.len();
                let index = key.parse::<usize>().ok().filter(|&i| i <= len).ok_or_else(|| {
                    set_error(
                        &flag.raw,
                        &path.to_string(),
                        format!("`{key}` is not an index of this list of {len}; use 0 to {len} ({len} appends)"),
                    )
                })?;
                if index == len {
                    items.push(Value::Null);
                }
                path = path.index(index);
                &mut items[index]
            }
            _ => {
                return Err(set_error(
                    &flag.raw,
                    &path.to_string(),
                    format!("this is a single value, so it has no key `{key}`"),
                ))
            }
        };
    }
    *node = flag.value.clone();
    flag.path = path;
    Ok(())
}

fn flag_error(flag: &'static str, message: impl Into<String>) -> ScenarioError {
    ScenarioError::Flag {
        flag,
        message: message.into(),
    }
}

/// Applies `--duration` and `--rate` to a resolved plan.
pub(crate) fn apply_scaling(plan: &mut Plan, o: &Overrides) -> Result<(), ScenarioError> {
    if let Some(d) = o.duration {
        scale_duration(plan, d)?;
    }
    if let Some(r) = o.rate {
        scale_rate(plan, r)?;
    }
    Ok(())
}

fn scale_duration(plan: &mut Plan, target: Duration) -> Result<(), ScenarioError> {
    let phases = &mut plan.load.phases;
    let min_total = MIN_PHASE * phases.len() as u32;
    if target < min_total {
        return Err(flag_error(
            "--duration",
            format!(
                "{} is too short for {} phases; each phase needs at least {} (so at least {})",
                units::format_duration(target),
                phases.len(),
                units::format_duration(MIN_PHASE),
                units::format_duration(min_total)
            ),
        ));
    }
    let total = phases
        .iter()
        .map(|p| p.duration)
        .sum::<Duration>()
        .as_secs_f64();
    let factor = target.as_secs_f64() / total.max(f64::MIN_POSITIVE);
    // Millisecond resolution, at least one tick each.
    let mut ms: Vec<u64> = phases
        .iter()
        .map(|p| ((p.duration.as_secs_f64() * factor * 1000.0).round() as u64).max(100))
        .collect();
    // Make the sum exact: take or give the rounding difference from the longest phases first.
    let want = target.as_millis() as u64;
    let mut order: Vec<usize> = (0..ms.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ms[i]));
    for &i in &order {
        let sum: u64 = ms.iter().sum();
        if sum > want {
            let spare = ms[i] - 100;
            ms[i] -= spare.min(sum - want);
        } else {
            ms[i] += want - sum;
        }
    }
    for (p, m) in phases.iter_mut().zip(ms) {
        p.duration = Duration::from_millis(m);
    }
    Ok(())
}

fn scale_rate(plan: &mut Plan, rate: f64) -> Result<(), ScenarioError> {
    if plan.load.model == Model::Closed {
        return Err(flag_error(
            "--rate",
            "the closed model has no rate; change concurrency instead with \
             --set load.phases.N.concurrency=C (or --set load.concurrency=C)",
        ));
    }
    if !(rate.is_finite() && rate > 0.0) {
        return Err(flag_error(
            "--rate",
            format!(
                "the peak rate must be above 0, got {}",
                units::format_rate(rate)
            ),
        ));
    }
    if rate > super::resolve::MAX_RATE {
        return Err(flag_error(
            "--rate",
            format!(
                "{} is above the limit of {} requests per second",
                units::format_rate(rate),
                super::resolve::MAX_RATE
            ),
        ));
    }
    let peak = plan
        .load
        .phases
        .iter()
        .map(|p| p.rate.max(p.ramp_to.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    // Resolving refused an open plan whose phases are all idle, so `peak` is above 0.
    let factor = rate / peak.max(f64::MIN_POSITIVE);
    for p in &mut plan.load.phases {
        p.rate *= factor;
        p.ramp_to = p.ramp_to.map(|r| r * factor);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    fn set(t: &mut Value, raw: &str) -> Result<KeyPath, ScenarioError> {
        let mut f = parse_set(raw)?;
        apply_set(t, &mut f)?;
        Ok(f.path)
    }

    #[test]
    fn set_writes_nested_maps_and_list_items() {
        let mut t = tree("target: {base_url: x}\nload:\n  phases: [{rate: 1}, {rate: 2}]\n");
        set(&mut t, "target.env.PORT=4001").unwrap();
        assert_eq!(t["target"]["env"]["PORT"].as_u64(), Some(4001));
        let p = set(&mut t, "load.phases.1.rate=500").unwrap();
        assert_eq!(p.to_string(), "load.phases[1].rate");
        assert_eq!(t["load"]["phases"][1]["rate"].as_u64(), Some(500));
        set(&mut t, "thresholds.p99=200ms").unwrap();
        assert_eq!(t["thresholds"]["p99"].as_str(), Some("200ms"));
        set(&mut t, "target.base_url=http://127.0.0.1:4001").unwrap();
        assert_eq!(
            t["target"]["base_url"].as_str(),
            Some("http://127.0.0.1:4001")
        );
        set(&mut t, "target.command=[node, app.js]").unwrap();
        assert_eq!(t["target"]["command"][1].as_str(), Some("app.js"));
        set(&mut t, "load.phases.2.rate=0").unwrap();
        assert_eq!(t["load"]["phases"].as_sequence().map(|s| s.len()), Some(3));
        set(&mut t, "target.pid=").unwrap();
        assert!(t["target"]["pid"].is_null());
    }

    #[test]
    fn set_errors_name_the_flag() {
        let mut t = tree("name: x\nload: {phases: [{rate: 1}]}\n");
        let e = set(&mut t, "foo").unwrap_err().to_string();
        assert!(
            e.starts_with("--set foo: ") && e.contains("key=value"),
            "{e}"
        );
        let e = set(&mut t, "load..rate=1").unwrap_err().to_string();
        assert!(e.contains("not a key path"), "{e}");
        let e = set(&mut t, "load.phases.7.rate=1").unwrap_err().to_string();
        assert!(
            e.contains("--set load.phases.7.rate=1: load.phases: `7` is not an index"),
            "{e}"
        );
        let e = set(&mut t, "name.first=a").unwrap_err().to_string();
        assert!(e.contains("name: this is a single value"), "{e}");
        let e = set(&mut t, "name=[unclosed").unwrap_err().to_string();
        assert!(e.contains("not valid YAML"), "{e}");
    }
}
