//! Unit tests for [`super`]: locating keys and values, the value budget, second documents,
//! nesting depth, tags and bad keys.

use super::*;

const TEXT: &str = "\
name: x
load:
  phases:
    - {name: a, duration: 1s}
    - name: b
      duration: 5 minutes
";

fn p(segs: &[Seg]) -> KeyPath {
    KeyPath(segs.to_vec())
}

fn k(s: &str) -> Seg {
    Seg::Key(s.to_string())
}

#[test]
fn locates_values_and_keys() {
    let dur1 = p(&[k("load"), k("phases"), Seg::Index(1), k("duration")]);
    assert_eq!(
        locate(TEXT, &dur1, Spot::Value),
        Some(Loc {
            line: 6,
            column: 17
        })
    );
    assert_eq!(
        locate(TEXT, &dur1, Spot::Key),
        Some(Loc { line: 6, column: 7 })
    );
    let dur0 = p(&[k("load"), k("phases"), Seg::Index(0), k("duration")]);
    assert_eq!(
        locate(TEXT, &dur0, Spot::Value),
        Some(Loc {
            line: 4,
            column: 27
        })
    );
    assert_eq!(
        locate(TEXT, &p(&[k("name")]), Spot::Value),
        Some(Loc { line: 1, column: 7 })
    );
}

#[test]
fn missing_paths_have_no_location() {
    let missing = p(&[k("load"), k("phases"), Seg::Index(5)]);
    assert_eq!(locate(TEXT, &missing, Spot::Value), None);
    assert_eq!(locate(TEXT, &p(&[k("nope")]), Spot::Key), None);
    assert_eq!(
        locate(TEXT, &p(&[k("name"), k("deeper")]), Spot::Value),
        None
    );
}

#[test]
fn billion_laughs_fails_fast_with_a_clear_message() {
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let names: Vec<String> = (b'b'..=b'k').map(|c| (c as char).to_string()).collect();
    let mut prev = "a".to_string();
    for n in &names {
        bomb.push_str(&format!(
            "{n}: &{n} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
        prev = n.clone();
    }
    let start = std::time::Instant::now();
    let err = parse_tree(&bomb).unwrap_err().to_string();
    assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
    assert!(
        err.contains("repetition limit") || err.contains("100000 values"),
        "{err}"
    );
}

#[test]
fn wide_alias_expansion_is_stopped_by_the_value_budget() {
    // Few jumps, each expanding a large anchor: passes the parser's jump limit.
    let items = vec!["x"; 2000].join(", ");
    let aliases = vec!["*a"; 200].join(", ");
    let text = format!("a: &a [{items}]\nb: [{aliases}]\n");
    let start = std::time::Instant::now();
    let err = parse_tree(&text).unwrap_err().to_string();
    assert!(start.elapsed().as_secs() < 2);
    assert!(err.contains("100000 values"), "{err}");
    // Within budget, aliases and merge keys work.
    let ok = parse_tree("d: &d {rate: 5}\np: {<<: *d, name: x}\n").unwrap();
    assert_eq!(ok["p"]["rate"].as_u64(), Some(5));
}

#[test]
fn second_documents_are_found_at_their_marker_or_value() {
    let dash = Some((Loc { line: 2, column: 1 }, Some("---")));
    assert_eq!(second_document("name: a\n---\nname: b\n"), dash);
    assert_eq!(second_document("name: a\n--- b\n"), dash);
    let dots = Some((Loc { line: 2, column: 1 }, Some("...")));
    assert_eq!(second_document("a: 1\n...\nb: 2\n"), dots);
    assert_eq!(
        second_document("# c\nname: a\n---\n").map(|(l, _)| l.line),
        Some(3)
    );
    assert_eq!(
        second_document("\"\"x"),
        Some((Loc { line: 1, column: 3 }, None))
    );
    assert_eq!(second_document("name: a\n"), None);
}

#[test]
fn too_deep_nesting_is_refused_at_its_place() {
    let text = format!("a: 1\nb: {}\n", "[".repeat(100_000));
    let Err(TreeError::TooDeep(at)) = parse_tree(&text) else {
        panic!("not refused for depth");
    };
    assert_eq!(
        at,
        Loc {
            line: 2,
            column: 260
        }
    );
    assert!(DEPTH_MSG.contains(&super::super::depth::MAX_FLOW_DEPTH.to_string()));
}

#[test]
fn tags_are_refused() {
    let err = parse_tree("name: !custom x\n").unwrap_err().to_string();
    assert!(err.contains("tags"), "{err}");
}
