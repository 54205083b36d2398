//! Go's `encoding/json` output conventions, which every file and message reglogin shares with
//! Docker's tools must follow to be byte-identical: `<`, `>`, `&`, U+2028 and U+2029 escaped.

/// Applies Go's HTML-safe escaping to serialised JSON. Outside strings JSON contains none of
/// these characters, so substituting over the whole text is exact.
pub fn escape_like_go(json: String) -> String {
    if !needs_escaping(json.as_bytes()) {
        return json;
    }
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// As [`escape_like_go`], for serde_json's output bytes (UTF-8 by construction): a large config
/// with nothing to escape is returned as it is, without validating it as UTF-8 again.
pub fn escape_like_go_bytes(json: Vec<u8>) -> Vec<u8> {
    if !needs_escaping(&json) {
        return json;
    }
    let text = String::from_utf8(json).expect("serde_json writes UTF-8");
    escape_like_go(text).into_bytes()
}

/// A byte search: a large config has none of these, and a per-character scan was a quarter of
/// the cost of writing one.
fn needs_escaping(bytes: &[u8]) -> bool {
    memchr::memchr3(b'<', b'>', b'&', bytes).is_some()
        || memchr::memmem::find(bytes, "\u{2028}".as_bytes()).is_some()
        || memchr::memmem::find(bytes, "\u{2029}".as_bytes()).is_some()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_go_escapes() {
        assert_eq!(
            super::escape_like_go(r#"{"Username":"<token>","x":"a&b"}"#.into()),
            r#"{"Username":"\u003ctoken\u003e","x":"a\u0026b"}"#
        );
        assert_eq!(super::escape_like_go("{}".into()), "{}");
        assert_eq!(
            super::escape_like_go("\"a\u{2028}b\u{2029}\"".into()),
            "\"a\\u2028b\\u2029\""
        );
    }
}
