//! Property tests (proptest) for the scenario loader: for any text, and especially for the
//! shipped examples (scenarios/*.yaml) with structured damage (a value of the wrong type or
//! unit, a key dropped, renamed or added, a list item repeated, lines deleted, duplicated,
//! re-indented or cut, aliases inserted), plus random `--set`, `--duration` and `--rate`, the
//! loader never panics and returns either a sane Plan or an error that points at a line or a
//! key (or names the flag responsible).
//!
//! CI runs the default case count (256 per property, `PROPTEST_CASES` overrides it); a long
//! local run: `PROPTEST_CASES=100000 cargo test --release --lib scenario::fuzz_tests`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_yaml::Value;

use super::{parse, Overrides, Plan, ScenarioError};

/// The shipped example scenarios, read once.
fn examples() -> &'static [String] {
    static EXAMPLES: OnceLock<Vec<String>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut texts: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .filter_map(|p| std::fs::read_to_string(p).ok())
                    .collect()
            })
            .unwrap_or_default();
        texts.sort();
        texts
    })
}

fn base_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Values that are wrong somewhere in a scenario: other types, signs, units, huge numbers,
/// templates, tags, empty things.
fn nasty_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0),
            Just(1e300),
            any::<f64>()
        ]
        .prop_map(|f| Value::Number(f.into())),
        "(-?[0-9]{0,12}(\\.[0-9]{0,4})?)(ms|s|m|h|B|KiB|MiB|GB|PiB|%|/s|/0s|/1m| s|x)?"
            .prop_map(Value::String),
        "(/|/x/|)\\{\\{(seq|uuid|rand|rand 0|rand -1|rand 99999999999999999999|nope|)\\}?\\}?"
            .prop_map(Value::String),
        "(http|https|ftp)://(127\\.0\\.0\\.1|\\[::1\\]|localhost|)(:[0-9]{0,6})?(/[a-z]{0,3})?"
            .prop_map(Value::String),
        "(open|closed|process|cgroup|rss_anon|pss|GET|POST|FETCH|warmup|leak-hunt)"
            .prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        Just(Value::Sequence(vec![])),
        Just(Value::Mapping(Default::default())),
        Just(Value::Sequence(vec![Value::Null, Value::Bool(true)])),
    ]
}

/// A step into the tree: a mapping key or a list index.
#[derive(Debug, Clone)]
enum Step {
    Key(Value),
    Item(usize),
}

/// Every path to a node (root excluded), depth first.
fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Mapping(m) => {
            for (k, child) in m {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Sequence(s) => {
            for (i, child) in s.iter().enumerate() {
                prefix.push(Step::Item(i));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn node_mut<'v>(v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut cur = v;
    for step in path {
        cur = match (step, cur) {
            (Step::Key(k), Value::Mapping(m)) => m.get_mut(k)?,
            (Step::Item(i), Value::Sequence(s)) => s.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// One structured mutation of the YAML tree.
#[derive(Debug, Clone)]
enum TreeEdit {
    Replace(Index, Value),
    Remove(Index),
    AddKey(Index, String, Value),
    RenameKey(Index, String),
    RepeatItem(Index),
}

fn tree_edit() -> impl Strategy<Value = TreeEdit> {
    let key = "(name|rate|duration|timeout|phases|requests|target|pid|command|ramp_to|mix|weight|\
                concurrency|model|profile|metric|sources|interval|[a-z_]{1,8})";
    prop_oneof![
        3 => (any::<Index>(), nasty_value()).prop_map(|(i, v)| TreeEdit::Replace(i, v)),
        1 => any::<Index>().prop_map(TreeEdit::Remove),
        1 => (any::<Index>(), key, nasty_value()).prop_map(|(i, k, v)| TreeEdit::AddKey(i, k, v)),
        1 => (any::<Index>(), key).prop_map(|(i, k)| TreeEdit::RenameKey(i, k)),
        1 => any::<Index>().prop_map(TreeEdit::RepeatItem),
    ]
}

fn apply(tree: &mut Value, edit: &TreeEdit) {
    let mut all = Vec::new();
    paths(tree, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let pick = |i: &Index| all[i.index(all.len())].clone();
    match edit {
        TreeEdit::Replace(i, v) => {
            if let Some(n) = node_mut(tree, &pick(i)) {
                *n = v.clone();
            }
        }
        TreeEdit::Remove(i) | TreeEdit::RenameKey(i, _) | TreeEdit::RepeatItem(i) => {
            let path = pick(i);
            let (last, parent) = path.split_last().expect("paths are never empty");
            let Some(parent) = node_mut(tree, parent) else {
                return;
            };
            match (edit, last, parent) {
                (TreeEdit::Remove(_), Step::Key(k), Value::Mapping(m)) => {
                    m.remove(k);
                }
                (TreeEdit::Remove(_), Step::Item(n), Value::Sequence(s)) => {
                    s.remove(*n);
                }
                (TreeEdit::RenameKey(_, new), Step::Key(k), Value::Mapping(m)) => {
                    if let Some(v) = m.remove(k) {
                        m.insert(Value::String(new.clone()), v);
                    }
                }
                (TreeEdit::RepeatItem(_), Step::Item(n), Value::Sequence(s)) => {
                    let item = s[*n].clone();
                    s.insert(*n, item);
                }
                _ => {}
            }
        }
        TreeEdit::AddKey(i, k, v) => {
            if let Some(Value::Mapping(m)) = node_mut(tree, &pick(i)) {
                m.insert(Value::String(k.clone()), v.clone());
            }
        }
    }
}

/// One mutation of the text itself (what a bad editor or a bad copy-paste does).
#[derive(Debug, Clone)]
enum TextEdit {
    DeleteLine(Index),
    RepeatLine(Index),
    Indent(Index, usize),
    Cut(Index),
    Insert(Index, String),
}

fn text_edit() -> impl Strategy<Value = TextEdit> {
    let line = prop_oneof![
        "( {0,6})[a-z_]{1,10}: ?(&a|\\*a|!tag|<<: \\*a|\\[|\\{|\\||>|-|'|\"|[0-9a-z/.%]{0,10})",
        "( {0,6})- (\\{|\\[|&a \\{name: x\\}|\\*a|[a-z]{0,5})",
        Just("\t".to_string()),
        Just("---".to_string()),
        Just("...".to_string()),
        any::<String>(),
    ];
    prop_oneof![
        any::<Index>().prop_map(TextEdit::DeleteLine),
        any::<Index>().prop_map(TextEdit::RepeatLine),
        (any::<Index>(), 0usize..9).prop_map(|(i, n)| TextEdit::Indent(i, n)),
        any::<Index>().prop_map(TextEdit::Cut),
        (any::<Index>(), line).prop_map(|(i, l)| TextEdit::Insert(i, l)),
    ]
}

fn apply_text(text: &str, edit: &TextEdit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match edit {
        TextEdit::DeleteLine(i) => {
            lines.remove(i.index(n));
        }
        TextEdit::RepeatLine(i) => {
            let at = i.index(n);
            let l = lines[at].clone();
            lines.insert(at, l);
        }
        TextEdit::Indent(i, by) => {
            let at = i.index(n);
            let trimmed = lines[at].trim_start().to_string();
            lines[at] = format!("{}{trimmed}", " ".repeat(*by));
        }
        TextEdit::Cut(i) => {
            let mut at = i.index(text.len().max(1));
            while at > 0 && !text.is_char_boundary(at) {
                at -= 1;
            }
            return text[..at.min(text.len())].to_string();
        }
        TextEdit::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
    }
    lines.join("\n") + "\n"
}

/// Random `--set`, `--duration`, `--rate` flags.
fn overrides() -> impl Strategy<Value = Overrides> {
    let set = prop_oneof![
        "(load|target|memory|requests|thresholds|name)(\\.(phases|0|1|9|rate|duration|env|PORT|\
          base_url|command|interval|path|weight|timeout|x|99999999999999999999)){0,3}=\
          ([0-9a-z/.%{}:-]{0,12})",
        any::<String>(),
    ];
    (
        proptest::option::weighted(0.3, 0u64..2_000_000_000_000),
        proptest::option::weighted(
            0.3,
            prop_oneof![any::<f64>(), 0.0f64..1e7, Just(f64::NAN), Just(-1.0)],
        ),
        proptest::collection::vec(set, 0..3),
    )
        .prop_map(|(ms, rate, set)| Overrides {
            duration: ms.map(Duration::from_millis),
            rate,
            set,
        })
}

/// The property every outcome must have.
fn check(text: &str, ov: &Overrides) -> Result<(), TestCaseError> {
    match parse(text, "fuzz.yaml", &base_dir(), ov) {
        Ok(plan) => check_plan(&plan),
        Err(e) => check_error(&e, text),
    }
}

fn check_plan(plan: &Plan) -> Result<(), TestCaseError> {
    prop_assert!(!plan.requests.is_empty(), "a plan without requests");
    prop_assert!(!plan.load.phases.is_empty(), "a plan without phases");
    prop_assert!(plan.load.timeout > Duration::ZERO);
    prop_assert!(plan.memory.interval > Duration::ZERO);
    for p in &plan.load.phases {
        prop_assert!(p.duration > Duration::ZERO, "phase {} lasts 0", p.name);
        prop_assert!(
            p.rate.is_finite() && p.rate >= 0.0,
            "phase {} rate {}",
            p.name,
            p.rate
        );
        if let Some(r) = p.ramp_to {
            prop_assert!(r.is_finite() && r >= 0.0, "phase {} ramp_to {r}", p.name);
        }
    }
    prop_assert!(
        plan.requests.iter().any(|r| r.weight > 0),
        "no request has weight"
    );
    Ok(())
}

/// An error names where to look: a line, a key path, or the flag responsible. Only errors
/// about the whole file may name none of these.
fn check_error(e: &ScenarioError, text: &str) -> Result<(), TestCaseError> {
    let msg = e.to_string();
    prop_assert!(!msg.trim().is_empty());
    let whole_file = ["the scenario is empty", "not UTF-8", "larger than 1MiB"];
    let named = match e {
        ScenarioError::Invalid { location, key, .. } => location.is_some() || !key.is_empty(),
        ScenarioError::Yaml { location, .. } => location.is_some(),
        ScenarioError::Set { .. } | ScenarioError::Flag { .. } => true,
        ScenarioError::Read { .. } | ScenarioError::TooLarge { .. } => true,
    };
    prop_assert!(
        named || whole_file.iter().any(|w| msg.contains(w)),
        "the error names no line, key or flag: {msg}\n--- text ---\n{text}"
    );
    Ok(())
}

fn example_strategy() -> impl Strategy<Value = String> {
    let n = examples().len().max(1);
    (0..n).prop_map(|i| examples().get(i).cloned().unwrap_or_default())
}

proptest! {
    #[test]
    fn any_text_never_panics(text in any::<String>()) {
        check(&text, &Overrides::default())?;
    }

    #[test]
    fn damaged_examples_give_a_plan_or_a_located_error(
        base in example_strategy(),
        edits in proptest::collection::vec(tree_edit(), 1..4),
    ) {
        let Ok(mut tree) = serde_yaml::from_str::<Value>(&base) else {
            return Err(TestCaseError::fail("an example does not parse"));
        };
        for e in &edits {
            apply(&mut tree, e);
        }
        let text = serde_yaml::to_string(&tree).unwrap_or_default();
        check(&text, &Overrides::default())?;
    }

    #[test]
    fn damaged_example_text_gives_a_plan_or_a_located_error(
        base in example_strategy(),
        edits in proptest::collection::vec(text_edit(), 1..4),
    ) {
        let mut text = base;
        for e in &edits {
            text = apply_text(&text, e);
        }
        check(&text, &Overrides::default())?;
    }

    #[test]
    fn flags_on_examples_give_a_plan_or_a_named_error(
        base in example_strategy(),
        ov in overrides(),
    ) {
        check(&base, &ov)?;
    }
}

#[test]
fn the_examples_are_found_and_valid() {
    assert!(examples().len() >= 5, "scenarios/*.yaml not found");
    for text in examples() {
        let plan = parse(text, "example.yaml", &base_dir(), &Overrides::default());
        assert!(plan.is_ok(), "{:?}", plan.err().map(|e| e.to_string()));
    }
}

/// A second YAML document (`---`, or text after a complete scalar) is refused at its line, so
/// the user can find the stray text.
#[test]
fn second_document_error_names_its_line() {
    for text in ["name: a\n---\nname: b\n", "\"\"x"] {
        let e = parse(text, "s.yaml", &base_dir(), &Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("s.yaml:"), "{e}");
        assert!(
            e.contains("s.yaml:2:") || e.contains("s.yaml:1:3"),
            "{text:?}: {e}"
        );
    }
}

/// A key YAML reads as a float (`.0:`, `1e3:`) is reported as written and at its line, like
/// integer, bool and null keys. Found by `any_text_never_panics` (1,000,000 cases) with `.0:`.
#[test]
fn float_key_error_names_its_line() {
    for (text, key) in [(".0:", ".0"), ("name: x\n1e3: y\n", "1e3")] {
        let e = parse(text, "s.yaml", &base_dir(), &Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(&format!("`{key}`")), "{text:?}: {e}");
        assert!(
            e.starts_with("s.yaml:1:") || e.starts_with("s.yaml:2:"),
            "{text:?}: {e}"
        );
    }
}

/// Fuzz bug 6: a duplicate key, or a list or mapping used as a key, was reported at the start
/// of its mapping (`s.yaml:1:1` at the top level). Now at the key, with the key and the fix.
#[test]
fn duplicate_and_list_key_errors_name_their_line() {
    for (text, want) in [
        (
            "name: a\nload: {}\nname: b\n",
            "s.yaml:3:1: key `name` appears twice in the same mapping (first on line 1); a key \
             may appear once: delete one of them, or merge their values",
        ),
        (
            "name: a\nload:\n  timeout: 1s\n  timeout: 2s\n",
            "s.yaml:4:3: load: key `timeout` appears twice in the same mapping (first on line 3)",
        ),
        (
            "a: 1\n.0: x\n0.0: y\n",
            "s.yaml:3:1: key `0.0` appears twice",
        ),
        (
            "a: 1\n0.0: x\n.0: y\n",
            "s.yaml:3:1: key `.0` appears twice",
        ),
        (
            "name: a\n[x, y]: 1\n",
            "s.yaml:2:1: a list (`[...]`) is used as a key; keys are plain text (`rate: 5`): \
             remove the brackets, or quote the key if they belong to it",
        ),
        (
            "name: a\nload:\n  ? {x: 1}\n  : 2\n",
            "s.yaml:3:5: load: a mapping (`{...}`) is used as a key",
        ),
    ] {
        let e = parse(text, "s.yaml", &base_dir(), &Overrides::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with(want), "{text:?}:\n got: {e}\nwant: {want}");
    }
}
