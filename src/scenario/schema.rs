//! The scenario file as written: serde types mirroring the YAML, before defaults and checks.
//!
//! Every mapping denies unknown keys. Leaf types parse human units while deserializing, so a
//! bad `5 minutes` is reported at its own key path; range and cross-field checks are left to
//! [`super::resolve`]. Fields are `Option` wherever the YAML may omit (or empty) them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::units;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Text,
    pub target: Target,
    pub memory: Option<Memory>,
    pub load: Load,
    pub requests: Vec<Request>,
    pub thresholds: Option<Thresholds>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub base_url: Text,
    pub command: Option<Command>,
    pub cwd: Option<Text>,
    pub env: Option<Ordered<Text>>,
    pub ready: Option<Ready>,
    pub pid: Option<Whole>,
    pub pid_file: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    pub path: Option<Text>,
    pub timeout: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub interval: Option<Dur>,
    pub metric: Option<Text>,
    pub sources: Option<Vec<SourceEntry>>,
}

/// One entry of `memory.sources`: a bare name (`process`, `cgroup`) or a one-key mapping from
/// the source's name to its options (`prometheus: {url: ..., series: [...]}`).
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEntry {
    /// A bare name; checked (and told what options it needs) when resolving.
    Name(String),
    Cgroup(CgroupOptions),
    Docker(DockerOptions),
    Prometheus(PrometheusOptions),
    Json(JsonOptions),
    Inspector(InspectorOptions),
    GcLog(GcLogOptions),
}

/// Source names that take an options mapping.
pub const SOURCE_KINDS_WITH_OPTIONS: &[&str] = &[
    "cgroup",
    "docker",
    "prometheus",
    "json",
    "inspector",
    "gc_log",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CgroupOptions {
    pub path: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerOptions {
    pub container: Text,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusOptions {
    pub url: Text,
    pub series: Vec<Text>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonOptions {
    pub url: Text,
    pub pointer: Text,
    pub name: Option<Text>,
}

/// `- inspector: {connect: 127.0.0.1:9229, gc_every: 4, snapshots: [after_warmup, mid, end]}`;
/// every key optional.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InspectorOptions {
    pub connect: Option<Text>,
    pub gc_every: Option<Whole>,
    pub snapshots: Option<Vec<Text>>,
}

/// `- gc_log: {file: /var/log/app/gc.log, runtime: jvm}`; every key optional.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcLogOptions {
    pub file: Option<Text>,
    pub runtime: Option<Text>,
    /// `auto` (default), `off`, or a duration such as `5s`.
    pub force_gc: Option<Text>,
}

impl<'de> Deserialize<'de> for SourceEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SourceEntry;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a source name (process) or a mapping like `prometheus: {url: ...}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SourceEntry, E> {
                Ok(SourceEntry::Name(v.trim().to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SourceEntry, A::Error> {
                let Some(kind) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "is an empty mapping; name a source, e.g. `- process` or \
                         `- prometheus: {url: http://127.0.0.1:9464/metrics, series: [...]}`",
                    ));
                };
                let entry = match kind.as_str() {
                    "cgroup" => {
                        // `- cgroup:` with nothing after it: the target's own cgroup.
                        let o: Option<CgroupOptions> = map.next_value()?;
                        SourceEntry::Cgroup(o.unwrap_or(CgroupOptions { path: None }))
                    }
                    "docker" => SourceEntry::Docker(map.next_value()?),
                    "prometheus" => SourceEntry::Prometheus(map.next_value()?),
                    "json" => SourceEntry::Json(map.next_value()?),
                    "inspector" => {
                        // `- inspector:` with nothing after it: every default.
                        let o: Option<InspectorOptions> = map.next_value()?;
                        SourceEntry::Inspector(o.unwrap_or_default())
                    }
                    "gc_log" => {
                        let o: Option<GcLogOptions> = map.next_value()?;
                        SourceEntry::GcLog(o.unwrap_or_default())
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "`{other}` is not a source that takes options; write a bare name \
                             (`- process`) or one of: {}",
                            SOURCE_KINDS_WITH_OPTIONS
                                .iter()
                                .map(|k| format!("`{k}: {{...}}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )))
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "holds `{kind}` and `{extra}`: give one source per list entry, each \
                         starting with `- `"
                    )));
                }
                Ok(entry)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    pub model: Option<Text>,
    pub timeout: Option<Dur>,
    pub max_in_flight: Option<Whole>,
    pub concurrency: Option<Whole>,
    /// A built-in load profile (`leak-hunt`) that expands into phases, instead of `phases`.
    pub profile: Option<Text>,
    /// The profile's peak rate.
    pub rate: Option<Rate>,
    /// The profile's total duration.
    pub duration: Option<Dur>,
    pub phases: Option<Vec<Phase>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: Option<Text>,
    pub duration: Dur,
    pub rate: Option<Rate>,
    pub ramp_to: Option<Rate>,
    pub concurrency: Option<Whole>,
    /// This phase's request mix, `{request name: weight}`, instead of the requests' weights.
    pub mix: Option<Ordered<Whole>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub name: Option<Text>,
    pub method: Option<Text>,
    pub path: Text,
    pub headers: Option<Ordered<Text>>,
    /// Text, or a mapping/list that is sent as JSON.
    pub body: Option<serde_yaml::Value>,
    pub weight: Option<Whole>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub leak_per_request: Option<Size>,
    pub growth: Option<Size>,
    pub p99: Option<Dur>,
    pub error_rate: Option<Percent>,
}

/// Text; unquoted numbers and booleans (`PORT: 3000`) are taken as the text they spell.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

/// A whole number >= 0 (`3`, `3.0` or `"3"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Whole(pub u64);

/// A duration with its text, e.g. `30s`. A bare number is refused: its unit would be a guess.
#[derive(Debug, Clone, PartialEq)]
pub struct Dur {
    pub value: Duration,
    pub text: String,
}

/// A size in bytes with its text: `64B`, `4KiB`, or a whole number of bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Size {
    pub value: u64,
    pub text: String,
}

/// Requests per second: `400`, `12.5`, `50/1s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub value: f64,
    pub text: String,
}

/// A fraction 0..=1 from `1%`; a bare number is refused (is `1` 1% or 100%?).
#[derive(Debug, Clone, PartialEq)]
pub struct Percent {
    pub value: f64,
    pub text: String,
}

/// `program + args` as a list; a single string is refused with a hint.
#[derive(Debug, Clone, PartialEq)]
pub struct Command(pub Vec<String>);

/// A mapping of text keys that keeps the file's order (headers are sent in that order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<V>(pub Vec<(String, V)>);

/// Implements `Deserialize` via `deserialize_any` with a visitor that turns scalars into `$ty`.
/// `$num` handles numbers (as f64 plus the text YAML wrote), `$str` handles text.
macro_rules! scalar_type {
    ($ty:ident, $expecting:expr, num: |$n:ident, $nt:ident| $num:expr, str: |$s:ident| $str:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl V {
                    fn number<E: de::Error>(self, $n: f64, $nt: String) -> Result<$ty, E> {
                        $num.map_err(E::custom)
                    }
                }
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$ty, E> {
                        self.number(v as f64, v.to_string())
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$ty, E> {
                        self.number(v as f64, v.to_string())
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$ty, E> {
                        self.number(v, v.to_string())
                    }
                    fn visit_str<E: de::Error>(self, $s: &str) -> Result<$ty, E> {
                        $str.map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

scalar_type!(Dur, "a duration like 30s",
    num: |_n, t| Err::<Dur, _>(format!(
        "`{t}` has no unit; write a duration like {t}s or {t}ms (forms: {})",
        units::DURATION_FORMS
    )),
    str: |s| units::parse_duration(s).map(|value| Dur { value, text: s.trim().to_string() })
);

scalar_type!(Size, "a size like 64B or 50MiB",
    num: |n, t| if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 {
        Ok(Size { value: n as u64, text: format!("{t}B") })
    } else {
        Err(format!("`{t}` is not a size; use a whole number of bytes or forms like {}", units::SIZE_FORMS))
    },
    str: |s| units::parse_size(s).map(|value| Size { value, text: s.trim().to_string() })
);

scalar_type!(Rate, "a rate like 200 or 50/1s",
    num: |n, t| if n >= 0.0 && n.is_finite() {
        Ok(Rate { value: n, text: t })
    } else {
        Err(format!("`{t}` is not a rate; use a number >= 0 or forms like {}", units::RATE_FORMS))
    },
    str: |s| units::parse_rate(s).map(|value| Rate { value, text: s.trim().to_string() })
);

scalar_type!(Percent, "a percentage like 1%",
    num: |_n, t| Err::<Percent, _>(format!(
        "`{t}` has no `%`; write a percentage like {t}% (forms: {})",
        units::PERCENT_FORMS
    )),
    str: |s| units::parse_percent(s).map(|value| Percent { value, text: s.trim().to_string() })
);

scalar_type!(Whole, "a whole number",
    num: |n, t| if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 {
        Ok(Whole(n as u64))
    } else {
        Err(format!("`{t}` is not allowed here; use a whole number >= 0"))
    },
    str: |s| s.trim().parse::<u64>().map(Whole).map_err(|_| {
        format!("`{s}` is not a whole number; use a whole number >= 0 such as 3")
    })
);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("text")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list like [node, server.js]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                let words: Vec<&str> = v.split_whitespace().collect();
                Err(E::custom(format!(
                    "write the command as a list of program and arguments, e.g. [{}]; \
                     leakhound does not run a shell",
                    words.join(", ")
                )))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Command, A::Error> {
                let mut out = Vec::new();
                while let Some(Text(t)) = seq.next_element::<Text>()? {
                    out.push(t);
                }
                Ok(Command(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping (key: value lines)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, T>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
            // `env:` with nothing after it.
            fn visit_unit<E: de::Error>(self) -> Result<Ordered<T>, E> {
                Ok(Ordered(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::tree::from_tree;

    fn de<T: serde::de::DeserializeOwned>(yaml: &str) -> Result<T, String> {
        let v: serde_yaml::Value = serde_yaml::from_str(yaml).unwrap();
        from_tree::<T>(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn units_accept_strings_and_natural_numbers() {
        assert_eq!(de::<Dur>("30s").unwrap().value, Duration::from_secs(30));
        assert_eq!(
            de::<Size>("1024").unwrap(),
            Size {
                value: 1024,
                text: "1024B".into()
            }
        );
        assert_eq!(de::<Size>("4KiB").unwrap().value, 4096);
        assert_eq!(de::<Rate>("400").unwrap().value, 400.0);
        assert_eq!(de::<Rate>("600/1m").unwrap().value, 10.0);
        assert_eq!(de::<Percent>("1%").unwrap().value, 0.01);
        assert_eq!(de::<Whole>("3").unwrap(), Whole(3));
        assert_eq!(de::<Whole>("'3'").unwrap(), Whole(3));
    }

    #[test]
    fn bare_numbers_ask_for_a_unit() {
        let e = de::<Dur>("30").unwrap_err();
        assert!(e.contains("`30` has no unit") && e.contains("30s"), "{e}");
        let e = de::<Percent>("1").unwrap_err();
        assert!(e.contains("`1` has no `%`"), "{e}");
        assert!(de::<Rate>("-5").unwrap_err().contains("`-5` is not a rate"));
        assert!(de::<Whole>("-1").unwrap_err().contains("whole number >= 0"));
        assert!(de::<Whole>("1.5").unwrap_err().contains("whole number"));
        let e = de::<Dur>("5 minutes").unwrap_err();
        assert!(e.contains("`5 minutes` is not a duration"), "{e}");
    }

    #[test]
    fn text_stringifies_numbers_and_commands_need_lists() {
        assert_eq!(de::<Text>("3000").unwrap(), Text("3000".into()));
        assert_eq!(de::<Text>("true").unwrap(), Text("true".into()));
        assert!(de::<Text>("[a]")
            .unwrap_err()
            .contains("expected text, found a list"));
        assert_eq!(
            de::<Command>("[python3, -m, http.server, 8000]").unwrap(),
            Command(vec![
                "python3".into(),
                "-m".into(),
                "http.server".into(),
                "8000".into()
            ])
        );
        let e = de::<Command>("node server.js").unwrap_err();
        assert!(e.contains("[node, server.js]"), "{e}");
    }

    #[test]
    fn ordered_keeps_file_order() {
        let o = de::<Ordered<Text>>("{b: 1, a: x}").unwrap();
        assert_eq!(
            o.0,
            vec![
                ("b".into(), Text("1".into())),
                ("a".into(), Text("x".into()))
            ]
        );
        assert!(de::<Ordered<Text>>("~").unwrap().0.is_empty());
    }
}
