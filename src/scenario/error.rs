//! Scenario errors and the key paths they point at.
//!
//! Every error a user can cause names where to look: the file, line and column when known, the
//! key path (`load.phases[1].rate`), or the `--set` flag that caused it; and says how to fix it.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

/// Largest scenario file accepted; real scenarios are a few KiB.
pub const MAX_SCENARIO_BYTES: u64 = 1024 * 1024;

/// One step of a key path: a mapping key or a list index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where a value sits in the YAML tree, shown as `load.phases[1].rate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<Seg>);

impl KeyPath {
    pub fn root() -> KeyPath {
        KeyPath(Vec::new())
    }

    pub fn key(&self, k: &str) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> KeyPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn starts_with(&self, prefix: &KeyPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column in the scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
}

/// `file:line:col`, `file` when the place is unknown.
fn fmt_place(origin: &str, loc: &Option<Loc>) -> String {
    match loc {
        Some(l) => format!("{origin}:{}:{}", l.line, l.column),
        None => origin.to_string(),
    }
}

/// `key: ` or nothing for the whole document.
fn fmt_key(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

/// Why a scenario could not become a plan. Display is the message shown to the user.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file `{}`: {reason}", path.display())]
    Read {
        path: PathBuf,
        reason: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{origin}: the file is larger than 1MiB ({size} bytes); a scenario is a short YAML file — \
         check that this is the right file"
    )]
    TooLarge { origin: String, size: u64 },
    /// The text is not valid YAML, or expands too much.
    #[error("{}: {message}", fmt_place(origin, location))]
    Yaml {
        origin: String,
        location: Option<Loc>,
        message: String,
    },
    /// The YAML is valid but a key or value is wrong.
    #[error("{}: {}{message}", fmt_place(origin, location), fmt_key(key))]
    Invalid {
        origin: String,
        location: Option<Loc>,
        /// Key path such as `load.phases[1].rate`; empty for the whole document.
        key: String,
        message: String,
    },
    /// A `--set key=value` flag is malformed or produced a wrong value.
    #[error("--set {flag}: {}{message}", fmt_key(key))]
    Set {
        flag: String,
        key: String,
        message: String,
    },
    /// `--duration` or `--rate` cannot be applied.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}

impl ScenarioError {
    /// The line the error points at, when known (for tests and editors).
    pub fn line(&self) -> Option<usize> {
        match self {
            ScenarioError::Yaml { location, .. } | ScenarioError::Invalid { location, .. } => {
                location.map(|l| l.line)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_paths_read_like_the_yaml() {
        let p = KeyPath::root()
            .key("load")
            .key("phases")
            .index(1)
            .key("rate");
        assert_eq!(p.to_string(), "load.phases[1].rate");
        assert!(p.starts_with(&KeyPath::root().key("load")));
        assert!(!KeyPath::root().key("load").starts_with(&p));
        assert_eq!(KeyPath::root().to_string(), "");
    }

    #[test]
    fn invalid_error_shows_file_line_col_key() {
        let e = ScenarioError::Invalid {
            origin: "s.yaml".into(),
            location: Some(Loc {
                line: 9,
                column: 15,
            }),
            key: "load.phases[0].duration".into(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "s.yaml:9:15: load.phases[0].duration: bad");
        let e = ScenarioError::Invalid {
            origin: "s.yaml".into(),
            location: None,
            key: String::new(),
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "s.yaml: bad");
    }
}
