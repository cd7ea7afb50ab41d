//! Mapping keys a scenario may not have: the same key twice in one mapping, and a list or
//! mapping used as a key.
//!
//! The YAML tree refuses a duplicate itself, but its error is stamped with the start of the
//! mapping (line 1 for the top level), and a list key only fails later, on a tree without
//! positions. This pass walks the text with the real parser and fails on purpose at the
//! offending key, so the parser stamps the key's own line and column; a second walk fails at
//! the first occurrence of a duplicate, for "first on line N".

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;

use super::error::{KeyPath, Loc};

/// A key that cannot be in a scenario, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyProblem {
    /// The offending key (the second one, for a duplicate).
    pub at: Option<Loc>,
    /// Key path of the mapping that holds it.
    pub parent: KeyPath,
    pub kind: KeyProblemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum KeyProblemKind {
    /// The same key twice; `key` as the tree shows it, `first` where it first appears.
    Duplicate { key: String, first: Option<Loc> },
    /// A list (`true`) or mapping (`false`) used as a key.
    Complex { list: bool },
}

impl KeyProblem {
    /// The message for the user, without the place; `written` is the key as the file writes
    /// it, when that differs from the tree's form (`.0` for `0.0`).
    pub fn message(&self, written: Option<&str>) -> String {
        match &self.kind {
            KeyProblemKind::Duplicate { key, first } => {
                let key = written.unwrap_or(key);
                let first = first.map_or(String::new(), |f| format!(" (first on line {})", f.line));
                format!(
                    "key `{key}` appears twice in the same mapping{first}; a key may appear \
                     once: delete one of them, or merge their values"
                )
            }
            KeyProblemKind::Complex { list: true } => "a list (`[...]`) is used as a key; keys \
                 are plain text (`rate: 5`): remove the brackets, or quote the key if they \
                 belong to it"
                .to_string(),
            KeyProblemKind::Complex { list: false } => "a mapping (`{...}`) is used as a key; \
                 keys are plain text (`rate: 5`): remove the braces, or quote the key if they \
                 belong to it"
                .to_string(),
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.parent.is_root() {
            write!(f, "{}: ", self.parent)?;
        }
        f.write_str(&self.message(None))?;
        if let Some(at) = self.at {
            write!(f, " (line {} column {})", at.line, at.column)?;
        }
        Ok(())
    }
}

/// Whether any mapping in `tree` has a list or mapping as a key (cheap; no positions).
pub(crate) fn has_complex_key(tree: &Value) -> bool {
    match tree {
        Value::Sequence(items) => items.iter().any(has_complex_key),
        Value::Mapping(map) => map.iter().any(|(k, v)| {
            matches!(k, Value::Sequence(_) | Value::Mapping(_)) || has_complex_key(v)
        }),
        Value::Tagged(t) => has_complex_key(&t.value),
        _ => false,
    }
}

/// The scalar methods of a visitor that only descends into lists and mappings: a scalar (or
/// an empty document) is accepted and skipped.
macro_rules! skip_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
            Ok(())
        }
        fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_none<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    };
}
pub(crate) use skip_scalars;

/// Marker carried by the deliberate failure; a real error never contains a NUL.
const STOP: &str = "\u{0}bad key";

/// The first duplicate or list/mapping key in `text`, if any. Expects text the parser has
/// already read without error (and within the value budget); None if it fails otherwise.
pub(crate) fn bad_key(text: &str) -> Option<KeyProblem> {
    let (found, at) = walk(text, None)?;
    let (parent, mut kind, ordinal) = found?;
    if let KeyProblemKind::Duplicate { first, .. } = &mut kind {
        *first = walk(text, Some((&parent, ordinal))).and_then(|(_, at)| at);
    }
    Some(KeyProblem { at, parent, kind })
}

/// A bad key's mapping, kind and, for a duplicate, the ordinal of the first occurrence in
/// that mapping.
type Found = (KeyPath, KeyProblemKind, usize);

/// One walk over `text`: with no target, finds the first bad key; with a target (a mapping
/// and a key ordinal), fails at that key. None when the walk did not stop on purpose; else
/// what was found (nothing, for a targeted walk) and where the parser says it stopped.
fn walk(text: &str, target: Option<(&KeyPath, usize)>) -> Option<(Option<Found>, Option<Loc>)> {
    let found = RefCell::new(None);
    let walker = Walk {
        found: &found,
        target,
        path: KeyPath::root(),
    };
    let err = walker
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .err()?;
    if !err.to_string().contains(STOP) {
        return None;
    }
    let at = err.location().map(|l| Loc {
        line: l.line(),
        column: l.column(),
    });
    Some((found.into_inner(), at))
}

struct Walk<'a> {
    found: &'a RefCell<Option<Found>>,
    target: Option<(&'a KeyPath, usize)>,
    path: KeyPath,
}

impl Walk<'_> {
    fn child(&self, path: KeyPath) -> Self {
        Walk {
            found: self.found,
            target: self.target,
            path,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    skip_scalars!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(self.child(self.path.index(i)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Only the target mapping is checked by a targeted walk; elsewhere it just descends.
        let hit_at = match self.target {
            Some((p, n)) if *p == self.path => Some(n),
            _ => None,
        };
        let mut seen: HashMap<KeyId, usize> = HashMap::new();
        let mut ordinal = 0;
        loop {
            let seed = KeySeed {
                hit: hit_at == Some(ordinal),
                seen: self.target.is_none().then_some(&seen),
                found: self.found,
                path: &self.path,
            };
            let Some((id, shown)) = map.next_key_seed(seed)? else {
                return Ok(());
            };
            seen.insert(id, ordinal);
            map.next_value_seed(self.child(self.path.key(&shown)))?;
            ordinal += 1;
        }
    }
}

/// A key's identity as the YAML tree compares keys: `1`, `"1"` and `1.0` are three keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    Null,
    Bool(bool),
    Int(i128),
    /// Bits of the float, with every NaN alike and -0.0 as 0.0 (as the tree's equality has it).
    Float(u64),
    Str(String),
}

/// Reads one key: its identity and its text as the tree shows it. It fails on the key itself,
/// so the parser stamps the key's place: with `hit`, on any key; when checking (`seen`, the
/// mapping's keys so far with their ordinals), on a repeated key or a list or mapping key.
struct KeySeed<'a> {
    hit: bool,
    seen: Option<&'a HashMap<KeyId, usize>>,
    found: &'a RefCell<Option<Found>>,
    path: &'a KeyPath,
}

impl KeySeed<'_> {
    fn key<E: de::Error>(self, id: KeyId, shown: String) -> Result<(KeyId, String), E> {
        if self.hit {
            return Err(E::custom(STOP));
        }
        if let Some(&first) = self.seen.and_then(|seen| seen.get(&id)) {
            let kind = KeyProblemKind::Duplicate {
                key: shown,
                first: None,
            };
            *self.found.borrow_mut() = Some((self.path.clone(), kind, first));
            return Err(E::custom(STOP));
        }
        Ok((id, shown))
    }

    fn complex<E: de::Error>(self, list: bool) -> Result<(KeyId, String), E> {
        if self.hit || self.seen.is_some() {
            if !self.hit {
                let kind = KeyProblemKind::Complex { list };
                *self.found.borrow_mut() = Some((self.path.clone(), kind, 0));
            }
            return Err(E::custom(STOP));
        }
        // Unreachable after a checking walk found none; descend no further.
        Ok((KeyId::Null, String::new()))
    }
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = (KeyId, String);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = (KeyId, String);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.key(KeyId::Bool(v), v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.key(KeyId::Int(v.into()), v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.key(KeyId::Int(v.into()), v.to_string())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        self.key(KeyId::Int(v), v.to_string())
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        // Past i128 only if over 2^127: such a key is its own text.
        match i128::try_from(v) {
            Ok(i) => self.key(KeyId::Int(i), v.to_string()),
            Err(_) => self.key(KeyId::Str(v.to_string()), v.to_string()),
        }
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        let bits = if v.is_nan() {
            f64::NAN.to_bits()
        } else if v == 0.0 {
            0
        } else {
            v.to_bits()
        };
        // Shown as the tree shows it (`0.0`), so paths match the tree's.
        self.key(KeyId::Float(bits), serde_yaml::Number::from(v).to_string())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.key(KeyId::Str(v.to_string()), v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.key(KeyId::Null, "null".to_string())
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.key(KeyId::Null, "null".to_string())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let r = self.complex(true)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(r)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let r = self.complex(false)?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: usize, column: usize) -> Option<Loc> {
        Some(Loc { line, column })
    }

    fn dup(key: &str, first: Option<Loc>) -> KeyProblemKind {
        KeyProblemKind::Duplicate {
            key: key.to_string(),
            first,
        }
    }

    #[test]
    fn a_top_level_duplicate_is_found_at_its_own_line() {
        let p = bad_key("name: a\ntarget: {}\nname: b\n").unwrap();
        assert_eq!(p.at, loc(3, 1));
        assert!(p.parent.is_root());
        assert_eq!(p.kind, dup("name", loc(1, 1)));
    }

    #[test]
    fn a_nested_duplicate_names_its_mapping_and_both_lines() {
        let text = "name: a\nload:\n  phases:\n    - {name: s, rate: 1, name: t}\n  timeout: 1s\n";
        let p = bad_key(text).unwrap();
        assert_eq!(p.parent, KeyPath::root().key("load").key("phases").index(0));
        assert_eq!(p.at, loc(4, 26));
        assert_eq!(p.kind, dup("name", loc(4, 8)));
        let text = "load:\n  timeout: 1s\n  phases: []\n  timeout: 2s\n";
        let p = bad_key(text).unwrap();
        assert_eq!(p.parent, KeyPath::root().key("load"));
        assert_eq!((p.at, p.kind), (loc(4, 3), dup("timeout", loc(2, 3))));
    }

    #[test]
    fn keys_compare_as_the_tree_compares_them() {
        // Different keys to the tree: no problem.
        assert_eq!(
            bad_key("1: a\n'1': b\n1.0: c\ntrue: d\n'true': e\n~: f\n"),
            None
        );
        // The same number written two ways is one key.
        let p = bad_key("a: 1\n0x10: x\n16: y\n").unwrap();
        assert_eq!((p.at, p.kind), (loc(3, 1), dup("16", loc(2, 1))));
        // A duplicate in an anchor is a duplicate once, at the anchor.
        let p = bad_key("a: &x {k: 1, k: 2}\nb: *x\n").unwrap();
        assert_eq!(p.at, loc(1, 14));
        assert_eq!(bad_key("name: a\nload: {timeout: 1s}\n"), None);
    }

    #[test]
    fn lists_and_mappings_as_keys_are_found_at_the_key() {
        let p = bad_key("name: a\nload:\n  [a, b]: 1\n").unwrap();
        assert_eq!(p.at, loc(3, 3));
        assert_eq!(p.parent, KeyPath::root().key("load"));
        assert_eq!(p.kind, KeyProblemKind::Complex { list: true });
        let p = bad_key("name: a\n? {x: 1}\n: 2\n").unwrap();
        assert_eq!(p.at, loc(2, 3));
        assert_eq!(p.kind, KeyProblemKind::Complex { list: false });
        assert!(p
            .to_string()
            .contains("a mapping (`{...}`) is used as a key"));
    }

    #[test]
    fn messages_name_the_key_and_the_fix() {
        let p = bad_key("load:\n  timeout: 1s\n  timeout: 2s\n").unwrap();
        assert_eq!(
            p.to_string(),
            "load: key `timeout` appears twice in the same mapping (first on line 2); a key \
             may appear once: delete one of them, or merge their values (line 3 column 3)"
        );
        assert!(p.message(Some(".0")).contains("key `.0` appears twice"));
    }
}
