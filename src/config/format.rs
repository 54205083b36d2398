//! How `config.json` is laid out on disk: Docker's bytes (tab indent, no trailing newline, Go's
//! HTML escaping, known keys in Docker's struct order, `auths` keys sorted) for everything Docker
//! knows, and every other key left where the user put it.

use serde::Serialize;
use serde_json::{Map, Value};

/// Top-level keys in the order Docker's `ConfigFile` struct declares them (docker/cli 28).
pub const DOCKER_KEY_ORDER: &[&str] = &[
    "auths",
    "HttpHeaders",
    "psFormat",
    "imagesFormat",
    "networksFormat",
    "pluginsFormat",
    "volumesFormat",
    "statsFormat",
    "detachKeys",
    "credsStore",
    "credHelpers",
    "serviceInspectFormat",
    "servicesFormat",
    "tasksFormat",
    "secretFormat",
    "configFormat",
    "nodesFormat",
    "pruneFilters",
    "proxies",
    "currentContext",
    "cliPluginsExtraDirs",
    "plugins",
    "aliases",
    "features",
    "experimental",
];

/// Serialises the document as Go's `json.MarshalIndent(v, "", "\t")` would.
pub fn to_docker_bytes(document: &Map<String, Value>) -> Vec<u8> {
    to_docker_bytes_sized(document, 256)
}

/// As [`to_docker_bytes`], into a buffer of `capacity` bytes to start with (a rewrite is about
/// the size of the file it replaces).
pub(super) fn to_docker_bytes_sized(document: &Map<String, Value>, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    document
        .serialize(&mut serializer)
        .expect("serialising a JSON value into memory cannot fail");
    crate::gojson::escape_like_go_bytes(out)
}

/// Inserts a top-level key where Docker would put it relative to the keys already present: after
/// the last present key that Docker orders before it. Unknown keys in between stay where they are.
pub fn insert_top_level(document: &mut Map<String, Value>, key: &str, value: Value) {
    if let Some(slot) = document.get_mut(key) {
        *slot = value;
        return;
    }
    let rank = DOCKER_KEY_ORDER.iter().position(|known| *known == key);
    let index = match rank {
        Some(rank) => document
            .keys()
            .rposition(|present| {
                DOCKER_KEY_ORDER
                    .iter()
                    .position(|known| known == present)
                    .is_some_and(|present_rank| present_rank < rank)
            })
            .map_or(0, |last_before| last_before + 1),
        None => document.len(),
    };
    document.shift_insert(index, key.to_owned(), value);
}

/// Inserts into a map whose keys Docker keeps sorted (`auths`, `credHelpers`): a new key goes
/// before the first existing key that sorts after it, so a sorted map stays sorted.
pub fn insert_sorted(map: &mut Map<String, Value>, key: &str, value: Value) {
    if let Some(slot) = map.get_mut(key) {
        *slot = value;
        return;
    }
    let index = map
        .keys()
        .position(|present| present.as_str() > key)
        .unwrap_or(map.len());
    map.shift_insert(index, key.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    #[test]
    fn writes_the_82_bytes_docker_writes() {
        let document =
            object(json!({"auths": {"127.0.0.1:5001": {"auth": "YWxpY2U6d29uZGVybGFuZA=="}}}));
        let bytes = to_docker_bytes(&document);
        let expected = "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5001\": {\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}\n\t}\n}";
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), expected);
        assert_eq!(bytes.len(), 82);
    }

    #[test]
    fn escapes_html_characters_like_go() {
        let document = object(json!({"detachKeys": "<a&b>\u{2028}"}));
        let text = String::from_utf8(to_docker_bytes(&document)).unwrap();
        assert_eq!(
            text,
            "{\n\t\"detachKeys\": \"\\u003ca\\u0026b\\u003e\\u2028\"\n}"
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["detachKeys"], "<a&b>\u{2028}");
    }

    #[test]
    fn empty_maps_and_numbers_keep_their_text() {
        let document: Map<String, Value> =
            serde_json::from_str(r#"{"auths": {}, "x": 1.50, "y": []}"#).unwrap();
        let text = String::from_utf8(to_docker_bytes(&document)).unwrap();
        assert_eq!(text, "{\n\t\"auths\": {},\n\t\"x\": 1.50,\n\t\"y\": []\n}");
    }

    #[test]
    fn top_level_keys_go_where_docker_puts_them() {
        let mut document = object(json!({"myTool": 1, "auths": {}, "currentContext": "x"}));
        insert_top_level(&mut document, "credsStore", json!("pass"));
        let keys: Vec<_> = document.keys().cloned().collect();
        assert_eq!(keys, ["myTool", "auths", "credsStore", "currentContext"]);

        let mut empty = Map::new();
        insert_top_level(&mut empty, "credsStore", json!("pass"));
        insert_top_level(&mut empty, "auths", json!({}));
        let keys: Vec<_> = empty.keys().cloned().collect();
        assert_eq!(keys, ["auths", "credsStore"]);
    }

    #[test]
    fn sorted_maps_stay_sorted() {
        let mut map = object(json!({"a": 1, "c": 3}));
        insert_sorted(&mut map, "b", json!(2));
        insert_sorted(&mut map, "d", json!(4));
        insert_sorted(&mut map, "0", json!(0));
        let keys: Vec<_> = map.keys().cloned().collect();
        assert_eq!(keys, ["0", "a", "b", "c", "d"]);
    }
}
