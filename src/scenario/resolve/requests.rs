//! `requests:` -> [`RequestPlan`]s: methods, paths, headers and bodies as templates, weights.

use std::collections::HashMap;

use serde_yaml::Value;

use super::Result;
use crate::scenario::error::KeyPath;
use crate::scenario::plan::RequestPlan;
use crate::scenario::schema::{self, Text};
use crate::scenario::source::Source;
use crate::scenario::template::Template;

const MAX_WEIGHT: u64 = 1_000_000;

/// RFC 9110 token: method and header names.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// A template's text outside its `{{...}}` variables (which may hold spaces: `{{rand 10}}`).
fn outside_variables(t: &str) -> String {
    let mut out = String::new();
    let mut rest = t;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        // Unclosed: Template::parse reports it.
        rest = after.find("}}").map_or("", |close| &after[close + 2..]);
    }
    out.push_str(rest);
    out
}

pub(super) fn requests(
    list: &[schema::Request],
    src: &Source,
    at: &KeyPath,
) -> Result<Vec<RequestPlan>> {
    if list.is_empty() {
        return Err(src.value_error(
            at,
            "needs at least one request, e.g. `- {name: users, path: /users/{{rand 1000}}}`",
        ));
    }
    let mut out: Vec<RequestPlan> = Vec::with_capacity(list.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in list.iter().enumerate() {
        let here = at.index(i);
        let req = request(r, src, &here)?;
        if let Some(j) = seen.insert(req.name.clone(), i) {
            let path = if r.name.is_some() {
                here.key("name")
            } else {
                here.clone()
            };
            return Err(src.value_error(
                &path,
                format!(
                    "request name `{}` is already used by requests[{j}]; give each request a \
                     unique `name` (it labels the request in reports)",
                    req.name
                ),
            ));
        }
        out.push(req);
    }
    Ok(out)
}

fn request(r: &schema::Request, src: &Source, here: &KeyPath) -> Result<RequestPlan> {
    let method = match &r.method {
        None => "GET".to_string(),
        Some(Text(m)) if is_token(m.trim()) => m.trim().to_ascii_uppercase(),
        Some(Text(m)) => {
            return Err(src.value_error(
                &here.key("method"),
                format!("`{m}` is not an HTTP method; use GET, POST, PUT, PATCH, DELETE, ..."),
            ))
        }
    };
    let raw_path = &r.path.0;
    let name = match &r.name {
        None => format!("{method} {raw_path}"),
        Some(Text(n)) if n.trim().is_empty() => {
            return Err(src.value_error(
                &here.key("name"),
                "is empty; name the request, e.g. checkout",
            ))
        }
        Some(Text(n)) => n.clone(),
    };
    let who = format!("request `{name}`");
    if !raw_path.starts_with('/') {
        return Err(src.value_error(
            &here.key("path"),
            format!("{who}: `{raw_path}` must start with `/` (it is appended to target.base_url)"),
        ));
    }
    if outside_variables(raw_path)
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(src.value_error(
            &here.key("path"),
            format!("{who}: the path contains a space or control character; encode spaces as %20"),
        ));
    }
    let template = |at: KeyPath, text: &str| {
        Template::parse(text).map_err(|e| src.value_error(&at, format!("{who}: {e}")))
    };
    let path = template(here.key("path"), raw_path)?;
    let mut headers: Vec<(String, Template)> = Vec::new();
    for (k, Text(v)) in r.headers.iter().flat_map(|h| h.0.iter()) {
        let at = here.key("headers").key(k);
        let lower = k.to_ascii_lowercase();
        if !is_token(k) {
            return Err(src.key_error(&at, format!("{who}: `{k}` is not a valid header name")));
        }
        if lower == "content-length" || lower == "transfer-encoding" {
            return Err(src.key_error(
                &at,
                format!("{who}: `{k}` is set by leakhound from the body; remove it"),
            ));
        }
        if headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
            return Err(src.key_error(&at, format!("{who}: header `{k}` is given twice")));
        }
        if v.contains(['\r', '\n']) {
            return Err(src.value_error(
                &at,
                format!("{who}: a header value cannot contain a line break"),
            ));
        }
        headers.push((k.clone(), template(at, v)?));
    }
    let body_at = here.key("body");
    let body = match &r.body {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(template(body_at, s)?),
        Some(v @ (Value::Mapping(_) | Value::Sequence(_))) => {
            // A YAML mapping body is sent as JSON (keys in file order), labelled so unless the
            // user chose a content type.
            let json = serde_json::to_string(v).map_err(|e| {
                src.value_error(
                    &body_at,
                    format!("{who}: this body cannot be written as JSON: {e}"),
                )
            })?;
            if !headers
                .iter()
                .any(|(h, _)| h.eq_ignore_ascii_case("content-type"))
            {
                headers.push((
                    "content-type".to_string(),
                    template(body_at.clone(), "application/json")?,
                ));
            }
            Some(template(body_at, &json)?)
        }
        Some(Value::Bool(b)) => Some(template(body_at, &b.to_string())?),
        Some(Value::Number(n)) => Some(template(body_at, &n.to_string())?),
        Some(Value::Tagged(_)) => {
            return Err(src.value_error(&body_at, format!("{who}: YAML tags are not supported")))
        }
    };
    let weight = match r.weight {
        None => 1,
        Some(w) if w.0 >= 1 && w.0 <= MAX_WEIGHT => w.0 as u32,
        Some(w) => {
            return Err(src.value_error(
                &here.key("weight"),
                format!(
                    "{who}: weight `{}` is out of range; use a whole number from 1 to {MAX_WEIGHT}",
                    w.0
                ),
            ))
        }
    };
    Ok(RequestPlan {
        name,
        method,
        path,
        headers,
        body,
        weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_may_hold_spaces_but_text_may_not() {
        assert_eq!(outside_variables("/u/{{rand 10}}?a={{ seq }}"), "/u/?a=");
        assert_eq!(outside_variables("/a b"), "/a b");
        assert_eq!(outside_variables("/a/{{seq"), "/a/");
    }

    #[test]
    fn tokens() {
        assert!(is_token("GET") && is_token("x-request-id") && is_token("M-SEARCH"));
        assert!(!is_token("") && !is_token("GE T") && !is_token("a:b"));
    }
}
