//! A cheap bound on flow nesting (`[`, `{`) in YAML text, checked before the real parse.
//!
//! The YAML scanner does work in proportion to the open flow levels on every token, so 200,000
//! nested `[` (400 KB, under the size cap) take minutes before the parser's own depth limit
//! acts. One linear pass here refuses such text first. It is a lexical approximation, not a
//! parser: brackets inside quoted strings and comments do not add to the running depth, but do
//! count within that string or comment, so a quote this pass misreads hides at most one limit's
//! worth of levels. It errs towards counting: brackets inside plain text count too. Scenarios
//! nest a few levels and the parser refuses more than 128 anyway, so no loadable file is refused.

use super::error::Loc;

/// Deepest `[`/`{` nesting accepted.
pub(crate) const MAX_FLOW_DEPTH: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Single,
    Double,
    Comment,
}

/// Where the nesting first goes past [`MAX_FLOW_DEPTH`] (the `[` or `{` that does it), if it does.
pub(crate) fn too_deep(text: &str) -> Option<Loc> {
    let mut state = State::Normal;
    // Depth outside strings and comments, and within the current string or comment.
    let (mut depth, mut inner) = (0usize, 0usize);
    // Inside a plain (unquoted) value, where a quote character is just a character.
    let mut in_plain = false;
    let mut prev = '\n';
    let (mut line, mut column) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
            column = 0;
        } else {
            column += 1;
        }
        let next = chars.peek().copied();
        let next_blank = next.is_none_or(char::is_whitespace);
        match state {
            State::Comment if c == '\n' => {
                state = State::Normal;
                inner = 0;
            }
            State::Single if c == '\'' && next == Some('\'') => {
                // `''` is a quote inside a single-quoted string.
                chars.next();
                column += 1;
            }
            State::Single | State::Double if c == quote_of(state) => {
                state = State::Normal;
                inner = 0;
                in_plain = true;
            }
            State::Double if c == '\\' => {
                if chars.next() == Some('\n') {
                    line += 1;
                    column = 0;
                } else {
                    column += 1;
                }
            }
            State::Comment | State::Single | State::Double => match c {
                '[' | '{' => inner += 1,
                ']' | '}' => inner = inner.saturating_sub(1),
                _ => {}
            },
            State::Normal => match c {
                // A plain value goes on over line breaks inside `[...]`, not in block context.
                '\n' if depth == 0 => in_plain = false,
                c if c.is_whitespace() => {}
                '#' if prev.is_whitespace() => state = State::Comment,
                '\'' if !in_plain => state = State::Single,
                '"' if !in_plain => state = State::Double,
                '[' | '{' => {
                    depth += 1;
                    in_plain = false;
                }
                ']' | '}' => {
                    depth = depth.saturating_sub(1);
                    in_plain = true;
                }
                ',' if depth > 0 => in_plain = false,
                // `- `, `? `, and the markers `---` / `...` at a line start, are not text.
                '-' | '?' if !in_plain && next_blank => {}
                '-' | '.' if prev == '\n' && marker_follows(c, &mut chars) => column += 2,
                ':' if next_blank || (depth > 0 && next.is_some_and(|n| "[]{},".contains(n))) => {
                    in_plain = false;
                }
                // Anchors and tags (`&a`, `!t`) end at a blank; the value starts after it.
                '&' | '!' if !in_plain => {
                    while chars
                        .peek()
                        .is_some_and(|n| !n.is_whitespace() && !"[]{},".contains(*n))
                    {
                        chars.next();
                        column += 1;
                    }
                }
                _ => in_plain = true,
            },
        }
        if depth + inner > MAX_FLOW_DEPTH {
            return Some(Loc { line, column });
        }
        prev = c;
    }
    None
}

/// After a first `-` or `.` at a line start: consumes the other two of a `---` / `...` marker
/// when they are there and a blank (or the end) follows.
fn marker_follows(c: char, chars: &mut std::iter::Peekable<std::str::Chars>) -> bool {
    let mut ahead = chars.clone();
    let is_marker = ahead.next() == Some(c)
        && ahead.next() == Some(c)
        && ahead.next().is_none_or(char::is_whitespace);
    if is_marker {
        chars.next();
        chars.next();
    }
    is_marker
}

fn quote_of(state: State) -> char {
    if state == State::Single {
        '\''
    } else {
        '"'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nest(n: usize) -> String {
        format!("{}{}", "[".repeat(n), "]".repeat(n))
    }

    #[test]
    fn counts_flow_nesting_and_names_the_place() {
        assert_eq!(too_deep(&format!("a: {}\n", nest(MAX_FLOW_DEPTH))), None);
        assert_eq!(
            too_deep(&format!("x: 1\na: {}\n", nest(MAX_FLOW_DEPTH + 1))),
            Some(Loc {
                line: 2,
                column: 4 + MAX_FLOW_DEPTH
            })
        );
        // Mappings count the same as lists, and the depth is of nesting, not of count.
        let mixed = "{a: [".repeat(200) + &"]}".repeat(200);
        assert!(too_deep(&mixed).is_some());
        let wide = "[[]], ".repeat(10_000);
        assert_eq!(too_deep(&format!("a: [{wide}]\n")), None);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_add_up() {
        let open = "[".repeat(200);
        let text = format!(
            "a: '{open}'\nb: \"{open}\\\" ]]\"\nc: x # {open}\nd: 'it''s {open}'\ne: [\"{open}\", '{open}']\n"
        );
        assert_eq!(too_deep(&text), None);
        // A quote character inside plain text is not a quote: if `it's` opened one, it would
        // close at b's quote and leave both runs of brackets outside strings.
        let text = format!("a: it's\nb: '{open}'\nc: '{open}'\n");
        assert_eq!(too_deep(&text), None);
    }

    #[test]
    fn a_misread_quote_hides_at_most_one_limit() {
        // `a '` is plain text to YAML; read as a quote here, its brackets still count.
        let hidden = format!("x: [a ', {}\n", "[".repeat(300));
        assert!(too_deep(&hidden).is_some());
        // Brackets after an anchor, a `- ` item or a `---` marker count.
        assert!(too_deep(&format!("a: &x {}\n", nest(300))).is_some());
        assert!(too_deep(&format!("- {}\n", nest(300))).is_some());
        assert!(too_deep(&format!("--- {}\n", nest(300))).is_some());
        assert!(too_deep(&format!("x\n... {}\n", nest(300))).is_some());
    }

    #[test]
    fn is_linear() {
        let text = format!("name: {}\n", nest(400_000));
        let start = std::time::Instant::now();
        assert!(too_deep(&text).is_some());
        let unbalanced = "a: [".to_string() + &"x, ".repeat(300_000);
        assert_eq!(too_deep(&unbalanced), None);
        assert!(start.elapsed().as_secs() < 2, "{:?}", start.elapsed());
    }
}
