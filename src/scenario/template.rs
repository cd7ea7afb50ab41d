//! Request templates: `{{seq}}`, `{{uuid}}` and `{{rand N}}` expanded per request.
//!
//! A template is parsed once when the scenario is loaded, so rendering on the hot path is a
//! walk over pre-split parts with no parsing and, for static text, no allocation.

use std::fmt::Write as _;

use rand::Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The variables a template may use, shown in error messages.
pub const KNOWN_VARIABLES: &str = "{{seq}}, {{uuid}}, {{rand N}}";

#[derive(Debug, Error, PartialEq)]
pub enum TemplateError {
    #[error("unknown template variable `{{{{{0}}}}}`; known: {KNOWN_VARIABLES}")]
    Unknown(String),
    #[error("`{{{{rand N}}}}` needs a whole number N >= 1, got `{0}`")]
    BadRand(String),
    #[error("`{{{{` without a closing `}}}}`")]
    Unclosed,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    /// The request's sequence number in the run (0, 1, 2, ...).
    Seq,
    /// A random version 4 UUID.
    Uuid,
    /// A uniform random integer in 0..N.
    Rand(u64),
}

/// A parsed template; serialises as the text the user wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    raw: String,
    parts: Vec<Part>,
}

impl Template {
    pub fn parse(raw: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = raw;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
            parts.push(parse_variable(after[..close].trim())?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            raw: raw.to_string(),
            parts,
        })
    }

    /// The text as written in the scenario.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// True when the template has no variables: render once and reuse.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// Appends the expansion for request number `seq` to `out`.
    pub fn render(&self, seq: u64, rng: &mut impl Rng, out: &mut String) {
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                // Writing to a String cannot fail.
                Part::Seq => {
                    let _ = write!(out, "{seq}");
                }
                Part::Uuid => {
                    let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                    let _ = write!(out, "{}", id.hyphenated());
                }
                Part::Rand(n) => {
                    let _ = write!(out, "{}", rng.random_range(0..*n));
                }
            }
        }
    }

    /// Convenience for tests and one-off rendering.
    pub fn render_to_string(&self, seq: u64, rng: &mut impl Rng) -> String {
        let mut s = String::with_capacity(self.raw.len() + 16);
        self.render(seq, rng, &mut s);
        s
    }
}

fn parse_variable(inner: &str) -> Result<Part, TemplateError> {
    let mut words = inner.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("seq"), None, _) => Ok(Part::Seq),
        (Some("uuid"), None, _) => Ok(Part::Uuid),
        (Some("rand"), Some(n), None) => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Part::Rand(n)),
            _ => Err(TemplateError::BadRand(n.to_string())),
        },
        (Some("rand"), None, _) => Err(TemplateError::BadRand(String::new())),
        _ => Err(TemplateError::Unknown(inner.to_string())),
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Template::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn rng() -> SmallRng {
        SmallRng::seed_from_u64(7)
    }

    #[test]
    fn expands_seq_and_keeps_text() {
        let t = Template::parse("/process?id={{seq}}&x=1").unwrap();
        assert!(!t.is_static());
        assert_eq!(t.render_to_string(42, &mut rng()), "/process?id=42&x=1");
    }

    #[test]
    fn static_text_is_static() {
        let t = Template::parse("/health").unwrap();
        assert!(t.is_static());
        assert_eq!(t.render_to_string(1, &mut rng()), "/health");
    }

    #[test]
    fn uuid_is_a_v4_uuid_and_varies() {
        let t = Template::parse("{{ uuid }}").unwrap();
        let mut r = rng();
        let a = t.render_to_string(0, &mut r);
        let b = t.render_to_string(0, &mut r);
        let parsed = uuid::Uuid::parse_str(&a).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(a, b);
    }

    #[test]
    fn rand_stays_below_n() {
        let t = Template::parse("{{rand 10}}").unwrap();
        let mut r = rng();
        let seen: std::collections::BTreeSet<u64> = (0..500)
            .map(|_| t.render_to_string(0, &mut r).parse().unwrap())
            .collect();
        assert!(seen.iter().all(|&v| v < 10));
        assert_eq!(seen.len(), 10, "500 draws should hit every value of 0..10");
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            Template::parse("/u/{{user}}"),
            Err(TemplateError::Unknown("user".into()))
        );
        assert_eq!(
            Template::parse("{{rand 0}}"),
            Err(TemplateError::BadRand("0".into()))
        );
        assert_eq!(
            Template::parse("{{rand x}}"),
            Err(TemplateError::BadRand("x".into()))
        );
        assert_eq!(Template::parse("/a/{{seq"), Err(TemplateError::Unclosed));
        let msg = TemplateError::Unknown("user".into()).to_string();
        assert!(msg.contains("`{{user}}`"), "{msg}");
    }
}
