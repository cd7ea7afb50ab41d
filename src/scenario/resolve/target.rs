//! `target:` -> [`TargetPlan`]: the base URL, how the process is found, readiness.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use super::Result;
use crate::scenario::error::KeyPath;
use crate::scenario::plan::{Readiness, TargetPlan, TargetProcess};
use crate::scenario::schema::{self, Text};
use crate::scenario::source::Source;

/// Splits `http://host:port/prefix` into (normalised URL, host, port).
fn base_url(raw: &str) -> std::result::Result<(String, String, u16), String> {
    let raw = raw.trim();
    let Some((scheme, rest)) = raw.split_once("://") else {
        return Err(format!(
            "`{raw}` has no scheme; add http:// (e.g. http://{raw})"
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("`{raw}`: only http:// and https:// are supported")),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path.contains(['?', '#']) || authority.contains(['?', '#']) {
        return Err(format!(
            "`{raw}`: a base URL cannot have a query or fragment; put them in request paths"
        ));
    }
    if authority.contains('@') {
        return Err(format!(
            "`{raw}`: user:password@ is not supported; send credentials in a header"
        ));
    }
    let bad_port = |p: &str| format!("`{raw}`: `{p}` is not a port (1 to 65535)");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        // [::1]:3000
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| format!("`{raw}`: missing `]`"))?;
        match after.strip_prefix(':') {
            Some(p) => (
                host,
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad_port(p))?,
            ),
            None if after.is_empty() => (host, default_port),
            None => return Err(format!("`{raw}`: unexpected `{after}` after the host")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p > 0)
                    .ok_or_else(|| bad_port(p))?,
            ),
            None => (authority, default_port),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
    if !host_ok {
        return Err(format!(
            "`{raw}` has no valid host; use e.g. http://127.0.0.1:3000"
        ));
    }
    let shown_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let prefix = path.trim_end_matches('/');
    let url = format!("{scheme}://{shown_host}:{port}{prefix}");
    Ok((url, host.to_ascii_lowercase(), port))
}

/// `p` relative to the scenario's folder, with `.` segments removed.
pub(super) fn relative_to(base_dir: &Path, p: &str) -> PathBuf {
    base_dir
        .join(p)
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect()
}

pub(super) fn target(
    t: &schema::Target,
    src: &Source,
    at: &KeyPath,
    base_dir: &Path,
) -> Result<TargetPlan> {
    let (base_url, host, port) =
        base_url(&t.base_url.0).map_err(|m| src.value_error(&at.key("base_url"), m))?;
    let given: Vec<&str> = [
        ("command", t.command.is_some()),
        ("pid", t.pid.is_some()),
        ("pid_file", t.pid_file.is_some()),
    ]
    .iter()
    .filter(|(_, set)| *set)
    .map(|(k, _)| *k)
    .collect();
    if given.len() > 1 {
        return Err(src.key_error(
            &at.key(given[1]),
            format!(
                "use only one of `command` (start the process), `pid` or `pid_file` (attach to \
                 one); found `{}` and `{}`",
                given[0], given[1]
            ),
        ));
    }
    if t.command.is_none() {
        for (key, set) in [("cwd", t.cwd.is_some()), ("env", t.env.is_some())] {
            if set {
                return Err(src.key_error(
                    &at.key(key),
                    "only used with `target.command` (when leakhound starts the process); remove it",
                ));
            }
        }
    }
    let process = if let Some(cmd) = &t.command {
        if cmd.0.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(src.value_error(
                &at.key("command"),
                "needs the program and its arguments, e.g. [node, server.js]",
            ));
        }
        let env = t.env.as_ref().map(|e| e.0.clone()).unwrap_or_default();
        for (k, _) in &env {
            if k.is_empty() || k.contains(['=', '\0']) {
                return Err(src.key_error(
                    &at.key("env").key(k),
                    format!("`{k}` is not an environment variable name"),
                ));
            }
        }
        TargetProcess::Launch {
            command: cmd.0.clone(),
            cwd: t.cwd.as_ref().map(|c| relative_to(base_dir, &c.0)),
            env: env.into_iter().map(|(k, v)| (k, v.0)).collect(),
        }
    } else if let Some(pid) = t.pid {
        match u32::try_from(pid.0) {
            Ok(p) if p > 0 && p <= i32::MAX as u32 => TargetProcess::Pid { pid: p },
            _ => {
                return Err(src.value_error(
                    &at.key("pid"),
                    format!(
                        "`{}` is not a process id; use the number `pgrep` or `ps` shows",
                        pid.0
                    ),
                ))
            }
        }
    } else if let Some(file) = &t.pid_file {
        if file.0.trim().is_empty() {
            return Err(src.value_error(
                &at.key("pid_file"),
                "is empty; give the path of the file holding the PID",
            ));
        }
        TargetProcess::PidFile {
            path: relative_to(base_dir, &file.0),
        }
    } else {
        TargetProcess::None
    };
    let ready = t.ready.as_ref();
    let ready_at = at.key("ready");
    let path = match ready.and_then(|r| r.path.as_ref()) {
        Some(Text(p)) if !p.starts_with('/') => {
            return Err(src.value_error(
                &ready_at.key("path"),
                format!("`{p}` must start with `/`, e.g. /health"),
            ))
        }
        other => other.map(|t| t.0.clone()),
    };
    let timeout = match ready.and_then(|r| r.timeout.as_ref()) {
        Some(d) if d.value.is_zero() => {
            return Err(
                src.value_error(&ready_at.key("timeout"), "must be longer than 0s, e.g. 30s")
            )
        }
        Some(d) => d.value,
        None => Duration::from_secs(30),
    };
    Ok(TargetPlan {
        base_url,
        host,
        port,
        process,
        ready: Readiness { path, timeout },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("http://127.0.0.1:3000/").unwrap(),
            ("http://127.0.0.1:3000".into(), "127.0.0.1".into(), 3000)
        );
        assert_eq!(
            base_url("HTTPS://Example.com").unwrap(),
            ("https://Example.com:443".into(), "example.com".into(), 443)
        );
        assert_eq!(
            base_url("http://localhost/api/").unwrap().0,
            "http://localhost:80/api"
        );
        assert_eq!(
            base_url("http://[::1]:8080").unwrap(),
            ("http://[::1]:8080".into(), "::1".into(), 8080)
        );
        let e = base_url("127.0.0.1:3000").unwrap_err();
        assert!(
            e.contains("add http://") && e.contains("http://127.0.0.1:3000"),
            "{e}"
        );
        assert!(base_url("ftp://x").unwrap_err().contains("only http"));
        assert!(base_url("http://:80")
            .unwrap_err()
            .contains("no valid host"));
        assert!(base_url("http://h:0").unwrap_err().contains("not a port"));
        assert!(base_url("http://h:99999")
            .unwrap_err()
            .contains("not a port"));
        assert!(base_url("http://u:p@h")
            .unwrap_err()
            .contains("user:password"));
        assert!(base_url("http://h/?q=1").unwrap_err().contains("query"));
    }

    #[test]
    fn relative_paths_join_the_scenario_folder() {
        assert_eq!(
            relative_to(Path::new("/s"), "./app"),
            PathBuf::from("/s/app")
        );
        assert_eq!(
            relative_to(Path::new("/s"), "/abs/app"),
            PathBuf::from("/abs/app")
        );
    }
}
