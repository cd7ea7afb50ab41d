//! The scenario text: parsing it into a bounded YAML tree, and pointing errors at lines.
//!
//! Validation works on a `serde_yaml::Value` tree (so `--set` can edit it first), which has no
//! positions. When an error is found, [`locate`] walks the original text once more with the real
//! YAML parser and fails on purpose at the key path in question; the parser stamps that failure
//! with its line and column. Errors are rare, so the second walk costs nothing in practice and
//! the positions are exactly the parser's.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;

use super::depth::too_deep;
use super::error::{KeyPath, Loc, ScenarioError, Seg};
use super::keys::{self, skip_scalars, KeyProblem, KeyProblemKind};
use super::overrides::SetFlag;
use super::tree::{DeError, DeErrorKind};

/// Most YAML values (scalars, lists, mappings) a scenario may expand to, aliases included.
/// Real scenarios have a few hundred; the cap stops alias bombs before they allocate.
pub const MAX_NODES: usize = 100_000;

const BUDGET_MSG: &str = "the YAML expands to more than 100000 values (each alias `*name` counts \
                          its anchor's values again); a scenario needs far fewer: is this the \
                          right file, or is an alias repeated too often?";
const TAG_MSG: &str = "YAML tags (`!name`) are not supported in scenarios; remove the tag";

/// Why YAML text did not become a tree.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TreeError {
    #[error(transparent)]
    Yaml(#[from] serde_yaml::Error),
    /// `[`/`{` nested past [`super::depth::MAX_FLOW_DEPTH`], first at this place.
    #[error("{DEPTH_MSG} (line {} column {})", .0.line, .0.column)]
    TooDeep(Loc),
    /// A duplicate key, or a list or mapping used as a key.
    #[error("{0}")]
    Key(KeyProblem),
}

const DEPTH_MSG: &str = "lists and mappings (`[`, `{`) are nested more than 256 levels deep; a \
                         scenario needs a few: is this the right file, or are brackets left \
                         unclosed?";

/// Parses YAML text into a tree, refusing documents nested beyond
/// [`super::depth::MAX_FLOW_DEPTH`] or expanding beyond [`MAX_NODES`].
pub(crate) fn parse_tree(text: &str) -> Result<Value, TreeError> {
    // The scanner is quadratic in flow depth: bound it before handing the text over.
    if let Some(at) = too_deep(text) {
        return Err(TreeError::TooDeep(at));
    }
    // First pass counts values without building anything, so a bomb fails fast and small.
    let count = Cell::new(0);
    Budget(&count).deserialize(serde_yaml::Deserializer::from_str(text))?;
    // The tree refuses duplicate keys but points at the mapping, and takes list keys: find
    // either at its own line. Only then, as errors are rare and this is one more parse.
    let mut tree: Value = match serde_yaml::from_str(text) {
        Ok(tree) => tree,
        Err(e) => return Err(keys::bad_key(text).map_or(TreeError::Yaml(e), TreeError::Key)),
    };
    if keys::has_complex_key(&tree) {
        if let Some(problem) = keys::bad_key(text) {
            return Err(TreeError::Key(problem));
        }
    }
    tree.apply_merge()?;
    Ok(tree)
}

/// Counts every value, following aliases, and fails past [`MAX_NODES`].
#[derive(Clone, Copy)]
struct Budget<'c>(&'c Cell<usize>);

impl Budget<'_> {
    fn tick<E: de::Error>(self) -> Result<(), E> {
        self.0.set(self.0.get() + 1);
        if self.0.get() > MAX_NODES {
            return Err(E::custom(BUDGET_MSG));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.tick()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.tick()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.tick()
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.tick()
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.tick()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.tick()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.tick()
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.tick()
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.tick()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.tick()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.tick()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(TAG_MSG))
    }
}

/// Which part of a `key: value` pair an error points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spot {
    /// The key itself (unknown or misplaced keys).
    Key,
    /// The value (wrong values, missing keys inside a mapping).
    Value,
}

/// Marker carried by the deliberate failure; a real error never contains a NUL.
const PROBE: &str = "\u{0}probe";

/// Line and column of the value (or key) at `path` in `text`; None when the path is not in the
/// text (added by `--set`, or reached through a merge key).
pub(crate) fn locate(text: &str, path: &KeyPath, spot: Spot) -> Option<Loc> {
    let probe = Probe {
        rest: &path.0,
        key: spot == Spot::Key,
    };
    match probe.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(e) if e.to_string().contains(PROBE) => e.location().map(|l| Loc {
            line: l.line(),
            column: l.column(),
        }),
        _ => None,
    }
}

struct Probe<'p> {
    rest: &'p [Seg],
    /// Point at the last key rather than its value.
    key: bool,
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.rest.is_empty() {
            d.deserialize_any(Hit)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    // Scalars: the path goes deeper than the document; not found.
    skip_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let want = match self.rest.first() {
            Some(Seg::Index(i)) => Some(*i),
            _ => None,
        };
        let mut i = 0;
        loop {
            let found = if Some(i) == want {
                let inner = Probe {
                    rest: &self.rest[1..],
                    key: self.key,
                };
                seq.next_element_seed(inner)?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if found.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let want = match self.rest.first() {
            Some(Seg::Key(k)) => Some(k.as_str()),
            _ => None,
        };
        let at_key = self.key && self.rest.len() == 1;
        loop {
            let matched = match map.next_key_seed(KeyProbe { want, hit: at_key })? {
                None => return Ok(()),
                Some(m) => m,
            };
            if matched {
                let inner = Probe {
                    rest: &self.rest[1..],
                    key: self.key,
                };
                map.next_value_seed(inner)?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
}

/// Reads a mapping key and reports whether it is the wanted one; with `hit`, fails on it.
struct KeyProbe<'w> {
    want: Option<&'w str>,
    hit: bool,
}

impl KeyProbe<'_> {
    fn check<E: de::Error>(self, key: &str) -> Result<bool, E> {
        let matched = self.want == Some(key);
        if matched && self.hit {
            return Err(E::custom(PROBE));
        }
        Ok(matched)
    }
}

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        self.check(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
        // Formatted as the tree formats keys (`0.0`, not `0`), so the paths match.
        self.check(&serde_yaml::Number::from(v).to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        self.check(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        self.check("null")
    }
    // A list or mapping used as a key never matches.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

/// Fails on whatever value it is given, so the parser stamps the value's position.
struct Hit;

macro_rules! hit {
    ($($name:ident: $ty:ty),*) => {
        $(fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> { Err(E::custom(PROBE)) })*
    };
}

impl<'de> Visitor<'de> for Hit {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    hit!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_i128: i128, visit_u128: u128,
         visit_f64: f64, visit_str: &str);
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(PROBE))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(PROBE))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(PROBE))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(PROBE))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(PROBE))
    }
}

/// Where the second YAML document in `text` starts, with its marker (`---` or `...`) when a
/// marker line starts it, else at its first value.
fn second_document(text: &str) -> Option<(Loc, Option<&'static str>)> {
    let mut starts = serde_yaml::Deserializer::from_str(text).map(|doc| {
        let e = de::Deserializer::deserialize_any(doc, Hit).err()?;
        e.location().map(|l| Loc {
            line: l.line(),
            column: l.column(),
        })
    });
    let first = starts.next().flatten().map_or(0, |f| f.line);
    // An empty second document (a trailing `---`) has no value to point at.
    let second = starts.next().flatten();
    let lines: Vec<&str> = text.lines().collect();
    // (An empty value may sit past the last line.)
    let last = second.map_or(lines.len(), |s| s.line).min(lines.len());
    // The marker line nearest before the second value, but after the first one.
    for n in (first + 1..=last).rev() {
        let line = lines[n - 1];
        for marker in ["---", "..."] {
            let rest = line.strip_prefix(marker);
            if rest.is_some_and(|r| r.is_empty() || r.starts_with(char::is_whitespace)) {
                return Some((Loc { line: n, column: 1 }, Some(marker)));
            }
        }
    }
    second.map(|s| (s, None))
}

/// The plain (unquoted) key that starts at `at` in `text`, as written: up to its `: `.
fn key_written_at(text: &str, at: Loc) -> Option<String> {
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let from: String = line.chars().skip(at.column.saturating_sub(1)).collect();
    let end = from
        .char_indices()
        .find(|&(i, c)| c == ':' && from[i + 1..].chars().next().is_none_or(char::is_whitespace))
        .map_or(from.len(), |(i, _)| i);
    let written = from[..end].trim();
    let plain = !written.is_empty() && !written.starts_with(['"', '\'', '[', '{', '?']);
    plain.then(|| written.to_string())
}

/// The scenario text and the `--set` flags applied to it: turns problems into located errors.
pub(crate) struct Source<'a> {
    pub origin: &'a str,
    pub text: &'a str,
    pub sets: &'a [SetFlag],
}

impl Source<'_> {
    /// An error from [`parse_tree`], reformatted as `file:line:col: message`.
    pub fn tree_error(&self, e: &TreeError) -> ScenarioError {
        match e {
            TreeError::Yaml(e) => self.yaml_error(e),
            TreeError::TooDeep(at) => ScenarioError::Yaml {
                origin: self.origin.to_string(),
                location: Some(*at),
                message: DEPTH_MSG.to_string(),
            },
            TreeError::Key(p) => {
                // A number key is shown as written (`.0`), not as the tree has it (`0.0`).
                let written = match &p.kind {
                    KeyProblemKind::Duplicate { key, .. } if key.parse::<f64>().is_ok() => {
                        p.at.and_then(|at| key_written_at(self.text, at))
                            .filter(|w| w != key)
                    }
                    _ => None,
                };
                ScenarioError::Invalid {
                    origin: self.origin.to_string(),
                    location: p.at,
                    key: p.parent.to_string(),
                    message: p.message(written.as_deref()),
                }
            }
        }
    }

    /// A YAML parser error, reformatted as `file:line:col: message`.
    pub fn yaml_error(&self, e: &serde_yaml::Error) -> ScenarioError {
        let mut location = e.location().map(|l| Loc {
            line: l.line(),
            column: l.column(),
        });
        let mut message = e.to_string();
        if let Some(l) = location {
            // The position is already in front; drop the parser's own copy.
            message = message.replacen(&format!(" at line {} column {}", l.line, l.column), "", 1);
        }
        if message.contains("repetition limit exceeded") {
            message = BUDGET_MSG.to_string();
        }
        if location.is_none() && message.contains("more than one document") {
            // The parser says no more; find the second document so the user can see it.
            if let Some((at, marker)) = second_document(self.text) {
                location = Some(at);
                message = match marker {
                    Some(m) => format!(
                        "a second YAML document starts here (`{m}`); a scenario is one YAML \
                         document: remove the `{m}` and what follows"
                    ),
                    None => "a second YAML document starts here; a scenario is one YAML \
                             document: remove this and what follows, or quote the whole value \
                             if it belongs to the one before"
                        .to_string(),
                };
            }
        }
        // libyaml's tab messages do not say what to do about it.
        let line_text = location.and_then(|l| self.text.lines().nth(l.line.saturating_sub(1)));
        if line_text.is_some_and(|t| t.contains('\t')) {
            message.push_str("; this line contains a tab: YAML indentation must use spaces");
        }
        ScenarioError::Yaml {
            origin: self.origin.to_string(),
            location,
            message,
        }
    }

    /// An error about the key or value at `path`, shown under the key path `shown`.
    /// Attributed to a `--set` flag when that flag wrote the path.
    pub fn error_at(
        &self,
        path: &KeyPath,
        spot: Spot,
        shown: &KeyPath,
        message: impl Into<String>,
    ) -> ScenarioError {
        let message = message.into();
        let location = locate(self.text, path, spot);
        // Later flags win over earlier ones, so look at them last-first.
        let by_flag = self.sets.iter().rev().find(|s| {
            path.starts_with(&s.path) || (location.is_none() && s.path.starts_with(path))
        });
        if let Some(flag) = by_flag {
            return ScenarioError::Set {
                flag: flag.raw.clone(),
                key: shown.to_string(),
                message,
            };
        }
        ScenarioError::Invalid {
            origin: self.origin.to_string(),
            location,
            key: shown.to_string(),
            message,
        }
    }

    /// An error about the value at `path`.
    pub fn value_error(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        self.error_at(path, Spot::Value, path, message)
    }

    /// An error about a key that should not be there; points at the key, names its parent.
    pub fn key_error(&self, path: &KeyPath, message: impl Into<String>) -> ScenarioError {
        self.error_at(path, Spot::Key, path, message)
    }

    /// The text of a number key at `path` as the file writes it (`.0`, `1e3`), where the tree
    /// holds it reformatted (`0.0`, `1000.0`); None for other keys or when it is not found.
    fn number_key_as_written(&self, path: &KeyPath) -> Option<String> {
        let Some(Seg::Key(key)) = path.0.last() else {
            return None;
        };
        key.parse::<f64>().ok()?;
        let at = locate(self.text, path, Spot::Key)?;
        key_written_at(self.text, at).filter(|w| w != key)
    }

    /// A schema error from [`super::tree`].
    pub fn de_error(&self, e: DeError) -> ScenarioError {
        let path = e.path.unwrap_or_default();
        match e.kind {
            DeErrorKind::UnknownKey { key, expected } => {
                let expected = if expected.is_empty() {
                    "this mapping takes no keys".to_string()
                } else {
                    format!("expected one of: {}", expected.join(", "))
                };
                let shown = self.number_key_as_written(&path.key(&key));
                self.error_at(
                    &path.key(&key),
                    Spot::Key,
                    &path,
                    format!("unknown key `{}`; {expected}", shown.unwrap_or(key)),
                )
            }
            DeErrorKind::MissingKey(key) => {
                self.value_error(&path, format!("missing required key `{key}`"))
            }
            DeErrorKind::Message(m) => self.value_error(&path, m),
        }
    }
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
