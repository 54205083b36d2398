//! `config.json`: where it lives, reading it, and changing it without losing anything.
//!
//! The document is kept as ordered raw JSON, so keys reglogin does not own (and `auths` entries
//! it does not touch) survive a load/save unchanged. A file that cannot be read completely is an
//! error and is never written. Changes go through [`update`], which holds the config lock,
//! re-reads the file, applies the change, and writes only if something changed.

mod format;
mod lookup;
pub(crate) mod write;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::credentials::Credentials;
use crate::secret::Secret;

pub use format::{DOCKER_KEY_ORDER, to_docker_bytes};

pub const CONFIG_FILE_NAME: &str = "config.json";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not valid JSON: {message} (line {line}, column {column}); fix the file or move it away, reglogin will not overwrite it"
    )]
    Syntax {
        path: PathBuf,
        message: String,
        line: usize,
        column: usize,
    },
    #[error(
        "{path}: {field}: {problem}; fix the file or move it away, reglogin will not overwrite it"
    )]
    Invalid {
        path: PathBuf,
        field: String,
        problem: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "gave up on {path} after {}s without progress: {} holds it",
        waited.as_secs(),
        holder.map_or_else(|| "another reglogin".to_owned(), |pid| format!("process {pid}"))
    )]
    LockTimeout {
        path: PathBuf,
        waited: Duration,
        holder: Option<u32>,
    },
}

/// The config directory: `--config DIR`, else `$DOCKER_CONFIG` (empty counts as unset), else
/// `$HOME/.docker`.
pub fn config_dir(override_dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = override_dir {
        return dir.to_path_buf();
    }
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => home_dir().join(".docker"),
    }
}

pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// A loaded `config.json`.
#[derive(Clone)]
pub struct ConfigFile {
    path: PathBuf,
    document: Map<String, Value>,
    exists: bool,
    /// The bytes it was parsed from: [`update_loaded`] re-reads the file under the lock and
    /// reuses this parse when nothing changed in between.
    source: Option<Vec<u8>>,
    /// Set by every method that changes the document, only when the value really differs, so
    /// an unchanged file is not rewritten without comparing whole documents.
    changed: bool,
    /// Loaded by [`ConfigFile::load_for_lookup`], which keeps only some `auths` entries: whether
    /// the file had any.
    lookup_only_had_auths: bool,
}

/// Names the file and its registries, never the entries (they hold credentials).
impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("exists", &self.exists)
            .field("auths", &self.auth_keys())
            .field("credsStore", &self.creds_store())
            .finish_non_exhaustive()
    }
}

impl ConfigFile {
    /// Reads and checks the file. A missing file is an empty config, as in Docker.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        crate::debug_line!("reading {}", path.display());
        match read_if_present(path)? {
            Some(bytes) => ConfigFile::parse_existing(path, bytes),
            None => Ok(ConfigFile::empty(path)),
        }
    }

    fn parse_existing(path: &Path, bytes: Vec<u8>) -> Result<ConfigFile, ConfigError> {
        let mut config = ConfigFile::parse(path, &bytes)?;
        config.exists = true;
        config.source = Some(bytes);
        Ok(config)
    }

    pub fn empty(path: &Path) -> ConfigFile {
        ConfigFile {
            path: path.to_path_buf(),
            document: Map::new(),
            exists: false,
            source: None,
            changed: false,
            lookup_only_had_auths: false,
        }
    }

    /// Parses file contents. Empty, whitespace-only and `null` are an empty config (Docker
    /// accepts them); anything else must be one JSON object with the types Docker expects.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<ConfigFile, ConfigError> {
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            let value = serde_json::from_slice(bytes).map_err(|err| ConfigError::Syntax {
                path: path.to_path_buf(),
                message: syntax_message(&err),
                line: err.line(),
                column: err.column(),
            })?;
            // Counting keys is a fraction of the cost of the full check, which also finds where
            // the duplicate is: it runs only when the counts say there is one.
            if count_keys_in_text(bytes) != count_keys_in_value(&value) {
                check_no_duplicate_keys(path, bytes)?;
            }
            value
        };
        let document = match value {
            Value::Null => Map::new(),
            Value::Object(map) => map,
            other => {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    field: "top level".into(),
                    problem: format!("expected a JSON object, found {}", kind(&other)),
                });
            }
        };
        let config = ConfigFile {
            path: path.to_path_buf(),
            document,
            exists: false,
            source: None,
            changed: false,
            lookup_only_had_auths: false,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        for field in ["credsStore", "currentContext"] {
            if let Some(value) = self.document.get(field)
                && !value.is_string()
            {
                return Err(
                    self.invalid(field, format!("expected a string, found {}", kind(value)))
                );
            }
        }
        if let Some(helpers) = self.document.get("credHelpers") {
            let map = helpers.as_object().ok_or_else(|| {
                self.invalid(
                    "credHelpers",
                    format!("expected an object, found {}", kind(helpers)),
                )
            })?;
            for (host, name) in map {
                if !name.is_string() {
                    return Err(self.invalid(
                        &format!("credHelpers[\"{host}\"]"),
                        format!("expected a helper name (string), found {}", kind(name)),
                    ));
                }
            }
        }
        if let Some(auths) = self.document.get("auths") {
            if auths.is_null() {
                return Ok(());
            }
            let map = auths.as_object().ok_or_else(|| {
                self.invalid(
                    "auths",
                    format!("expected an object, found {}", kind(auths)),
                )
            })?;
            for (key, entry) in map {
                self.check_entry(key, entry)?;
            }
        }
        Ok(())
    }

    fn invalid(&self, field: &str, problem: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            field: field.to_owned(),
            problem,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn exists(&self) -> bool {
        self.exists
    }

    pub fn document(&self) -> &Map<String, Value> {
        &self.document
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        if self.document.get("auths").is_some_and(Value::is_object) {
            let capacity = self
                .source
                .as_ref()
                .map_or(256, |source| source.len() + 256);
            return format::to_docker_bytes_sized(&self.document, capacity);
        }
        let mut document = self.document.clone();
        // Docker always writes `auths`, first.
        if !document.get("auths").is_some_and(Value::is_object) {
            document.remove("auths");
            format::insert_top_level(&mut document, "auths", Value::Object(Map::new()));
        }
        to_docker_bytes(&document)
    }

    fn auths(&self) -> Option<&Map<String, Value>> {
        self.document.get("auths").and_then(Value::as_object)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        if !self.document.get("auths").is_some_and(Value::is_object) {
            self.document.remove("auths");
            format::insert_top_level(&mut self.document, "auths", Value::Object(Map::new()));
        }
        self.document
            .get_mut("auths")
            .and_then(Value::as_object_mut)
            .expect("auths was just made an object")
    }

    /// Keys of `auths`, in file order.
    pub fn auth_keys(&self) -> Vec<String> {
        self.auths()
            .map(|auths| auths.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn has_auth_entry(&self, key: &str) -> bool {
        self.auths().is_some_and(|auths| auths.contains_key(key))
    }

    /// The credentials the file itself holds for `key` (the file store), if any.
    pub fn file_credentials(&self, key: &str) -> Option<Credentials> {
        self.decode_entry(key)
            .ok()
            .flatten()
            .filter(|creds| !creds.is_empty())
    }

    /// What [`ConfigFile::decode_entry`] would refuse, found without building credentials: every
    /// entry is checked on load (as Docker decodes every entry), so this runs 10,000 times for a
    /// 10,000-entry file and must not allocate.
    fn check_entry(&self, key: &str, entry: &Value) -> Result<(), ConfigError> {
        let field = |name: &str| format!("auths[\"{key}\"]{name}");
        let entry = entry.as_object().ok_or_else(|| {
            self.invalid(
                &field(""),
                format!("expected an object, found {}", kind(entry)),
            )
        })?;
        // One pass over the fields present (usually one): no lookups by name.
        for (name, value) in entry {
            if !ENTRY_STRING_FIELDS.contains(&name.as_str()) {
                continue;
            }
            match value {
                Value::Null => {}
                Value::String(text) if name == "auth" && !text.is_empty() => {
                    check_auth(text)
                        .map_err(|problem| self.invalid(&field(".auth"), problem.to_owned()))?;
                }
                Value::String(_) => {}
                other => {
                    return Err(self.invalid(
                        &field(&format!(".{name}")),
                        format!("expected a string, found {}", kind(other)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn decode_entry(&self, key: &str) -> Result<Option<Credentials>, ConfigError> {
        let Some(value) = self.auths().and_then(|auths| auths.get(key)) else {
            return Ok(None);
        };
        // The same checks as on load, so the errors are the same; after them every known field
        // is a string or null and `auth` decodes.
        self.check_entry(key, value)?;
        let Some(entry) = value.as_object() else {
            return Ok(None);
        };
        let string = |name: &str| entry.get(name).and_then(Value::as_str);
        let non_empty = |name: &str| string(name).filter(|text| !text.is_empty());
        let mut creds = Credentials::default();
        if let Some(username) = string("username") {
            creds.username = username.to_owned();
        }
        if let Some(password) = string("password") {
            creds.password = Secret::new(password);
        }
        if let Some(auth) = non_empty("auth") {
            let (username, password) = decode_auth(auth).map_err(|problem| {
                self.invalid(&format!("auths[\"{key}\"].auth"), problem.into())
            })?;
            creds.username = username;
            creds.password = password;
        }
        creds.identity_token = non_empty("identitytoken").map(Secret::new);
        creds.registry_token = non_empty("registrytoken").map(Secret::new);
        Ok(Some(creds))
    }

    /// Saves credentials in the file store: base64 `user:password` in `auth`, the identity token
    /// beside it. Fields of the entry that are not credentials (`email`, unknown ones) are kept.
    pub fn set_file_credentials(&mut self, key: &str, creds: &Credentials) {
        let mut entry = self.entry_without_credentials(key);
        let mut fields = Map::new();
        if !creds.username.is_empty() || !creds.password.is_empty() {
            let plain = Secret::new(format!("{}:{}", creds.username, creds.password.expose()));
            fields.insert("auth".into(), Value::String(BASE64.encode(plain.expose())));
        }
        if let Some(email) = entry.remove("email") {
            fields.insert("email".into(), email);
        }
        if let Some(token) = &creds.identity_token {
            fields.insert(
                "identitytoken".into(),
                Value::String(token.expose().to_owned()),
            );
        }
        if let Some(token) = &creds.registry_token {
            fields.insert(
                "registrytoken".into(),
                Value::String(token.expose().to_owned()),
            );
        }
        fields.extend(entry);
        self.set_auth_entry(key, fields);
    }

    /// Marks `key` as held by a credential helper: Docker keeps an entry with no credentials in
    /// it (`{}`), which is how other tools learn that the registry has a login.
    pub fn set_helper_placeholder(&mut self, key: &str) {
        let entry = self.entry_without_credentials(key);
        self.set_auth_entry(key, entry);
    }

    fn set_auth_entry(&mut self, key: &str, entry: Map<String, Value>) {
        let unchanged = self
            .auths()
            .and_then(|auths| auths.get(key))
            .and_then(Value::as_object)
            .is_some_and(|existing| *existing == entry);
        if !unchanged {
            format::insert_sorted(self.auths_mut(), key, Value::Object(entry));
            self.changed = true;
        }
    }

    fn entry_without_credentials(&self, key: &str) -> Map<String, Value> {
        let mut entry = self
            .auths()
            .and_then(|auths| auths.get(key))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for field in [
            "auth",
            "username",
            "password",
            "identitytoken",
            "registrytoken",
            "serveraddress",
        ] {
            entry.shift_remove(field);
        }
        entry
    }

    /// Removes `key` from `auths`; true if it was there.
    pub fn remove_auth(&mut self, key: &str) -> bool {
        match self
            .document
            .get_mut("auths")
            .and_then(Value::as_object_mut)
        {
            Some(auths) => {
                let removed = auths.shift_remove(key).is_some();
                self.changed |= removed;
                removed
            }
            None => false,
        }
    }

    pub fn creds_store(&self) -> Option<&str> {
        self.document
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
    }

    pub fn set_creds_store(&mut self, name: &str) {
        if self.document.get("credsStore").and_then(Value::as_str) != Some(name) {
            format::insert_top_level(&mut self.document, "credsStore", Value::String(name.into()));
            self.changed = true;
        }
    }

    /// The helper `credHelpers` names for `key`, if any.
    pub fn cred_helper(&self, key: &str) -> Option<&str> {
        self.document
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| helpers.get(key))
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
    }

    /// Names `helper` as the credential helper of `host` in `credHelpers` (as
    /// `gcloud auth configure-docker` does); the file changes only if the entry differs.
    pub fn set_cred_helper(&mut self, host: &str, helper: &str) {
        if self.cred_helper(host) == Some(helper) {
            return;
        }
        if !self
            .document
            .get("credHelpers")
            .is_some_and(Value::is_object)
        {
            self.document.remove("credHelpers");
            format::insert_top_level(&mut self.document, "credHelpers", Value::Object(Map::new()));
        }
        let helpers = self
            .document
            .get_mut("credHelpers")
            .and_then(Value::as_object_mut)
            .expect("credHelpers was just made an object");
        format::insert_sorted(helpers, host, Value::String(helper.to_owned()));
        self.changed = true;
    }

    pub fn cred_helpers(&self) -> Vec<(String, String)> {
        self.document
            .get("credHelpers")
            .and_then(Value::as_object)
            .map(|helpers| {
                helpers
                    .iter()
                    .filter_map(|(host, name)| Some((host.clone(), name.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Docker detects a default store only for a config with no auth information at all.
    pub fn has_auth_information(&self) -> bool {
        self.creds_store().is_some()
            || self
                .document
                .get("credHelpers")
                .and_then(Value::as_object)
                .is_some_and(|helpers| !helpers.is_empty())
            || self.auths().is_some_and(|auths| !auths.is_empty())
            || self.lookup_only_had_auths
    }
}

/// Decodes an `auth` value as Docker does: standard base64 of `user:password`, split at the first
/// colon, NULs trimmed from the password.
/// The string fields of an `auths` entry, as Docker's AuthConfig has them.
const ENTRY_STRING_FIELDS: [&str; 7] = [
    "username",
    "password",
    "auth",
    "identitytoken",
    "registrytoken",
    "email",
    "serveraddress",
];

/// [`decode_auth`]'s checks, decoding into a stack buffer (wiped afterwards) when the value fits.
fn check_auth(auth: &str) -> Result<(), &'static str> {
    let mut buffer = [0u8; 384];
    match BASE64.decode_slice(auth, &mut buffer[..]) {
        Ok(length) => {
            let verdict = check_decoded_auth(&buffer[..length]);
            // Only the decoded bytes held the secret.
            zeroize::Zeroize::zeroize(&mut buffer[..length]);
            verdict
        }
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            let decoded = zeroize::Zeroizing::new(BASE64.decode(auth).map_err(|_| BASE64_PROBLEM)?);
            check_decoded_auth(&decoded)
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => Err(BASE64_PROBLEM),
    }
}

fn check_decoded_auth(decoded: &[u8]) -> Result<(), &'static str> {
    let text = std::str::from_utf8(decoded).map_err(|_| UTF8_PROBLEM)?;
    match memchr::memchr(b':', text.as_bytes()) {
        None => Err(NO_COLON_PROBLEM),
        Some(0) => Err(EMPTY_USER_PROBLEM),
        Some(_) => Ok(()),
    }
}

const BASE64_PROBLEM: &str = "not valid base64 (expected base64 of user:password)";
const UTF8_PROBLEM: &str = "decodes to bytes that are not UTF-8";
const NO_COLON_PROBLEM: &str = "decodes to a value without ':' (expected base64 of user:password)";
const EMPTY_USER_PROBLEM: &str = "decodes to an empty username";

pub fn decode_auth(auth: &str) -> Result<(String, Secret), &'static str> {
    let decoded = Secret::new(
        String::from_utf8(BASE64.decode(auth).map_err(|_| BASE64_PROBLEM)?)
            .map_err(|_| UTF8_PROBLEM)?,
    );
    let (username, password) = decoded.expose().split_once(':').ok_or(NO_COLON_PROBLEM)?;
    if username.is_empty() {
        return Err(EMPTY_USER_PROBLEM);
    }
    Ok((
        username.to_owned(),
        Secret::new(password.trim_matches('\0')),
    ))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn syntax_message(err: &serde_json::Error) -> String {
    // serde_json appends " at line L column C" itself; the error names them separately.
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_owned(),
        None => text,
    }
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The number of object keys written in a JSON text that has parsed: strings followed by ':'.
fn count_keys_in_text(bytes: &[u8]) -> usize {
    let mut keys = 0;
    let mut index = 0;
    while let Some(offset) = memchr::memchr(b'"', &bytes[index..]) {
        // Skip to the closing quote: a quote preceded by an odd run of backslashes is escaped.
        let mut end = index + offset + 1;
        loop {
            let Some(next) = memchr::memchr(b'"', &bytes[end..]) else {
                return keys;
            };
            let quote = end + next;
            let backslashes = bytes[..quote]
                .iter()
                .rev()
                .take_while(|&&byte| byte == b'\\')
                .count();
            end = quote + 1;
            if backslashes % 2 == 0 {
                break;
            }
        }
        let after = bytes[end..].iter().find(|byte| !byte.is_ascii_whitespace());
        if after == Some(&b':') {
            keys += 1;
        }
        index = end;
    }
    keys
}

/// The number of keys in every object of a parsed document (duplicates counted once).
fn count_keys_in_value(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.len() + map.values().map(count_keys_in_value).sum::<usize>(),
        Value::Array(items) => items.iter().map(count_keys_in_value).sum(),
        _ => 0,
    }
}

/// Refuses a document in which one object names the same key twice. serde_json keeps the last of
/// them while Go merges duplicate objects, so reglogin would read something other than Docker
/// does, and a save would silently drop the first. A second pass: it keeps nothing but keys.
fn check_no_duplicate_keys(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    use serde::de::Deserializer as _;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer
        .deserialize_any(DuplicateKeyCheck)
        .map_err(|err| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: syntax_message(&err),
            line: err.line(),
            column: err.column(),
        })
}

/// Walks a JSON value, keeping nothing but the keys of the object being read.
struct DuplicateKeyCheck;

impl<'de> serde::de::Visitor<'de> for DuplicateKeyCheck {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = KeySet::default();
        while let Some(KeyText(key)) = map.next_key::<KeyText<'de>>()? {
            keys.insert::<A::Error>(key)?;
            map.next_value_seed(DuplicateKeyCheck)?;
        }
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(DuplicateKeyCheck)?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The keys of one object so far. Most objects (each `auths` entry) have a few keys: a scan beats
/// hashing them; `auths` itself can have thousands and gets a set once it grows.
#[derive(Default)]
struct KeySet<'de> {
    few: Vec<Cow<'de, str>>,
    many: HashSet<Cow<'de, str>, std::hash::BuildHasherDefault<Fnv1a>>,
}

/// FNV-1a: keys of one's own config file need no protection from crafted collisions, and
/// SipHash over 10,000 `auths` keys was a visible part of reading a large file.
#[derive(Default)]
struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for byte in bytes {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = hash;
    }
}

impl<'de> KeySet<'de> {
    const SCAN_LIMIT: usize = 16;

    /// Adds `key`; a key already there is the duplicate-key error.
    fn insert<E: serde::de::Error>(&mut self, key: Cow<'de, str>) -> Result<(), E> {
        let duplicate = if self.many.is_empty() {
            let found = self.few.contains(&key);
            if !found && self.few.len() == Self::SCAN_LIMIT {
                self.many.extend(self.few.drain(..));
                self.many.insert(key.clone());
            } else if !found {
                self.few.push(key.clone());
            }
            found
        } else {
            !self.many.insert(key.clone())
        };
        if duplicate {
            return Err(E::custom(format_args!(
                "duplicate key {key:?}; a save would keep only one of them"
            )));
        }
        Ok(())
    }
}

/// An object key (or any string), borrowed from the input unless it holds escapes.
struct KeyText<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = KeyText<'de>;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for DuplicateKeyCheck {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Read-modify-write under the config lock. The file is re-read under the lock, so concurrent
/// writers each see the others' changes; it is written only if `change` changed the document.
pub fn update<T, E>(
    path: &Path,
    change: impl FnOnce(&mut ConfigFile) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<ConfigError>,
{
    update_inner(path, None, change)
}

/// As [`update`], for a config loaded earlier (a login reads it before asking the registry): the
/// file is still re-read under the lock, and the earlier parse is reused if the bytes are the
/// same, sparing a second parse of a large file.
pub fn update_loaded<T, E>(
    loaded: ConfigFile,
    change: impl FnOnce(&mut ConfigFile) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<ConfigError>,
{
    let path = loaded.path.clone();
    update_inner(&path, Some(loaded), change)
}

fn update_inner<T, E>(
    path: &Path,
    loaded: Option<ConfigFile>,
    change: impl FnOnce(&mut ConfigFile) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<ConfigError>,
{
    let target = write::resolve_target(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(dir) = target.parent() {
        write::ensure_dir(dir)?;
    }
    let _lock = write::ConfigLock::acquire(&target)?;
    crate::debug_line!("reading {}", path.display());
    let current = read_if_present(path)?;
    let mut config = match loaded {
        Some(mut loaded) if loaded.source == current && !loaded.changed => {
            loaded.exists = current.is_some();
            loaded
        }
        _ => match current {
            Some(bytes) => ConfigFile::parse_existing(path, bytes)?,
            None => ConfigFile::empty(path),
        },
    };
    let result = change(&mut config)?;
    if config.changed || (!config.exists && !config.document.is_empty()) {
        write::replace_file(&target, &config.to_bytes())?;
        crate::debug_line!("wrote {}", target.display());
    } else {
        crate::debug_line!("{} unchanged, not rewritten", target.display());
    }
    // Freeing a large document piece by piece takes about a millisecond for 10,000 entries: do
    // it off the caller's path (and after the lock is released). A CLI exits without waiting for
    // it; a long-running caller gets the memory back a moment later.
    if config
        .source
        .as_ref()
        .is_some_and(|source| source.len() > LARGE_DOCUMENT)
    {
        let _ = std::thread::Builder::new().spawn(move || drop(config));
    }
    Ok(result)
}

/// A config whose tree is worth freeing on another thread (about 1,000 entries).
const LARGE_DOCUMENT: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
        ConfigFile::parse(Path::new("/x/config.json"), text.as_bytes())
    }

    #[test]
    fn empty_and_null_files_are_empty_configs() {
        for text in ["", "  \n", "null", "{}"] {
            let config = parse(text).unwrap();
            assert!(!config.has_auth_information(), "{text:?}");
        }
    }

    #[test]
    fn bad_files_name_the_place_and_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("{\n\"auths\": {", "line 2, column 10"),
            ("[]", "top level: expected a JSON object, found an array"),
            ("{} xyz", "trailing characters (line 1, column 4)"),
            (
                r#"{"auths": []}"#,
                "auths: expected an object, found an array",
            ),
            (r#"{"auths": {"r": 1}}"#, "auths[\"r\"]: expected an object"),
            (
                r#"{"auths": {"r": {"auth": 5}}}"#,
                "auths[\"r\"].auth: expected a string",
            ),
            (
                r#"{"auths": {"r": {"auth": "!!"}}}"#,
                "auths[\"r\"].auth: not valid base64",
            ),
            (r#"{"auths": {"r": {"auth": "YWxpY2U="}}}"#, "without ':'"),
            (r#"{"auths": {"r": {"auth": "OnB3"}}}"#, "empty username"),
            (r#"{"credsStore": 3}"#, "credsStore: expected a string"),
            (r#"{"credHelpers": {"h": true}}"#, "credHelpers[\"h\"]"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
            assert!(message.contains("/x/config.json"), "{message}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let text = "{\"auths\": {\"a\": {}},\n \"auths\": {\"b\": {}}}";
        let path = Path::new("/x/config.json");
        let message = parse(text).unwrap_err().to_string();
        assert!(message.contains("duplicate key \"auths\""), "{message}");
        assert!(message.contains("line 2, column 8"), "{message}");
        assert!(message.contains("/x/config.json"), "{message}");
        let nested = r#"{"auths": {"r": {"auth": "YTpi", "x": 1e400, "auth": "YTpj"}}}"#;
        assert!(check_no_duplicate_keys(path, nested.as_bytes()).is_err());
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        for duplicate in ["k3", "k20", "k39"] {
            let text = format!("{{{}, \"{duplicate}\": 0}}", many.join(", "));
            let message = parse(&text).unwrap_err().to_string();
            assert!(
                message.contains(&format!("duplicate key \"{duplicate}\"")),
                "{message}"
            );
        }
        parse(&format!("{{{}}}", many.join(", "))).unwrap();
        let tricky = r#"{"a\"": "b\\", "c": ["\\\":", {"d": "e:"}], "f" : 1}"#;
        assert_eq!(count_keys_in_text(tricky.as_bytes()), 4);
        parse(tricky).unwrap();
        let escaped = r#"{"a\u0062": 1, "ab": 2}"#;
        assert!(
            parse(escaped)
                .unwrap_err()
                .to_string()
                .contains("duplicate key \"ab\"")
        );
        let distinct = r#"{"auths": {"r": {"n": [1, {"a": 1}, {"a": 2}], "big": 1e400}}, "a": 1}"#;
        check_no_duplicate_keys(path, distinct.as_bytes()).unwrap();
    }

    fn scratch_config(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "reglogin-config-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn alice() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: Secret::new("pw"),
            ..Credentials::default()
        }
    }

    #[test]
    fn an_earlier_load_is_reused_only_while_the_file_is_the_same() {
        let path = scratch_config("reuse", "{\"auths\": {}}");
        let loaded = ConfigFile::load(&path).unwrap();
        // Another writer changes the file between the load and the update.
        std::fs::write(&path, r#"{"auths": {"other.example": {"auth": "YTpi"}}}"#).unwrap();
        update_loaded::<_, ConfigError>(loaded, |config| {
            config.set_file_credentials("mine.example", &alice());
            Ok(())
        })
        .unwrap();
        let after = ConfigFile::load(&path).unwrap();
        assert_eq!(after.auth_keys(), ["mine.example", "other.example"]);

        // Unchanged since the load: the same login again writes nothing.
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        update_loaded::<_, ConfigError>(after, |config| {
            config.set_file_credentials("mine.example", &alice());
            Ok(())
        })
        .unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
    }

    #[test]
    fn debug_shows_registries_but_not_their_credentials() {
        let config =
            parse(r#"{"auths": {"r.example": {"auth": "YWxpY2U6aHVudGVyMg=="}}}"#).unwrap();
        let printed = format!("{config:?}");
        assert!(printed.contains("r.example"), "{printed}");
        assert!(!printed.contains("YWxpY2U6aHVudGVyMg"), "{printed}");
    }

    /// Seeded documents for the property below.
    struct DocumentGenerator(u64);

    impl DocumentGenerator {
        const PIECES: &[&str] = &["a", "b", "\\\"", "\\\\", "\\u0061", ":", "\": ", " "];

        fn below(&mut self, bound: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % bound as u64) as usize
        }

        fn string(&mut self) -> String {
            let mut text = String::from("\"");
            for _ in 0..self.below(3) {
                text.push_str(Self::PIECES[self.below(Self::PIECES.len())]);
            }
            text.push('"');
            text
        }

        fn value(&mut self, depth: usize) -> String {
            match self.below(if depth > 3 { 2 } else { 4 }) {
                0 => self.string(),
                1 => "1e400".into(),
                2 => {
                    let items: Vec<String> =
                        (0..self.below(3)).map(|_| self.value(depth + 1)).collect();
                    format!("[{}]", items.join(","))
                }
                _ => {
                    let fields: Vec<String> = (0..self.below(4))
                        .map(|_| format!("{} : {}", self.string(), self.value(depth + 1)))
                        .collect();
                    format!("{{{}}}", fields.join(", "))
                }
            }
        }
    }

    /// The key count that lets a load skip the full duplicate check must agree with that check
    /// on every document: generated objects with few distinct keys (so duplicates are common),
    /// keys and strings full of quotes, backslashes, escapes and `":`.
    #[test]
    fn key_counting_agrees_with_the_full_duplicate_check() {
        let mut generator = DocumentGenerator(0x9e37_79b9_7f4a_7c15);
        let path = Path::new("/x/config.json");
        let (mut with_duplicates, mut without) = (0, 0);
        for _ in 0..5000 {
            let text = format!("{{\"x\": {}}}", generator.value(0));
            let Ok(parsed) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let counts_differ = count_keys_in_text(text.as_bytes()) != count_keys_in_value(&parsed);
            let refused = check_no_duplicate_keys(path, text.as_bytes()).is_err();
            assert_eq!(counts_differ, refused, "{text}");
            if refused {
                with_duplicates += 1;
            } else {
                without += 1;
            }
        }
        assert!(
            with_duplicates > 100 && without > 100,
            "{with_duplicates} / {without}"
        );
    }

    #[test]
    fn the_allocation_free_check_agrees_with_the_decoder() {
        let long = BASE64.encode(format!("user:{}", "p".repeat(1000)));
        let long_bad = BASE64.encode("x".repeat(1000));
        for auth in [
            "YTpi", "OnB3", "YWxpY2U=", "!!", "", "YTpi=", "/w==", &long, &long_bad,
        ] {
            assert_eq!(check_auth(auth), decode_auth(auth).map(drop), "{auth:.20}");
        }
    }

    #[test]
    fn auth_entries_decode_as_docker_decodes_them() {
        let config = parse(
            r#"{"auths": {
                "a": {"auth": "YWxpY2U6d29uZGVybGFuZA=="},
                "b": {"username": "bob", "password": "pw"},
                "c": {"auth": "YWxpY2U6cHcAAA==", "username": "ignored"},
                "d": {"auth": "YWxpY2U6", "identitytoken": "tok"},
                "e": {}
            }}"#,
        )
        .unwrap();
        let a = config.file_credentials("a").unwrap();
        assert_eq!(
            (a.username.as_str(), a.password.expose()),
            ("alice", "wonderland")
        );
        let b = config.file_credentials("b").unwrap();
        assert_eq!((b.username.as_str(), b.password.expose()), ("bob", "pw"));
        let c = config.file_credentials("c").unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("alice", "pw"));
        let d = config.file_credentials("d").unwrap();
        assert_eq!(d.identity_token.unwrap().expose(), "tok");
        assert!(config.file_credentials("e").is_none());
        assert!(config.has_auth_entry("e"));
    }

    #[test]
    fn saving_credentials_keeps_order_and_unknown_fields() {
        let mut config = parse(
            r#"{"zeta": 1, "auths": {"b": {"email": "e@x", "x-note": 1, "auth": "YWxpY2U6eA=="}}, "alpha": [1.50]}"#,
        )
        .unwrap();
        config.set_file_credentials("b", &Credentials::basic("bob", "pw"));
        config.set_file_credentials("a", &Credentials::basic("alice", "wonderland"));
        config.set_helper_placeholder("c");
        let text = String::from_utf8(config.to_bytes()).unwrap();
        let expected = "{\n\t\"zeta\": 1,\n\t\"auths\": {\n\t\t\"a\": {\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t},\n\t\t\"b\": {\n\t\t\t\"auth\": \"Ym9iOnB3\",\n\t\t\t\"email\": \"e@x\",\n\t\t\t\"x-note\": 1\n\t\t},\n\t\t\"c\": {}\n\t},\n\t\"alpha\": [\n\t\t1.50\n\t]\n}";
        assert_eq!(text, expected);
    }

    #[test]
    fn identity_tokens_are_saved_with_an_empty_password() {
        let mut config = parse("").unwrap();
        let creds = Credentials {
            username: "alice".into(),
            identity_token: Some(Secret::new("rt-1")),
            ..Credentials::default()
        };
        config.set_file_credentials("r", &creds);
        let text = String::from_utf8(config.to_bytes()).unwrap();
        assert!(text.contains("\"auth\": \"YWxpY2U6\""), "{text}");
        assert!(text.contains("\"identitytoken\": \"rt-1\""), "{text}");
    }

    #[test]
    fn a_docker_hub_login_sorts_like_docker() {
        let mut config = parse(r#"{"auths": {"127.0.0.1:5001": {}}}"#).unwrap();
        config.set_helper_placeholder(crate::address::DOCKER_HUB_KEY);
        assert_eq!(
            config.auth_keys(),
            ["127.0.0.1:5001", crate::address::DOCKER_HUB_KEY]
        );
    }
}
