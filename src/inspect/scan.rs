//! A fast path through a `.heapsnapshot`'s top level: the big `nodes` and `edges` arrays are
//! plain unsigned integers, so they are read with a byte loop straight into vectors instead of
//! through a generic JSON deserializer (several times faster, and no intermediate values).
//! The small `snapshot` header and the `strings` array still go through serde_json; sections
//! this module does not need (traces, samples, locations) are skipped unparsed.

/// The raw byte slices of the top-level values leakhound reads.
#[derive(Debug, Default)]
pub(crate) struct Sections<'a> {
    pub snapshot: Option<&'a [u8]>,
    pub nodes: Option<&'a [u8]>,
    pub edges: Option<&'a [u8]>,
    pub strings: Option<&'a [u8]>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// End (exclusive) of the JSON string starting at `b[i] == b'"'`.
fn string_end(b: &[u8], i: usize) -> Result<usize, String> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err("unterminated string".into())
}

/// End (exclusive) of the JSON value starting at `b[i]`.
fn value_end(b: &[u8], i: usize) -> Result<usize, String> {
    match b.get(i) {
        Some(b'"') => string_end(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            Err("unterminated array or object".into())
        }
        Some(_) => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') {
                j += 1;
            }
            Ok(j)
        }
        None => Err("unexpected end of file".into()),
    }
}

/// Splits the top-level object into the sections leakhound needs.
pub(crate) fn sections(b: &[u8]) -> Result<Sections<'_>, String> {
    let mut out = Sections::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return Err("not a JSON object".into());
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            Some(b'}') => return Ok(out),
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            _ => return Err(format!("unexpected byte at {i}")),
        }
        let key_end = string_end(b, i)?;
        let key = &b[i + 1..key_end - 1];
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return Err(format!("expected ':' at {i}"));
        }
        i = skip_ws(b, i + 1);
        let end = value_end(b, i)?;
        let value = &b[i..end];
        match key {
            b"snapshot" => out.snapshot = Some(value),
            b"nodes" => out.nodes = Some(value),
            b"edges" => out.edges = Some(value),
            b"strings" => out.strings = Some(value),
            _ => {}
        }
        i = end;
    }
}

/// Parses `[1,2,3]` (unsigned integers only) into a vector of `T`.
pub(crate) fn uint_array<T: TryFrom<u64>>(b: &[u8], what: &str) -> Result<Vec<T>, String> {
    let bad = |at: usize| format!("{what}: not an unsigned integer array (byte {at})");
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'[') {
        return Err(bad(i));
    }
    i += 1;
    // A rough count (commas + 1) sizes the vector once.
    let mut out = Vec::with_capacity(b.len() / 3);
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\n' | b'\r' | b'\t' | b',') {
            i += 1;
        }
        match b.get(i) {
            Some(b']') => break,
            Some(c) if c.is_ascii_digit() => {
                let mut v: u64 = 0;
                while i < b.len() && b[i].is_ascii_digit() {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(b[i] - b'0')))
                        .ok_or_else(|| bad(i))?;
                    i += 1;
                }
                out.push(T::try_from(v).map_err(|_| bad(i))?);
                if i < b.len() && !matches!(b[i], b',' | b']' | b' ' | b'\n' | b'\r' | b'\t') {
                    return Err(bad(i));
                }
            }
            _ => return Err(bad(i)),
        }
    }
    out.shrink_to_fit();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_found_and_the_rest_skipped() {
        let text = br#" {"snapshot":{"meta":{"a":["x","]"]}},
            "nodes":[1,2, 3],"trace_tree":[[1,{"k":"}"}]],"edges":[],
            "strings":["a\"b","]"]} "#;
        let s = sections(text).unwrap();
        assert_eq!(s.snapshot.unwrap(), br#"{"meta":{"a":["x","]"]}}"#);
        assert_eq!(s.nodes.unwrap(), b"[1,2, 3]");
        assert_eq!(s.edges.unwrap(), b"[]");
        assert_eq!(s.strings.unwrap(), br#"["a\"b","]"]"#);
        assert!(sections(b"[1]").is_err());
        assert!(sections(br#"{"nodes":[1,2"#).is_err());
    }

    #[test]
    fn integer_arrays_parse_and_reject_the_rest() {
        assert_eq!(
            uint_array::<u64>(b"[0,12,\n345]", "n").unwrap(),
            [0, 12, 345]
        );
        assert_eq!(uint_array::<u32>(b"[]", "n").unwrap(), Vec::<u32>::new());
        assert!(uint_array::<u32>(b"[4294967296]", "n").is_err());
        assert!(uint_array::<u64>(b"[1,-2]", "n").is_err());
        assert!(uint_array::<u64>(b"[1.5]", "n").is_err());
        assert!(uint_array::<u64>(b"[1,2", "n").is_err());
        assert!(uint_array::<u64>(b"[99999999999999999999999]", "n").is_err());
    }
}
