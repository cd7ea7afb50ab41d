//! Reading named series out of a Prometheus text exposition page (parsed by the
//! `prometheus-parse` crate).
//!
//! A series is chosen by a selector: a metric name, optionally with exact label matches,
//! e.g. `nodejs_heap_space_size_used_bytes{space="old"}`. All samples that match are summed
//! (so `nodejs_heap_space_size_used_bytes` alone is the whole heap); the selector text as
//! written is the metric's name in the timeline.

use std::collections::BTreeMap;

use prometheus_parse::{Scrape, Value};

/// The series a restart detector watches when the page has it.
pub const START_TIME_SERIES: &str = "process_start_time_seconds";

/// A metric name with optional exact label matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// The text as written: the metric's name in the timeline.
    pub text: String,
    pub name: String,
    pub labels: Vec<(String, String)>,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let first_ok = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(first_ok)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

impl Selector {
    /// Parses `name` or `name{label="value",...}`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let (name, rest) = match text.split_once('{') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (text, None),
        };
        if !is_name(name, true) {
            return Err(format!(
                "`{text}` is not a Prometheus series name; use letters, digits, `_` and `:` \
                 (e.g. process_resident_memory_bytes), optionally with labels such as \
                 nodejs_heap_space_size_used_bytes{{space=\"old\"}}"
            ));
        }
        let mut labels = Vec::new();
        if let Some(rest) = rest {
            let Some(inner) = rest.strip_suffix('}') else {
                return Err(format!("`{text}` has no closing `}}`"));
            };
            for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let parsed = pair.split_once('=').and_then(|(k, v)| {
                    let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
                    is_name(k.trim(), false).then(|| (k.trim().to_string(), v.to_string()))
                });
                match parsed {
                    Some(kv) => labels.push(kv),
                    None => {
                        return Err(format!(
                            "`{text}`: the label match `{pair}` should read label=\"value\""
                        ))
                    }
                }
            }
        }
        Ok(Selector {
            text: text.to_string(),
            name: name.to_string(),
            labels,
        })
    }
}

/// The single number of a sample (histograms and summaries have none).
fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Counter(n) | Value::Gauge(n) | Value::Untyped(n) => Some(*n),
        Value::Histogram(_) | Value::Summary(_) => None,
    }
}

/// Reads each selector from exposition `text`: metric name -> bytes (sum of the matching
/// samples), and the page's `process_start_time_seconds` when present. A selector that
/// matches nothing is an error listing a few series the page does offer.
pub fn read_series(
    text: &str,
    series: &[Selector],
) -> Result<(BTreeMap<String, u64>, Option<f64>), String> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = Scrape::parse(lines).map_err(|e| format!("not Prometheus text: {e}"))?;
    let mut out = BTreeMap::new();
    for sel in series {
        let mut sum = None::<f64>;
        for s in scrape.samples.iter().filter(|s| s.metric == sel.name) {
            if !sel.labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)) {
                continue;
            }
            if let Some(n) = scalar(&s.value) {
                sum = Some(sum.unwrap_or(0.0) + n);
            }
        }
        match sum {
            Some(n) if n.is_finite() && n >= 0.0 => {
                out.insert(sel.text.clone(), n.round() as u64);
            }
            Some(n) => return Err(format!("series `{}` is {n}, not a size", sel.text)),
            None => return Err(missing(&scrape, sel)),
        }
    }
    let start = scrape
        .samples
        .iter()
        .find(|s| s.metric == START_TIME_SERIES)
        .and_then(|s| scalar(&s.value));
    Ok((out, start))
}

/// "no series `x`; the page has: a, b, c" with memory-looking names first.
fn missing(scrape: &Scrape, sel: &Selector) -> String {
    let mut names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    names.sort_by_key(|n| (!n.contains("bytes") && !n.contains("memory"), *n));
    names.dedup();
    let shown: Vec<&str> = names.iter().take(12).copied().collect();
    let more = if names.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    let what = if scrape.samples.iter().any(|s| s.metric == sel.name) {
        format!(
            "no sample of `{}` has the labels of `{}`",
            sel.name, sel.text
        )
    } else {
        format!("no series `{}`", sel.name)
    };
    if shown.is_empty() {
        format!("{what}; the page holds no series at all")
    } else {
        format!("{what}; the page has: {}{more}", shown.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "\
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 52428800
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000
# TYPE nodejs_heap_space_size_used_bytes gauge
nodejs_heap_space_size_used_bytes{space=\"old\"} 1000
nodejs_heap_space_size_used_bytes{space=\"new\"} 24
# TYPE http_requests_total counter
http_requests_total{code=\"200\"} 7
";

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap()
    }

    #[test]
    fn selectors_parse_names_and_label_matches() {
        let s = sel(r#"nodejs_heap_space_size_used_bytes{space="old", kind = "x"}"#);
        assert_eq!(s.name, "nodejs_heap_space_size_used_bytes");
        assert_eq!(
            s.labels,
            vec![("space".into(), "old".into()), ("kind".into(), "x".into())]
        );
        assert!(Selector::parse("9lives")
            .unwrap_err()
            .contains("not a Prometheus series name"));
        assert!(Selector::parse("a{b=c}")
            .unwrap_err()
            .contains("label=\"value\""));
        assert!(Selector::parse("a{b=\"c\"")
            .unwrap_err()
            .contains("closing"));
        assert_eq!(sel("ns:metric_bytes").labels, vec![]);
    }

    #[test]
    fn reads_sums_and_start_time() {
        let series = [
            sel("process_resident_memory_bytes"),
            sel("nodejs_heap_space_size_used_bytes"),
            sel(r#"nodejs_heap_space_size_used_bytes{space="old"}"#),
        ];
        let (m, start) = read_series(PAGE, &series).unwrap();
        assert_eq!(m["process_resident_memory_bytes"], 52_428_800);
        assert_eq!(m["nodejs_heap_space_size_used_bytes"], 1024);
        assert_eq!(m[r#"nodejs_heap_space_size_used_bytes{space="old"}"#], 1000);
        assert_eq!(start, Some(1_700_000_000.0));
    }

    #[test]
    fn a_missing_series_lists_what_the_page_has() {
        let e = read_series(PAGE, &[sel("nodejs_heap_size_used_bytes")]).unwrap_err();
        assert!(e.starts_with("no series `nodejs_heap_size_used_bytes`; the page has: nodejs_heap_space_size_used_bytes"), "{e}");
        let e = read_series(PAGE, &[sel(r#"http_requests_total{code="500"}"#)]).unwrap_err();
        assert!(
            e.contains("no sample of `http_requests_total` has the labels"),
            "{e}"
        );
        let e = read_series("", &[sel("x")]).unwrap_err();
        assert!(e.contains("holds no series"), "{e}");
    }
}
