//! The `inspector` memory source in a scenario: `- inspector` or `- inspector: {connect:
//! HOST:PORT, gc_every: N, snapshots: [after_warmup, mid, end]}`, with the defaults for a
//! node target leakhound launches.

use std::time::Duration;

use super::super::error::KeyPath;
use super::super::plan::SourcePlan;
use super::super::schema::{InspectorOptions, Text, Whole};
use super::super::source::Source;
use super::Result;
use crate::memory::heap::SNAPSHOT_POINTS;
use crate::memory::inspector::default_gc_every;

/// Most samples between forced GCs a scenario may ask for.
const MAX_GC_EVERY: u64 = 10_000;

/// `- inspector: {connect, gc_every, snapshots}`; `at` is the options' own path.
pub(super) fn inspector(
    o: &InspectorOptions,
    interval: Duration,
    src: &Source,
    at: &KeyPath,
) -> Result<SourcePlan> {
    let connect = match &o.connect {
        None => None,
        Some(Text(c)) => {
            let c = c.trim();
            let hostport = c.strip_prefix("ws://").map_or(Some(c), |rest| {
                rest.split('/').next().filter(|h| !h.is_empty())
            });
            let ok = hostport
                .and_then(|h| h.rsplit_once(':'))
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !ok {
                return Err(src.value_error(
                    &at.key("connect"),
                    format!(
                        "`{c}` is not an inspector address; write HOST:PORT (e.g. \
                         127.0.0.1:9229) or the ws://HOST:PORT/ID URL node prints"
                    ),
                ));
            }
            Some(c.to_string())
        }
    };
    let gc_every = match o.gc_every {
        None => default_gc_every(interval),
        Some(Whole(n)) if n <= MAX_GC_EVERY => n as u32,
        Some(Whole(n)) => {
            return Err(src.value_error(
                &at.key("gc_every"),
                format!(
                    "`{n}` is too large; force a GC every 1 to {MAX_GC_EVERY} samples, or 0 \
                     for never"
                ),
            ))
        }
    };
    let mut snapshots: Vec<String> = Vec::new();
    match &o.snapshots {
        None => snapshots.extend(SNAPSHOT_POINTS.iter().map(|s| s.to_string())),
        Some(list) => {
            for (i, Text(name)) in list.iter().enumerate() {
                let label = name.trim().replace('_', "-");
                if !SNAPSHOT_POINTS.contains(&label.as_str()) {
                    return Err(src.value_error(
                        &at.key("snapshots").index(i),
                        format!(
                            "unknown snapshot point `{name}`; use after_warmup, mid, end (or \
                             `snapshots: []` for none)"
                        ),
                    ));
                }
                if snapshots.contains(&label) {
                    return Err(src.value_error(
                        &at.key("snapshots").index(i),
                        format!("`{name}` is listed twice"),
                    ));
                }
                snapshots.push(label);
            }
        }
    }
    Ok(SourcePlan::Inspector {
        connect,
        gc_every,
        snapshots,
    })
}
