//! A one-pass read of `config.json` for commands that need one registry's credentials (`get`,
//! the library's `credentials_for`): no document tree, only the entries that can answer for the
//! key kept.
//!
//! It refuses everything [`ConfigFile::parse`] refuses (syntax, types, undecodable `auth`
//! values, duplicate keys at any depth); when it refuses, the caller falls back to the full
//! parse, which names the problem. So a file reads the same either way, only faster: building
//! the ordered tree of a 10,000-entry file was most of a `get`.

use serde::de::{DeserializeSeed, Deserializer as _, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::{ConfigFile, DuplicateKeyCheck, ENTRY_STRING_FIELDS, KeySet, KeyText, check_auth};

/// What the scan keeps: the top-level fields store selection reads, and the matching entries.
#[derive(Default)]
struct Scanned {
    creds_store: Option<String>,
    cred_helpers: Option<Map<String, Value>>,
    auths: Option<Map<String, Value>>,
    /// `auths` had entries, kept or not (a detected default store needs none at all).
    had_auths: bool,
}

impl ConfigFile {
    /// The file as far as `wanted` keys are concerned: `credsStore`, `credHelpers` and the
    /// `auths` entries whose key `wanted` accepts, checked as [`ConfigFile::load`] checks the
    /// whole file. Store selection and file lookups for those keys answer as on the full file.
    /// Not for writing: [`super::update`] reads the file itself.
    pub fn load_for_lookup(
        path: &std::path::Path,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<ConfigFile, super::ConfigError> {
        match super::read_if_present(path)? {
            Some(bytes) => ConfigFile::parse_for_lookup(path, bytes, wanted),
            None => Ok(ConfigFile::empty(path)),
        }
    }

    /// [`ConfigFile::load_for_lookup`] on bytes already read (the fuzz target compares it with
    /// [`ConfigFile::parse`]).
    pub fn parse_for_lookup(
        path: &std::path::Path,
        bytes: Vec<u8>,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<ConfigFile, super::ConfigError> {
        match scan(&bytes, &wanted) {
            Some(scanned) => {
                let mut document = Map::new();
                if let Some(auths) = scanned.auths {
                    document.insert("auths".into(), Value::Object(auths));
                }
                if let Some(name) = scanned.creds_store {
                    document.insert("credsStore".into(), Value::String(name));
                }
                if let Some(helpers) = scanned.cred_helpers {
                    document.insert("credHelpers".into(), Value::Object(helpers));
                }
                let mut config = ConfigFile::empty(path);
                config.document = document;
                config.exists = true;
                config.lookup_only_had_auths = scanned.had_auths;
                Ok(config)
            }
            // Whatever the scan did not accept, the full parse explains (or accepts: then it
            // was only unusual, and the full result is as good).
            None => ConfigFile::parse_existing(path, bytes),
        }
    }
}

fn scan(bytes: &[u8], wanted: &dyn Fn(&str) -> bool) -> Option<Scanned> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let scanned = deserializer.deserialize_map(TopLevel { wanted }).ok()?;
    deserializer.end().ok()?;
    Some(scanned)
}

struct TopLevel<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Scanned;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a config object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scanned, A::Error> {
        let mut keys = KeySet::default();
        let mut scanned = Scanned::default();
        while let Some(KeyText(key)) = map.next_key::<KeyText<'de>>()? {
            keys.insert::<A::Error>(key.clone())?;
            match key.as_ref() {
                "auths" => {
                    let (auths, had) = map.next_value_seed(Auths {
                        wanted: self.wanted,
                    })?;
                    scanned.auths = auths;
                    scanned.had_auths = had;
                }
                "credsStore" => {
                    scanned.creds_store = Some(map.next_value::<KeyText<'de>>()?.0.into_owned());
                }
                "currentContext" => {
                    map.next_value::<KeyText<'de>>()?;
                }
                "credHelpers" => scanned.cred_helpers = Some(map.next_value_seed(Helpers)?),
                _ => map.next_value_seed(DuplicateKeyCheck)?,
            }
        }
        Ok(scanned)
    }
}

/// `auths`: null, or an object of entries. Returns the wanted entries and whether any existed.
struct Auths<'w> {
    wanted: &'w dyn Fn(&str) -> bool,
}

impl<'de> DeserializeSeed<'de> for Auths<'_> {
    type Value = (Option<Map<String, Value>>, bool);

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Auths<'_> {
    type Value = (Option<Map<String, Value>>, bool);

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an auths object")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((None, false))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = KeySet::default();
        let mut kept = Vec::new();
        let mut had = false;
        while let Some(KeyText(key)) = map.next_key::<KeyText<'de>>()? {
            keys.insert::<A::Error>(key.clone())?;
            had = true;
            let keep = (self.wanted)(&key);
            let entry = map.next_value_seed(Entry { keep })?;
            if let Some(entry) = entry {
                kept.push((key.into_owned(), Value::Object(entry)));
            }
        }
        // In file order: a lookup by host name takes the first matching key, as on the full file.
        Ok((Some(kept.into_iter().collect()), had))
    }
}

/// One `auths` entry: an object whose known fields are strings (or null) and whose `auth`
/// decodes. Its known fields are returned when `keep`.
struct Entry {
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for Entry {
    type Value = Option<Map<String, Value>>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry {
    type Value = Option<Map<String, Value>>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("an auths entry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = KeySet::default();
        let mut fields = Map::new();
        while let Some(KeyText(name)) = map.next_key::<KeyText<'de>>()? {
            keys.insert::<A::Error>(name.clone())?;
            if !ENTRY_STRING_FIELDS.contains(&name.as_ref()) {
                map.next_value_seed(DuplicateKeyCheck)?;
                continue;
            }
            let Some(KeyText(text)) = map.next_value::<Option<KeyText<'de>>>()? else {
                continue;
            };
            if name == "auth" && !text.is_empty() {
                check_auth(&text).map_err(A::Error::custom)?;
            }
            if self.keep {
                fields.insert(name.into_owned(), Value::String(text.into_owned()));
            }
        }
        Ok(self.keep.then_some(fields))
    }
}

/// `credHelpers`: an object of helper names.
struct Helpers;

impl<'de> DeserializeSeed<'de> for Helpers {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Helpers {
    type Value = Map<String, Value>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a credHelpers object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut keys = KeySet::default();
        let mut helpers = Map::new();
        while let Some(KeyText(host)) = map.next_key::<KeyText<'de>>()? {
            keys.insert::<A::Error>(host.clone())?;
            let KeyText(name) = map.next_value::<KeyText<'de>>()?;
            helpers.insert(host.into_owned(), Value::String(name.into_owned()));
        }
        Ok(helpers)
    }
}
