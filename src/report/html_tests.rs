//! report.html tests: escaping, quoting, and a rendered page that is self-contained and
//! carries the verdict, every endpoint, threshold and phase.

use super::*;

#[test]
fn shell_quoting() {
    assert_eq!(shell_quote("leakhound"), "leakhound");
    assert_eq!(shell_quote("--set"), "--set");
    assert_eq!(
        shell_quote("target.base_url=http://127.0.0.1:4000"),
        "target.base_url=http://127.0.0.1:4000"
    );
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
    assert_eq!(shell_quote(""), "''");
}

#[test]
fn inline_svg_drops_the_namespace_url() {
    let svg = r#"<svg width="10" height="10" viewBox="0 0 10 10" xmlns="http://www.w3.org/2000/svg"><rect/></svg>"#;
    let out = inline_svg(svg);
    assert!(!out.contains("http"), "{out}");
    assert!(out.starts_with(r#"<svg width="10""#));
}

/// Anything in the page that a browser could fetch, or any URL that is not loopback.
pub(crate) fn external_refs(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase().replace("&#x2f;", "/");
    let mut found = Vec::new();
    for needle in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", " src=",
        " href=", "srcset=",
    ] {
        if lower.contains(needle) {
            found.push(needle.to_string());
        }
    }
    for scheme in ["http:", "https:", "ftp:", "ws:", "wss:", "file:", "data:"] {
        for (i, _) in lower.match_indices(scheme) {
            // `profile:` is not `file:`: a scheme starts a word.
            if lower[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            {
                continue;
            }
            let rest = &lower[i + scheme.len()..];
            let loopback = ["//127.0.0.1", "//localhost", "//[::1]"]
                .iter()
                .any(|h| rest.starts_with(h));
            if !(scheme == "http:" && loopback) {
                found.push(lower[i..(i + 40).min(lower.len())].to_string());
            }
        }
    }
    found
}

/// The text as minijinja's HTML escaping writes it.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[test]
fn external_refs_catches_fetches_and_urls() {
    assert!(
        external_refs("<p>http:&#x2f;&#x2f;127.0.0.1:3000</p><svg width=\"1\"></svg>").is_empty()
    );
    assert_eq!(external_refs("<img src=\"x.png\">").len(), 2);
    assert_eq!(external_refs("see https://example.com").len(), 1);
    assert!(external_refs("memory profile: leak-hunt").is_empty());
    assert_eq!(external_refs("<style>@import 'a.css'</style>").len(), 1);
}

#[test]
fn report_html_is_self_contained_and_says_what_matters() {
    use crate::report::plots::synthetic::Synthetic;
    let record = Synthetic {
        event: true,
        ..Synthetic::default()
    }
    .record()
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (analysis, summary) = crate::report::write_folder(dir.path(), &record).unwrap();
    let page = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert_eq!(external_refs(&page), Vec::<String>::new());
    assert_eq!(
        analysis.leak.verdict,
        Verdict::Leak,
        "{}",
        analysis.leak.reason
    );
    let headline = format!(
        "Memory grows with requests: {} per request",
        signed_size(analysis.leak.bytes_per_request.estimate)
    );
    assert!(
        page.contains(&headline),
        "{headline}: {}",
        analysis.leak.reason
    );
    assert!(
        page.contains(&esc(&analysis.leak.reason)),
        "reason sentence"
    );
    assert!(page.contains("What to do next"));
    assert_eq!(page.matches("<svg ").count(), 4, "four inline plots");
    for e in &record.timeline.endpoints {
        assert!(page.contains(&format!("<td>{e}</td>")), "endpoint {e}");
        // The synthetic mix never varies: no endpoint can be attributed, none shows a figure.
        let row = page.split(&format!("<tr><td>{e}</td>")).nth(1).unwrap();
        let row = &row[..row.find("</tr>").unwrap()];
        if !analysis.leak.endpoints.get(e).is_some_and(|a| a.attributed) {
            assert!(row.ends_with("<td class=\"v-—\">—</td>"), "{row}");
        }
    }
    for t in &summary.thresholds {
        assert!(
            page.contains(&format!("<td>{}</td>", t.name)),
            "threshold {}",
            t.name
        );
    }
    assert!(page.contains(r#"<td class="fail">FAIL</td>"#));
    for p in ["warmup", "soak", "rest"] {
        assert!(page.contains(&format!("<tr><td>{p}")), "phase {p}");
    }
    assert!(page.contains("target_restarted"), "event table");
    assert!(
        page.contains("leakhound run synthetic.yaml"),
        "reproduce command"
    );
    assert!(page.contains("leakhound report "), "re-render command");
    let md = std::fs::read_to_string(dir.path().join("summary.md")).unwrap();
    assert!(
        md.contains("![memory vs requests](memory-vs-requests.png)"),
        "{md}"
    );
}

#[test]
fn templates_compile_and_escape() {
    let env = templates().unwrap();
    let t = env.template_from_named_str("x.html", "{{ v }}").unwrap();
    let out = t.render(minijinja::context! { v => "<script>" }).unwrap();
    assert_eq!(out, "&lt;script&gt;");
}
