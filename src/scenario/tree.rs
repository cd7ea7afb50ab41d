//! Deserializes the schema from a YAML tree while tracking the key path of every value.
//!
//! `serde_yaml::from_value` reports errors without saying where they are. This small
//! deserializer over `&Value` records the key path (`load.phases[1].rate`) of the innermost
//! value that failed and keeps unknown and missing keys as structured errors, so messages can
//! say "unknown key `ratee`; expected one of: ..." and point at the line.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Expected, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_yaml::Value;

use super::error::KeyPath;

/// A schema error and where it happened.
#[derive(Debug, PartialEq)]
pub(crate) struct DeError {
    /// Key path of the value that failed (of the mapping, for unknown and missing keys).
    pub path: Option<KeyPath>,
    pub kind: DeErrorKind,
}

#[derive(Debug, PartialEq)]
pub(crate) enum DeErrorKind {
    UnknownKey {
        key: String,
        expected: &'static [&'static str],
    },
    MissingKey(&'static str),
    Message(String),
}

impl DeError {
    fn msg(m: String) -> DeError {
        DeError {
            path: None,
            kind: DeErrorKind::Message(m),
        }
    }

    /// Records `path` unless a deeper value already did.
    fn at(mut self, path: &KeyPath) -> DeError {
        if self.path.is_none() {
            self.path = Some(path.clone());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DeErrorKind::UnknownKey { key, .. } => write!(f, "unknown key `{key}`"),
            DeErrorKind::MissingKey(k) => write!(f, "missing required key `{k}`"),
            DeErrorKind::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

/// Words a YAML user knows, instead of Rust type names.
fn expected_text(exp: &dyn Expected) -> String {
    let s = exp.to_string();
    match s.as_str() {
        _ if s.starts_with("struct ") => "a mapping (key: value lines)".to_string(),
        "a map" => "a mapping (key: value lines)".to_string(),
        "a sequence" => "a list".to_string(),
        "a string" => "text".to_string(),
        "a boolean" => "true or false".to_string(),
        "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        _ => s,
    }
}

fn unexpected_text(u: &Unexpected) -> String {
    match u {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n}"),
        Unexpected::Str(s) => format!("the text `{s}`"),
        Unexpected::Unit => "an empty value".to_string(),
        Unexpected::Seq => "a list".to_string(),
        Unexpected::Map => "a mapping".to_string(),
        other => other.to_string(),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::msg(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected, exp: &dyn Expected) -> Self {
        DeError::msg(format!(
            "expected {}, found {}",
            expected_text(exp),
            unexpected_text(&unexp)
        ))
    }
    fn invalid_value(unexp: Unexpected, exp: &dyn Expected) -> Self {
        DeError::msg(format!(
            "{} is not allowed here; expected {}",
            unexpected_text(&unexp),
            expected_text(exp)
        ))
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError {
            path: None,
            kind: DeErrorKind::UnknownKey {
                key: field.to_string(),
                expected,
            },
        }
    }
    fn missing_field(field: &'static str) -> Self {
        DeError {
            path: None,
            kind: DeErrorKind::MissingKey(field),
        }
    }
    fn duplicate_field(field: &'static str) -> Self {
        DeError::msg(format!("key `{field}` appears twice; keep one"))
    }
}

/// Deserializes `T` from `tree`, reporting the key path of any failure.
pub(crate) fn from_tree<T: DeserializeOwned>(tree: &Value) -> Result<T, DeError> {
    let root = KeyPath::root();
    T::deserialize(ValueDe {
        v: tree,
        path: &root,
    })
    .map_err(|e| e.at(&root))
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, f) => Unexpected::Float(f.unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Sequence(_) => Unexpected::Seq,
        Value::Mapping(_) => Unexpected::Map,
        Value::Tagged(_) => Unexpected::Other("a tagged value"),
    }
}

/// A mapping key as text: scenarios only use plain keys.
fn key_text(k: &Value) -> Option<String> {
    match k {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_string()),
        _ => None,
    }
}

struct ValueDe<'a> {
    v: &'a Value,
    path: &'a KeyPath,
}

impl<'de> de::Deserializer<'de> for ValueDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path;
        match self.v {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, f) => visitor.visit_f64(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Sequence(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
                path,
            }),
            Value::Mapping(m) => visitor.visit_map(MapDe {
                entries: m.iter(),
                pending: None,
                path,
            }),
            Value::Tagged(_) => Err(de::Error::custom(
                "YAML tags (`!name`) are not supported in scenarios; remove the tag",
            )),
        }
        .map_err(|e| e.at(path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let path = self.path;
        match self.v {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        // Serde would also accept a list for a struct (fields by position); YAML users never mean that.
        match self.v {
            Value::Mapping(_) => self.deserialize_any(visitor),
            other => {
                Err(<DeError as de::Error>::invalid_type(unexpected(other), &visitor).at(self.path))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map enum identifier
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
    path: &'a KeyPath,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(v) = self.items.next() else {
            return Ok(None);
        };
        let path = self.path.index(self.index);
        self.index += 1;
        seed.deserialize(ValueDe { v, path: &path })
            .map(Some)
            .map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: serde_yaml::mapping::Iter<'a>,
    /// The value of the key just read, with its key text.
    pending: Option<(String, &'a Value)>,
    path: &'a KeyPath,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        let name = key_text(k).ok_or_else(|| {
            DeError::msg("a key must be plain text, not a list or mapping".to_string())
                .at(self.path)
        })?;
        let key = seed
            .deserialize(de::value::StrDeserializer::<DeError>::new(&name))
            .map_err(|e| e.at(self.path))?;
        self.pending = Some((name, v));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((name, v)) = self.pending.take() else {
            return Err(DeError::msg(
                "internal: value requested before its key".to_string(),
            ));
        };
        let path = self.path.key(&name);
        seed.deserialize(ValueDe { v, path: &path })
            .map_err(|e| e.at(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Phase {
        name: Option<String>,
        rate: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        phases: Vec<Phase>,
        label: Option<String>,
    }

    fn tree(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn unknown_key_names_the_mapping_path() {
        let e = from_tree::<Doc>(&tree("phases:\n  - {rate: 1}\n  - {ratee: 2}\n")).unwrap_err();
        assert_eq!(e.path.unwrap().to_string(), "phases[1]");
        assert_eq!(
            e.kind,
            DeErrorKind::UnknownKey {
                key: "ratee".into(),
                expected: &["name", "rate"]
            }
        );
    }

    #[test]
    fn wrong_type_names_the_value_path_in_yaml_words() {
        let e = from_tree::<Doc>(&tree("phases:\n  - {rate: fast}\n")).unwrap_err();
        assert_eq!(e.path.as_ref().unwrap().to_string(), "phases[0].rate");
        assert_eq!(
            e.to_string(),
            "expected a whole number, found the text `fast`"
        );
        let e = from_tree::<Doc>(&tree("phases: {rate: 1}\n")).unwrap_err();
        assert_eq!(e.to_string(), "expected a list, found a mapping");
    }

    #[test]
    fn missing_key_names_its_mapping() {
        let e = from_tree::<Doc>(&tree("phases:\n  - {name: a}\n")).unwrap_err();
        assert_eq!(e.path.unwrap().to_string(), "phases[0]");
        assert_eq!(e.kind, DeErrorKind::MissingKey("rate"));
        let e = from_tree::<Doc>(&tree("label: x\n")).unwrap_err();
        assert!(e.path.unwrap().is_root());
    }

    #[test]
    fn a_list_is_not_a_struct_and_null_is_none() {
        let e = from_tree::<Doc>(&tree("phases:\n  - [a, 1]\n")).unwrap_err();
        assert_eq!(e.path.unwrap().to_string(), "phases[0]");
        let d = from_tree::<Doc>(&tree("phases: []\nlabel:\n")).unwrap();
        assert!(d.label.is_none());
    }
}
