//! Scenario files: YAML -> a validated, resolved [`Plan`].
//!
//! The pipeline: read the file (bounded) -> parse into a YAML tree (aliases bounded) -> apply
//! `--set` flags to the tree -> deserialize the [`schema`] while tracking key paths ->
//! [`resolve`] defaults and checks into a [`Plan`] -> apply `--duration` / `--rate`.
//! Errors point at `file:line:col` and the key path, or at the `--set` flag responsible.

mod depth;
pub mod describe;
pub mod error;
mod keys;
pub mod overrides;
pub mod plan;
pub mod resolve;
pub mod schema;
mod source;
pub mod template;
#[cfg(test)]
mod tests;
mod tree;

use std::io::Read;
use std::path::Path;

pub use describe::describe;
pub use error::{KeyPath, Loc, ScenarioError, MAX_SCENARIO_BYTES};
pub use overrides::Overrides;
pub use plan::*;

use source::Source;

/// For input that is longer than the limit but has no size of its own (`/dev/zero`, a pipe).
const ENDLESS_MSG: &str = "the file is larger than 1MiB (it did not end within the first 1MiB: \
                           is it a device or a pipe?); a scenario is a short YAML file — check \
                           that this is the right file";

/// Opens `path` for reading without waiting for a writer: opening a named pipe that nobody
/// writes to would otherwise hang `validate` for ever. Reads block again after the open, so a
/// pipe with a writer (`leakhound validate <(gen-scenario)`) is read as it comes, and one
/// without reads as empty.
fn open_without_blocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function owns, with flags it just read.
    let cleared = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) == 0
    };
    if !cleared {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}

/// Reads, parses and resolves the scenario at `path`; relative paths inside it (cwd, pid_file)
/// are resolved against the file's folder.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let read_err = |source: std::io::Error| ScenarioError::Read {
        path: path.to_path_buf(),
        reason: match source.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => source.to_string(),
        },
        source,
    };
    let origin = path.display().to_string();
    let file = open_without_blocking(path).map_err(read_err)?;
    // Read one byte past the limit, so a huge (or endless) file is never read whole.
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        // The metadata size is the real one for a regular file; a device or pipe reports 0
        // (or less than was read), and then the honest statement is only that it did not end.
        return Err(match std::fs::metadata(path).map(|m| m.len()) {
            Ok(size) if size >= bytes.len() as u64 => ScenarioError::TooLarge { origin, size },
            _ => ScenarioError::Yaml {
                origin,
                location: None,
                message: ENDLESS_MSG.to_string(),
            },
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ScenarioError::Yaml {
        origin: origin.clone(),
        location: None,
        message: format!(
            "the file is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Absolute, so the plan still points at the same files if the runner changes directory.
    let base_dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut plan = parse(&text, &origin, &base_dir, overrides)?;
    plan.source = Some(path.to_path_buf());
    Ok(plan)
}

/// Parses and resolves scenario text. `origin` names the file in errors; `base_dir` is the
/// folder relative paths are resolved against.
pub fn parse(
    text: &str,
    origin: &str,
    base_dir: &Path,
    overrides: &Overrides,
) -> Result<Plan, ScenarioError> {
    if text.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(ScenarioError::TooLarge {
            origin: origin.to_string(),
            size: text.len() as u64,
        });
    }
    let mut sets = overrides
        .set
        .iter()
        .map(|raw| overrides::parse_set(raw))
        .collect::<Result<Vec<_>, _>>()?;
    let bare = Source {
        origin,
        text,
        sets: &[],
    };
    let mut tree = source::parse_tree(text).map_err(|e| bare.tree_error(&e))?;
    if tree.is_null() && sets.is_empty() {
        return Err(ScenarioError::Yaml {
            origin: origin.to_string(),
            location: None,
            message: "the scenario is empty; start from an example in scenarios/".to_string(),
        });
    }
    for flag in &mut sets {
        overrides::apply_set(&mut tree, flag)?;
    }
    let src = Source {
        origin,
        text,
        sets: &sets,
    };
    let schema: schema::Scenario = tree::from_tree(&tree).map_err(|e| src.de_error(e))?;
    let mut plan = resolve::resolve(schema, &src, base_dir)?;
    overrides::apply_scaling(&mut plan, overrides)?;
    Ok(plan)
}

#[cfg(test)]
mod fuzz_tests;
