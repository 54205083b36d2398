//! `WWW-Authenticate` parsing (RFC 7235 challenges), as a registry client needs it.
//!
//! Each header value normally holds one challenge (`Bearer realm="…",service="…"`); a value
//! that holds several (`Basic realm="a", Bearer realm="b"`) is split too. Scheme and parameter
//! names are case-insensitive and come back lowercased; parameter values are tokens or quoted
//! strings with backslash escapes. Parsing is lenient: a malformed piece is skipped, never an
//! error, so a sloppy header cannot fail a login on its own.

use std::collections::BTreeMap;

/// One authentication challenge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased: `basic`, `bearer`, `negotiate`, …
    pub scheme: String,
    /// The auth-params: names lowercased, values unquoted and unescaped.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter by its lowercase name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses every value of the `WWW-Authenticate` headers of one response, in order.
pub fn parse_challenges(header_values: &[&str]) -> Vec<Challenge> {
    let mut challenges = Vec::new();
    for value in header_values {
        let mut current: Option<Challenge> = None;
        for element in split_top_level_commas(value) {
            parse_element(element, &mut current, &mut challenges);
        }
        challenges.extend(current);
    }
    challenges
}

/// RFC 7230 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn trim_space(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Splits at commas that are not inside a quoted string.
fn split_top_level_commas(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_quotes, mut escaped) = (0, false, false);
    for (index, c) in value.char_indices() {
        if escaped {
            escaped = false;
        } else if in_quotes && c == '\\' {
            escaped = true;
        } else if c == '"' {
            in_quotes = !in_quotes;
        } else if c == ',' && !in_quotes {
            parts.push(&value[start..index]);
            start = index + 1;
        }
    }
    parts.push(&value[start..]);
    parts
}

/// Splits a leading token off `s`.
fn split_token(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !is_token_char(c)).unwrap_or(s.len());
    s.split_at(end)
}

/// One comma-separated element: `scheme`, `scheme name=value`, `scheme token68` or
/// `name=value` (a further parameter of the current challenge).
fn parse_element(element: &str, current: &mut Option<Challenge>, out: &mut Vec<Challenge>) {
    let element = trim_space(element);
    let (first, rest) = split_token(element);
    if first.is_empty() {
        return;
    }
    if let Some((name, value)) = parse_param(first, rest) {
        if let Some(challenge) = current.as_mut() {
            challenge.params.insert(name, value);
        }
        return;
    }
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        // Neither `name=value` nor `scheme …`: junk.
        return;
    }
    out.extend(current.take());
    let mut challenge = Challenge {
        scheme: first.to_ascii_lowercase(),
        params: BTreeMap::new(),
    };
    let rest = trim_space(rest);
    let (name, after_name) = split_token(rest);
    if !name.is_empty()
        && let Some((name, value)) = parse_param(name, after_name)
    {
        challenge.params.insert(name, value);
    }
    // Otherwise the rest is empty or a token68 (`Negotiate YII…==`), which no scheme we
    // handle uses.
    *current = Some(challenge);
}

/// `name` followed by `= value`, the value a token or a quoted string. `None` when `after_name`
/// does not start with `=` or holds a token68 (`abc==`).
fn parse_param(name: &str, after_name: &str) -> Option<(String, String)> {
    let after_eq = trim_space(after_name).strip_prefix('=')?;
    if after_eq.starts_with('=') {
        return None;
    }
    let raw = trim_space(after_eq);
    let value = match raw.strip_prefix('"') {
        Some(quoted) => unquote(quoted)?,
        // Unquoted values should be tokens; registries also send bare URLs, so take the
        // whole rest of the element.
        None => raw.to_owned(),
    };
    Some((name.to_ascii_lowercase(), value))
}

/// The content of a quoted string whose opening quote is already consumed; `None` if it never
/// closes. What follows the closing quote is ignored.
fn unquote(s: &str) -> Option<String> {
    let mut value = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(scheme: &str, params: &[(&str, &str)]) -> Challenge {
        Challenge {
            scheme: scheme.to_owned(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn parses_challenges() {
        let cases: Vec<(&str, Vec<&str>, Vec<Challenge>)> = vec![
            (
                "basic with realm",
                vec![r#"Basic realm="Registry Realm""#],
                vec![challenge("basic", &[("realm", "Registry Realm")])],
            ),
            (
                "bearer with realm, service and scope",
                vec![
                    r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                ],
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://auth.docker.io/token"),
                        ("service", "registry.docker.io"),
                        ("scope", "repository:library/alpine:pull"),
                    ],
                )],
            ),
            (
                "escaped quotes inside a quoted string",
                vec![r#"Basic realm="say \"hi\" \\ bye""#],
                vec![challenge("basic", &[("realm", r#"say "hi" \ bye"#)])],
            ),
            (
                "comma inside quotes",
                vec![r#"Bearer realm="https://a/token",scope="repo:x:pull,push",service="s""#],
                vec![challenge(
                    "bearer",
                    &[
                        ("realm", "https://a/token"),
                        ("scope", "repo:x:pull,push"),
                        ("service", "s"),
                    ],
                )],
            ),
            (
                "mixed-case scheme and parameter names; values keep their case",
                vec![r#"BeArEr ReAlM="https://A/Token", SERVICE=Reg"#],
                vec![challenge(
                    "bearer",
                    &[("realm", "https://A/Token"), ("service", "Reg")],
                )],
            ),
            (
                "several header values",
                vec![
                    "Negotiate",
                    r#"Basic realm="r""#,
                    r#"Bearer realm="https://t/""#,
                ],
                vec![
                    challenge("negotiate", &[]),
                    challenge("basic", &[("realm", "r")]),
                    challenge("bearer", &[("realm", "https://t/")]),
                ],
            ),
            (
                "several challenges in one value",
                vec![r#"Basic realm="a", Bearer realm="b", service="s", Negotiate"#],
                vec![
                    challenge("basic", &[("realm", "a")]),
                    challenge("bearer", &[("realm", "b"), ("service", "s")]),
                    challenge("negotiate", &[]),
                ],
            ),
            (
                "token68 is skipped",
                vec!["Negotiate YIIGhgYJKoZIhvcSAQICAQBuggZ1MIIGcaADAgEF=="],
                vec![challenge("negotiate", &[])],
            ),
            (
                "unquoted token values and spaces around =",
                vec!["Bearer realm = https://a:5001/token , service=svc"],
                vec![challenge(
                    "bearer",
                    &[("realm", "https://a:5001/token"), ("service", "svc")],
                )],
            ),
            (
                "empty quoted value",
                vec![r#"Basic realm="""#],
                vec![challenge("basic", &[("realm", "")])],
            ),
            (
                "unterminated quote drops the parameter",
                vec![r#"Basic realm="oops"#],
                vec![challenge("basic", &[])],
            ),
            ("empty and junk values", vec!["", " , ", "=x"], vec![]),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_challenges(&input), want, "{name}");
        }
    }

    #[test]
    fn param_lookup() {
        let parsed = parse_challenges(&[r#"Bearer Realm="r""#]);
        assert_eq!(parsed[0].param("realm"), Some("r"));
        assert_eq!(parsed[0].param("service"), None);
    }
}
