//! `leakhound demo`: a leak you can see in under a minute, with nothing but the binary.
//!
//! The scenario is scenarios/demo.yaml, built into the binary; its target is leakhound itself
//! started as the hidden `__demo-target` subcommand on a free loopback port.

pub mod server;

use std::path::Path;

use crate::scenario::{self, Overrides, Plan, ScenarioError, TargetProcess};

/// The demo scenario, the same file users can read in scenarios/.
pub const SCENARIO: &str = include_str!("../../scenarios/demo.yaml");

/// The demo plan, with the target pointed at `exe __demo-target` on `port`.
pub fn plan(exe: &Path, port: u16, clean: bool) -> Result<Plan, ScenarioError> {
    let overrides = Overrides {
        set: vec![
            format!("target.base_url=http://127.0.0.1:{port}"),
            format!("name={}", if clean { "demo-clean" } else { "demo" }),
        ],
        duration: None,
        rate: None,
    };
    let mut plan = scenario::parse(
        SCENARIO,
        "scenarios/demo.yaml (built in)",
        Path::new("."),
        &overrides,
    )?;
    let mut command = vec![
        exe.to_string_lossy().into_owned(),
        "__demo-target".to_string(),
        "--port".to_string(),
        port.to_string(),
    ];
    if clean {
        command.push("--clean".to_string());
    }
    plan.target.process = TargetProcess::Launch {
        command,
        cwd: None,
        env: Default::default(),
    };
    plan.source = None;
    Ok(plan)
}

/// A free loopback port (the OS picks one; it is free when this returns).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}
