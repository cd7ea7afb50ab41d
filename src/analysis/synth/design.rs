//! Scenario designs: the load a run plans (phases, rates, endpoints, mix), written as the
//! YAML a user would write and parsed by [`crate::scenario::parse`], and the load it achieved
//! tick by tick (completed requests with the generator's jitter).

use std::fmt::Write as _;
use std::path::Path;

use rand::rngs::SmallRng;
use rand::Rng;

use super::{log_uniform, normal, Kind};
use crate::scenario::{self, Overrides, Plan};
use crate::timeline::Timeline;

/// Achieved rates wander around the plan by about this much (sd), never beyond [`JITTER_MAX`].
const JITTER_SD: f64 = 0.012;
const JITTER_MAX: f64 = 0.03;
const MIN_RATE: f64 = 100.0;
const MAX_RATE: f64 = 3000.0;

/// How the load is laid out over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Family {
    /// Warm-up, an idle phase, then the soak.
    IdleFirst,
    /// Warm-up, soak, idle, soak.
    IdleMiddle,
    /// Warm-up, soak, then idle to the end.
    IdleLast,
    /// One rate throughout (a single phase, or warm-up and soak at the same rate).
    NoIdle,
    /// A warm-up, then a linear ramp (up mostly, sometimes down), sometimes a hold after it.
    Ramp,
    /// The built-in `leak-hunt` profile: warm-up, then busy / idle / low blocks.
    LeakHunt,
    /// A warm-up, then several phases at different rates.
    Steps,
}

impl Family {
    pub(crate) const ALL: [Family; 7] = [
        Family::IdleFirst,
        Family::IdleMiddle,
        Family::IdleLast,
        Family::NoIdle,
        Family::Ramp,
        Family::LeakHunt,
        Family::Steps,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::IdleFirst => "idle_first",
            Family::IdleMiddle => "idle_middle",
            Family::IdleLast => "idle_last",
            Family::NoIdle => "no_idle",
            Family::Ramp => "ramp",
            Family::LeakHunt => "leak_hunt",
            Family::Steps => "steps",
        }
    }
}

/// One planned phase as the YAML writes it.
#[derive(Debug, Clone)]
struct PhaseDraw {
    name: String,
    ms: u64,
    rate: u64,
    ramp_to: Option<u64>,
    mix: Option<Vec<u32>>,
}

/// A drawn design: everything the scenario YAML says.
#[derive(Debug, Clone)]
pub(crate) struct Design {
    pub(crate) family: Family,
    pub(crate) interval_ms: u64,
    pub(crate) endpoints: Vec<String>,
    weights: Vec<u32>,
    phases: Vec<PhaseDraw>,
    /// `profile: leak-hunt` with this peak rate and total milliseconds.
    hunt: Option<(u64, u64)>,
    /// `thresholds.leak_per_request` in bytes; None = the default (128 B).
    pub(crate) limit: Option<u32>,
    /// The plan parsed from the YAML (judged metric `rss_anon`); set once drawn.
    parsed: Option<Plan>,
}

/// The load of one tick: what was completed by its end, and by the end of the tick before.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) t_prev_s: f64,
    pub(crate) t_s: f64,
    /// Index of the phase the tick ends in.
    pub(crate) phase: usize,
    pub(crate) total_prev: u64,
    pub(crate) total: u64,
    pub(crate) endpoints_prev: Vec<u64>,
    pub(crate) endpoints: Vec<u64>,
}

impl Design {
    pub(crate) fn draw(rng: &mut SmallRng, family: Option<Family>, kind: Kind) -> Design {
        let family = match kind {
            Kind::ShortTimer => Family::LeakHunt,
            _ => family.unwrap_or_else(|| Family::ALL[rng.random_range(0..Family::ALL.len())]),
        };
        // Most runs are under a minute; some go to five.
        let total_s = match kind {
            Kind::ShortTimer => rng.random_range(20.0..35.0),
            _ if rng.random_bool(0.75) => log_uniform(rng, 20.0, 60.0),
            _ => log_uniform(rng, 60.0, 300.0),
        };
        let interval_ms = [250, 250, 500, 500, 500, 1000, 1000, 1000, 2000][rng.random_range(0..9)];
        let n = match rng.random_range(0..20) {
            0..=14 => 1,
            15..=17 => 2,
            _ => 3,
        };
        let endpoints: Vec<String> = ["alpha", "beta", "gamma"][..n]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let weights = (0..n).map(|_| rng.random_range(1..=4)).collect();
        let varied_mix = n > 1 && rng.random_bool(0.5);
        let rate = log_uniform(rng, MIN_RATE, MAX_RATE);
        let (phases, hunt) = match family {
            Family::LeakHunt => (vec![], Some((rate.round() as u64, ms(total_s)))),
            _ => (layout(rng, family, total_s, rate), None),
        };
        let mut d = Design {
            family,
            interval_ms,
            endpoints,
            weights,
            phases,
            hunt,
            limit: rng
                .random_bool(0.2)
                .then(|| [64, 256, 512, 1024][rng.random_range(0..4)]),
            parsed: None,
        };
        if varied_mix {
            for p in d.phases.iter_mut().filter(|p| p.rate > 0) {
                p.mix = Some((0..n).map(|_| rng.random_range(1..=5)).collect());
            }
        }
        let yaml = d.yaml(false);
        d.parsed = Some(
            scenario::parse(&yaml, "synth.yaml", Path::new("."), &Overrides::default())
                .unwrap_or_else(|e| panic!("generated scenario does not parse: {e}\n{yaml}")),
        );
        d
    }

    fn base(&self) -> &Plan {
        self.parsed.as_ref().expect("parsed when drawn")
    }

    /// The planned duration, seconds.
    pub(crate) fn total_s(&self) -> f64 {
        self.base().total_duration().as_secs_f64()
    }

    /// Requests the plan asks for, all phases.
    pub(crate) fn expected_requests(&self) -> f64 {
        self.base()
            .load
            .phases
            .iter()
            .map(|p| p.expected_requests())
            .sum()
    }

    /// The highest rate any phase asks for, requests per second.
    pub(crate) fn peak_rate(&self) -> f64 {
        self.base()
            .load
            .phases
            .iter()
            .map(|p| p.rate.max(p.ramp_to.unwrap_or(0.0)))
            .fold(0.0, f64::max)
    }

    /// Requests the plan asks for before judging starts.
    pub(crate) fn warmup_requests(&self) -> f64 {
        match self.base().load.phases.as_slice() {
            [first, _, ..] => first.expected_requests(),
            _ => self.expected_requests() * 0.2,
        }
    }

    /// Where judging starts, as leakhound documents it: the end of the first phase when there
    /// are several, else 20% into the run.
    pub(crate) fn warmup_s(&self) -> f64 {
        match self.base().load.phases.as_slice() {
            [first, _, ..] => first.duration.as_secs_f64(),
            _ => self.total_s() * 0.2,
        }
    }

    /// The plan, judged on `heap_after_gc` when the runtime writes a GC log. The scenario
    /// schema has no `gc_log` source yet, so the YAML says `rss_anon` and the metric is set
    /// on the parsed plan (analysis reads only the name).
    pub(crate) fn plan(&self, gc_log: bool) -> Plan {
        let mut p = self.base().clone();
        if gc_log {
            p.memory.metric = "heap_after_gc".into();
        }
        p
    }

    /// The scenario YAML of this design.
    pub(crate) fn yaml(&self, gc_log: bool) -> String {
        let mut y = format!(
            "name: synth-{}\ntarget: {{base_url: \"http://127.0.0.1:9\", pid: 1}}\n\
             memory: {{interval: {}ms, metric: rss_anon}}\n",
            self.family.name(),
            self.interval_ms
        );
        if gc_log {
            y.push_str("# judged on heap_after_gc (the gc_log source, set on the plan)\n");
        }
        match self.hunt {
            Some((rate, total)) => {
                let _ = writeln!(
                    y,
                    "load: {{profile: leak-hunt, rate: {rate}, duration: {total}ms}}"
                );
            }
            None => {
                y.push_str("load:\n  phases:\n");
                for p in &self.phases {
                    let _ = write!(
                        y,
                        "    - {{name: {}, duration: {}ms, rate: {}",
                        p.name, p.ms, p.rate
                    );
                    if let Some(to) = p.ramp_to {
                        let _ = write!(y, ", ramp_to: {to}");
                    }
                    if let Some(mix) = &p.mix {
                        let parts: Vec<String> = self
                            .endpoints
                            .iter()
                            .zip(mix)
                            .map(|(e, w)| format!("{e}: {w}"))
                            .collect();
                        let _ = write!(y, ", mix: {{{}}}", parts.join(", "));
                    }
                    y.push_str("}\n");
                }
            }
        }
        y.push_str("requests:\n");
        for (e, w) in self.endpoints.iter().zip(&self.weights) {
            let _ = writeln!(y, "  - {{name: {e}, path: /{e}, weight: {w}}}");
        }
        if let Some(l) = self.limit {
            let _ = writeln!(y, "thresholds: {{leak_per_request: {l}B}}");
        }
        y
    }

    /// An empty timeline with the plan's phases and endpoints.
    pub(crate) fn timeline_skeleton(&self, plan: &Plan) -> Timeline {
        let phases = crate::timeline::planned_spans(plan);
        Timeline {
            started_at: "synthetic".into(),
            interval_s: self.interval_ms as f64 / 1000.0,
            endpoints: self.endpoints.clone(),
            phases,
            ticks: vec![],
            events: vec![],
        }
    }

    /// The achieved load, one entry per tick: the plan's rate integrated over each interval,
    /// split by the phase's mix, times the tick's jitter. Idle time adds nothing.
    pub(crate) fn schedule(&self, rng: &mut SmallRng, plan: &Plan) -> Vec<Load> {
        let dt = self.interval_ms as f64 / 1000.0;
        let total = self.total_s();
        let ticks = (total / dt + 1e-9).floor() as usize;
        let phases: Vec<(f64, f64, f64, f64, Vec<f64>)> = {
            let mut start = 0.0;
            plan.load
                .phases
                .iter()
                .map(|p| {
                    let end = start + p.duration.as_secs_f64();
                    let w: Vec<f64> = match &p.mix {
                        Some(m) => m.iter().map(|&w| w as f64).collect(),
                        None => plan.requests.iter().map(|r| r.weight as f64).collect(),
                    };
                    let sum: f64 = w.iter().sum::<f64>().max(1.0);
                    let share = w.iter().map(|x| x / sum).collect();
                    let row = (start, end, p.rate, p.ramp_to.unwrap_or(p.rate), share);
                    start = end;
                    row
                })
                .collect()
        };
        let n = self.endpoints.len();
        let mut cum = vec![0.0f64; n];
        let mut counts = vec![0u64; n];
        let mut out = Vec::with_capacity(ticks);
        for k in 1..=ticks {
            let (a, b) = ((k - 1) as f64 * dt, k as f64 * dt);
            let jitter = 1.0 + (normal(rng) * JITTER_SD).clamp(-JITTER_MAX, JITTER_MAX);
            for (s, e, r0, r1, share) in &phases {
                let (lo, hi) = (a.max(*s), b.min(*e));
                if hi <= lo {
                    continue;
                }
                // Linear ramp: the integral is the mean of the rates at both ends.
                let at = |t: f64| r0 + (r1 - r0) * (t - s) / (e - s);
                let reqs = (at(lo) + at(hi)) / 2.0 * (hi - lo) * jitter;
                for (c, sh) in cum.iter_mut().zip(share) {
                    *c += reqs * sh;
                }
            }
            let prev = counts.clone();
            for (c, f) in counts.iter_mut().zip(&cum) {
                *c = f.floor() as u64;
            }
            let phase = phases
                .iter()
                .position(|p| b - 1e-9 < p.1)
                .unwrap_or(phases.len() - 1);
            out.push(Load {
                t_prev_s: a,
                t_s: b,
                phase,
                total_prev: prev.iter().sum(),
                total: counts.iter().sum(),
                endpoints_prev: prev,
                endpoints: counts.clone(),
            });
        }
        out
    }
}

fn ms(secs: f64) -> u64 {
    (secs * 1000.0).round().max(100.0) as u64
}

/// The phases of a family other than leak-hunt over `total_s` seconds, peak about `rate`.
fn layout(rng: &mut SmallRng, family: Family, total_s: f64, rate: f64) -> Vec<PhaseDraw> {
    let phase = |name: &str, secs: f64, rate: f64| PhaseDraw {
        name: name.into(),
        ms: ms(secs),
        rate: rate.round() as u64,
        ramp_to: None,
        mix: None,
    };
    let warm = total_s * rng.random_range(0.1..0.25);
    let warm_rate = if rng.random_bool(0.5) {
        rate
    } else {
        (rate / 2.0).max(MIN_RATE)
    };
    let rest = total_s - warm;
    let idle = rest * rng.random_range(0.12..0.3);
    let w = phase("warmup", warm, warm_rate);
    match family {
        Family::IdleFirst => vec![
            w,
            phase("idle", idle, 0.0),
            phase("soak", rest - idle, rate),
        ],
        Family::IdleMiddle => {
            let first = (rest - idle) * rng.random_range(0.3..0.7);
            vec![
                w,
                phase("soak-1", first, rate),
                phase("idle", idle, 0.0),
                phase("soak-2", rest - idle - first, rate),
            ]
        }
        Family::IdleLast => vec![
            w,
            phase("soak", rest - idle, rate),
            phase("idle", idle, 0.0),
        ],
        Family::NoIdle if rng.random_bool(0.5) => vec![phase("soak", total_s, rate)],
        Family::NoIdle => vec![phase("warmup", warm, rate), phase("soak", rest, rate)],
        Family::Ramp => {
            let to = if rng.random_bool(0.8) {
                (rate * rng.random_range(2.0..6.0)).min(MAX_RATE)
            } else {
                (rate / rng.random_range(2.0..4.0)).max(MIN_RATE)
            };
            let hold = rng
                .random_bool(0.5)
                .then(|| rest * rng.random_range(0.2..0.4));
            let ramp_s = rest - hold.unwrap_or(0.0);
            let mut v = vec![phase("warmup", warm, rate)];
            let mut ramp = phase("ramp", ramp_s, rate);
            ramp.ramp_to = Some(to.round() as u64);
            v.push(ramp);
            if let Some(h) = hold {
                v.push(phase("hold", h, to));
            }
            v
        }
        Family::Steps => {
            let k = rng.random_range(3..=6);
            let mut v = vec![w];
            for i in 0..k {
                let r = log_uniform(rng, MIN_RATE, MAX_RATE);
                v.push(phase(&format!("step-{}", i + 1), rest / k as f64, r));
            }
            v
        }
        Family::LeakHunt => unreachable!("leak-hunt is the built-in profile"),
    }
}
