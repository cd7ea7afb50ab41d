//! Turning the inspector on for a launched `node` target and finding the port it chose.
//!
//! leakhound adds `--inspect=127.0.0.1:0` (port 0: the OS picks a free one, so parallel runs
//! never collide) and Node announces the result on stderr:
//! `Debugger listening on ws://127.0.0.1:PORT/UUID`. The target's stderr goes to `target.log`,
//! so [`wait_for_endpoint_in_log`] polls that file.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use super::error::InspectError;

/// The flag leakhound adds: loopback only, any free port.
pub const INSPECT_FLAG: &str = "--inspect=127.0.0.1:0";

/// Where a V8 inspector listens, as announced by Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebuggerEndpoint {
    /// `ws://127.0.0.1:PORT/UUID`: connect with [`super::InspectorClient::connect_ws`].
    pub ws_url: String,
    /// `127.0.0.1:PORT`: connect with [`super::InspectorClient::connect`].
    pub addr: String,
    pub port: u16,
}

/// Is `program` a Node binary (`node`, `nodejs`, `/usr/bin/node`, `node20`)?
pub fn is_node(program: &str) -> bool {
    let base = Path::new(program)
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or(program);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    base == "nodejs"
        || base
            .strip_prefix("node")
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// `command` with [`INSPECT_FLAG`] after the node binary, or None when the program is not
/// `node` (then set `NODE_OPTIONS`, see [`node_options_with_inspect`]). A command that already
/// has an `--inspect*` flag before the script is returned unchanged.
pub fn with_inspect_flag(command: &[String]) -> Option<Vec<String>> {
    let (program, args) = command.split_first()?;
    if !is_node(program) {
        return None;
    }
    // Node's own options come before the script; anything after it belongs to the script.
    let node_opts = args.iter().take_while(|a| a.starts_with('-'));
    if node_opts.clone().any(|a| a.starts_with("--inspect")) {
        return Some(command.to_vec());
    }
    let mut out = Vec::with_capacity(command.len() + 1);
    out.push(program.clone());
    out.push(INSPECT_FLAG.to_string());
    out.extend(args.iter().cloned());
    Some(out)
}

/// `NODE_OPTIONS` with [`INSPECT_FLAG`] added, for commands that start node indirectly
/// (`npm start`). Every node process in the tree then opens its own inspector.
pub fn node_options_with_inspect(existing: Option<&str>) -> String {
    match existing.map(str::trim).filter(|s| !s.is_empty()) {
        Some(opts) if opts.contains("--inspect") => opts.to_string(),
        Some(opts) => format!("{opts} {INSPECT_FLAG}"),
        None => INSPECT_FLAG.to_string(),
    }
}

/// Parses Node's `Debugger listening on ws://HOST:PORT/UUID` line.
pub fn parse_debugger_line(line: &str) -> Option<DebuggerEndpoint> {
    let at = line.find("Debugger listening on ")?;
    let url = line[at + "Debugger listening on ".len()..]
        .split_whitespace()
        .next()?;
    let addr = super::cdp::ws_hostport(url)?;
    let port = addr.rsplit_once(':')?.1.parse().ok()?;
    Some(DebuggerEndpoint {
        ws_url: url.to_string(),
        addr: addr.to_string(),
        port,
    })
}

/// The first endpoint announced in `text` (e.g. a target's stderr so far).
pub fn find_debugger_endpoint(text: &str) -> Option<DebuggerEndpoint> {
    text.lines().find_map(parse_debugger_line)
}

/// Polls `log` (the target's stdout+stderr file) from byte `from` until Node announces its
/// inspector, for at most `timeout`. `from` lets a restarted target's new line be found.
pub fn wait_for_endpoint_in_log(
    log: &Path,
    from: u64,
    timeout: Duration,
) -> Result<DebuggerEndpoint, InspectError> {
    let started = Instant::now();
    loop {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(log) {
            // The line comes first thing at startup: 1 MiB is plenty.
            if f.seek(SeekFrom::Start(from)).is_ok() {
                let mut buf = Vec::new();
                let _ = f.take(1 << 20).read_to_end(&mut buf);
                text = String::from_utf8_lossy(&buf).into_owned();
            }
        }
        if let Some(ep) = find_debugger_endpoint(&text) {
            return Ok(ep);
        }
        if started.elapsed() >= timeout {
            return Err(InspectError::Discovery {
                addr: log.display().to_string(),
                detail: format!(
                    "no \"Debugger listening on ws://...\" line within {timeout:?} \
                     (is the target a node process started with {INSPECT_FLAG}?)"
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_flag_goes_after_node_and_before_the_script() {
        assert_eq!(
            with_inspect_flag(&v(&["node", "--max-semi-space-size=1", "server.js", "--x"])),
            Some(v(&[
                "node",
                INSPECT_FLAG,
                "--max-semi-space-size=1",
                "server.js",
                "--x"
            ]))
        );
        assert_eq!(
            with_inspect_flag(&v(&["/usr/local/bin/node", "a.js"])).unwrap()[1],
            INSPECT_FLAG
        );
        // Already inspecting: unchanged. A script argument named --inspect is not node's.
        let has = v(&["node", "--inspect=9229", "a.js"]);
        assert_eq!(with_inspect_flag(&has), Some(has.clone()));
        assert_eq!(
            with_inspect_flag(&v(&["node", "a.js", "--inspect"])).unwrap()[1],
            INSPECT_FLAG
        );
        assert_eq!(with_inspect_flag(&v(&["npm", "start"])), None);
        assert_eq!(with_inspect_flag(&v(&["nodemon", "a.js"])), None);
        assert_eq!(with_inspect_flag(&[]), None);
    }

    #[test]
    fn node_options_get_the_flag_once() {
        assert_eq!(node_options_with_inspect(None), INSPECT_FLAG);
        assert_eq!(
            node_options_with_inspect(Some("--max-semi-space-size=1")),
            format!("--max-semi-space-size=1 {INSPECT_FLAG}")
        );
        assert_eq!(
            node_options_with_inspect(Some("--inspect=0")),
            "--inspect=0"
        );
    }

    #[test]
    fn the_debugger_line_gives_url_and_port() {
        let line =
            "Debugger listening on ws://127.0.0.1:40113/9e1c7a3e-3f1d-4d2b-a1a5-0f6d1b2c3d4e";
        let ep = parse_debugger_line(line).unwrap();
        assert_eq!(ep.port, 40113);
        assert_eq!(ep.addr, "127.0.0.1:40113");
        assert!(ep.ws_url.ends_with("0f6d1b2c3d4e"));
        let log = "listener-leak listening on http://127.0.0.1:3101\nFor help, see: https://nodejs.org/en/docs/inspector\n";
        assert_eq!(find_debugger_endpoint(log), None);
        let log2 = format!("{log}{line}\n");
        assert_eq!(find_debugger_endpoint(&log2).unwrap().port, 40113);
        assert_eq!(parse_debugger_line("Debugger listening on nowhere"), None);
    }

    #[test]
    fn the_log_is_polled_until_the_line_appears() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("target.log");
        std::fs::write(
            &log,
            "old run: Debugger listening on ws://127.0.0.1:1111/a\n",
        )
        .unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        let writer_log = log.clone();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let mut s = std::fs::read_to_string(&writer_log).unwrap();
            s.push_str("Debugger listening on ws://127.0.0.1:2222/b\n");
            std::fs::write(&writer_log, s).unwrap();
        });
        let ep = wait_for_endpoint_in_log(&log, from, Duration::from_secs(5)).unwrap();
        assert_eq!(ep.port, 2222);
        writer.join().unwrap();
        let missing = dir.path().join("none.log");
        assert!(wait_for_endpoint_in_log(&missing, 0, Duration::from_millis(100)).is_err());
    }
}
