//! Credential stores: which store holds a registry key (`credHelpers` > `credsStore` > the
//! detected platform default > the file), and saving, reading and erasing through it. The file
//! store is `auths` in config.json; every other store is a `docker-credential-*` helper.
//! Every change happens inside one config transaction ([`crate::config::update`]), so the helper
//! call and the `auths` entry that records it cannot be interleaved with another writer's.

mod helper;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use helper::HelperStore;

use crate::address::convert_to_hostname;
use crate::config::{self, ConfigError, ConfigFile};
use crate::credentials::Credentials;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Docker's text (docker-credential-helpers `client.go`), with the helper named in `err`.
    #[error("error {action} credentials - err: {err}, out: `{out}`")]
    Helper {
        action: &'static str,
        err: String,
        out: String,
    },
    /// `DOCKER_AUTH_CONFIG` is set but unusable. Docker prints a line and ignores it; a CI job
    /// that meant to pass credentials this way is better told plainly.
    #[error("{AUTH_CONFIG_ENV} is set but cannot be used: {0}")]
    EnvConfig(String),
}

/// Docker 28.3+: a config document (`{"auths": {...}}`) in the environment, read in front of the
/// configured stores and never written. CI systems pass credentials this way without files.
pub const AUTH_CONFIG_ENV: &str = "DOCKER_AUTH_CONFIG";

/// The document `DOCKER_AUTH_CONFIG` holds, when the variable is set and not blank.
pub fn env_auth_config() -> Result<Option<ConfigFile>, StoreError> {
    let Some(text) = std::env::var_os(AUTH_CONFIG_ENV).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let text = text
        .into_string()
        .map_err(|_| StoreError::EnvConfig("the value is not UTF-8".into()))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    match ConfigFile::parse(Path::new(AUTH_CONFIG_ENV), text.as_bytes()) {
        Ok(config) => Ok(Some(config)),
        Err(ConfigError::Syntax {
            message,
            line,
            column,
            ..
        }) => Err(StoreError::EnvConfig(format!(
            "not valid JSON: {message} (line {line}, column {column})"
        ))),
        Err(ConfigError::Invalid { field, problem, .. }) => {
            Err(StoreError::EnvConfig(format!("{field}: {problem}")))
        }
        Err(other) => Err(StoreError::EnvConfig(other.to_string())),
    }
}

/// The credentials `DOCKER_AUTH_CONFIG` gives for `key`, looked up as the file store looks.
fn env_credentials(key: &str) -> Result<Option<(String, Credentials)>, StoreError> {
    Ok(env_auth_config()?.and_then(|env| file_lookup(&env, key)))
}

/// Where one registry's credentials live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    /// base64 in config.json's `auths`.
    File,
    /// A `docker-credential-<name>` helper; `detected` when no config names it.
    Helper { name: String, detected: bool },
}

#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// How long a helper may take for one call.
    pub helper_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            helper_timeout: crate::seconds_from_env(
                "REGLOGIN_HELPER_TIMEOUT",
                Duration::from_secs(60),
            ),
        }
    }
}

/// The store for `key`, as Docker's `GetCredentialsStore` picks it: `credHelpers` by the key's
/// hostname, then `credsStore`, then (for a config with no auth information yet) the platform's
/// default helper, then the file.
pub fn choose_store(config: &ConfigFile, key: &str) -> StoreChoice {
    let (choice, reason) = choose_store_and_why(config, key);
    crate::debug_line!("store for {key}: {choice:?} ({reason})");
    choice
}

fn choose_store_and_why(config: &ConfigFile, key: &str) -> (StoreChoice, &'static str) {
    if let Some(name) = config.cred_helper(convert_to_hostname(key)) {
        let choice = StoreChoice::Helper {
            name: name.to_owned(),
            detected: false,
        };
        return (choice, "credHelpers");
    }
    if let Some(name) = config.creds_store() {
        let choice = StoreChoice::Helper {
            name: name.to_owned(),
            detected: false,
        };
        return (choice, "credsStore");
    }
    if !config.has_auth_information()
        && let Some(name) = detect_default_store()
    {
        let choice = StoreChoice::Helper {
            name,
            detected: true,
        };
        return (
            choice,
            "detected: no store configured and no credentials in the file",
        );
    }
    (StoreChoice::File, "no helper configured or detected")
}

/// The platform's helper, when its program is installed. On Linux Docker takes `pass` whenever
/// the `pass` program exists, even in an uninitialised store where every login then fails;
/// reglogin takes it only when the password store is initialised, and otherwise moves on.
pub fn detect_default_store() -> Option<String> {
    let candidates: &[&str] = if cfg!(target_os = "macos") {
        &["osxkeychain"]
    } else if cfg!(windows) {
        &["wincred"]
    } else if find_program("pass").is_some() && pass_store_initialised() {
        &["pass", "secretservice"]
    } else {
        &["secretservice"]
    };
    candidates
        .iter()
        .filter(|name| **name != "secretservice" || session_bus_reachable())
        .find(|name| find_program(&format!("docker-credential-{name}")).is_some())
        .map(|name| (*name).to_owned())
}

/// The Secret Service lives on the session D-Bus. Without one (a server, a container, CI) Docker
/// still picks `secretservice` and every login fails with "Cannot autolaunch D-Bus without X11
/// $DISPLAY" (cli#7148); reglogin then falls back to the next store.
fn session_bus_reachable() -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|address| !address.is_empty()) {
        return true;
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .is_some_and(|dir| PathBuf::from(dir).join("bus").exists())
}

fn pass_store_initialised() -> bool {
    let store_dir = std::env::var_os("PASSWORD_STORE_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| config::home_dir().join(".password-store"));
    store_dir.join(".gpg-id").is_file()
}

/// The program's path on `PATH`, as `exec.LookPath` finds it.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Where a save ended up, for the messages the CLI prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// Unencrypted in the config file (Docker warns about this).
    InFile {
        path: PathBuf,
    },
    InHelper {
        name: String,
    },
}

/// Saves `creds` under `key` in the store that holds it, and records it in `auths`.
pub fn save(
    config_path: &Path,
    key: &str,
    creds: &Credentials,
    options: &StoreOptions,
) -> Result<Saved, StoreError> {
    config::update(config_path, |config| save_in(config, key, creds, options))
}

/// As [`save`], into a config loaded earlier (reused if the file has not changed since).
pub fn save_loaded(
    loaded: ConfigFile,
    key: &str,
    creds: &Credentials,
    options: &StoreOptions,
) -> Result<Saved, StoreError> {
    config::update_loaded(loaded, |config| save_in(config, key, creds, options))
}

fn save_in(
    config: &mut ConfigFile,
    key: &str,
    creds: &Credentials,
    options: &StoreOptions,
) -> Result<Saved, StoreError> {
    match choose_store(config, key) {
        StoreChoice::File => {
            config.set_file_credentials(key, creds);
            Ok(Saved::InFile {
                path: config.path().to_path_buf(),
            })
        }
        StoreChoice::Helper { name, detected } => {
            HelperStore::new(&name, options.helper_timeout).store(key, creds)?;
            config.set_helper_placeholder(key);
            if detected {
                config.set_creds_store(&name);
            }
            Ok(Saved::InHelper { name })
        }
    }
}

/// The credentials stored for `key`, from whichever store holds it.
pub fn load(
    config: &ConfigFile,
    key: &str,
    options: &StoreOptions,
) -> Result<Option<Credentials>, StoreError> {
    match choose_store(config, key) {
        StoreChoice::File => Ok(config.file_credentials(key)),
        StoreChoice::Helper { name, .. } => {
            HelperStore::new(&name, options.helper_timeout).get(key)
        }
    }
}

/// The credentials Docker would use for a registry host or image reference (Docker's
/// `GetAuthConfig`): Hub domains map to the Hub key; the file store also accepts an old
/// URL-shaped key whose host matches (`https://host/v1/`).
pub fn credentials_for(
    config: &ConfigFile,
    server: &str,
    options: &StoreOptions,
) -> Result<Option<(String, Credentials)>, StoreError> {
    let key = registry_key_for(server);
    if let Some(found) = env_credentials(&key)? {
        crate::debug_line!("credentials for {key} from {AUTH_CONFIG_ENV}");
        return Ok(Some(found));
    }
    match choose_store(config, &key) {
        StoreChoice::Helper { name, .. } => Ok(HelperStore::new(&name, options.helper_timeout)
            .get(&key)?
            .map(|creds| (key, creds))),
        StoreChoice::File => Ok(file_lookup(config, &key)),
    }
}

/// The config as far as one lookup of `server` needs it ([`ConfigFile::load_for_lookup`]): what
/// [`credentials_for`] reads, checked as the full file is, without building the whole document.
pub fn load_for_server(config_path: &Path, server: &str) -> Result<ConfigFile, ConfigError> {
    let key = registry_key_for(server);
    // Without a '/', a key is its own host name: the full conversion is for URL-shaped keys.
    ConfigFile::load_for_lookup(config_path, |stored| {
        stored == key
            || (memchr::memchr(b'/', stored.as_bytes()).is_some()
                && convert_to_hostname(stored) == key)
    })
}

/// The file store's answer for `key`: its entry, else an old URL-shaped key of the same host.
fn file_lookup(config: &ConfigFile, key: &str) -> Option<(String, Credentials)> {
    if let Some(creds) = config.file_credentials(key) {
        return Some((key.to_owned(), creds));
    }
    config
        .auth_keys()
        .into_iter()
        .filter(|stored| convert_to_hostname(stored) == key)
        .find_map(|stored| Some((stored.clone(), config.file_credentials(&stored)?)))
}

/// The `auths` key for what a user or tool names: a login-style address (`https://host/`), a
/// bare host, or an image reference (`ghcr.io/o/r:tag`, `alpine`).
pub fn registry_key_for(server: &str) -> String {
    let server = server.trim();
    if server.contains("://") || server == crate::address::DOCKER_HUB_KEY {
        return crate::address::login_key(Some(server));
    }
    crate::address::lookup_key(crate::address::image_domain(&format!("{server}/x")))
}

/// What `list_all` found, and the credHelpers hosts whose helper failed.
pub type Listing = (Vec<Listed>, Vec<(String, StoreError)>);

/// One registry with credentials, as `list` shows it; never the secret.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    pub registry: String,
    pub username: String,
    pub store: String,
}

/// Every registry with credentials, merged as Docker's `GetAllCredentials` merges them: the
/// default store's entries, then each `credHelpers` host from its own helper. A helper that fails
/// for one host costs only that host (reported in `failures`), as in Docker.
pub fn list_all(config: &ConfigFile, options: &StoreOptions) -> Result<Listing, StoreError> {
    let mut listed: std::collections::BTreeMap<String, Listed> = Default::default();
    let mut failures = Vec::new();
    match choose_store(config, "") {
        StoreChoice::File => {
            for key in config.auth_keys() {
                if let Some(creds) = config.file_credentials(&key) {
                    listed.insert(key.clone(), listed_entry(&key, &creds, "file"));
                }
            }
        }
        StoreChoice::Helper { name, .. } => {
            for (key, username) in HelperStore::new(&name, options.helper_timeout).list()? {
                let store = name.clone();
                listed.insert(
                    key.clone(),
                    Listed {
                        registry: key,
                        username,
                        store,
                    },
                );
            }
        }
    }
    for (host, name) in config.cred_helpers() {
        match HelperStore::new(&name, options.helper_timeout).get(&host) {
            Ok(Some(creds)) => {
                listed.insert(host.clone(), listed_entry(&host, &creds, &name));
            }
            Ok(None) => {}
            Err(err) => failures.push((host, err)),
        }
    }
    // What the environment gives is what every lookup gets first.
    if let Some(env) = env_auth_config()? {
        for key in env.auth_keys() {
            if let Some(creds) = env.file_credentials(&key) {
                listed.insert(key.clone(), listed_entry(&key, &creds, AUTH_CONFIG_ENV));
            }
        }
    }
    Ok((listed.into_values().collect(), failures))
}

fn listed_entry(key: &str, creds: &Credentials, store: &str) -> Listed {
    Listed {
        registry: key.to_owned(),
        username: if creds.identity_token.is_some() && creds.username.is_empty() {
            crate::helper_protocol::IDENTITY_TOKEN_USERNAME.to_owned()
        } else {
            creds.username.clone()
        },
        store: store.to_owned(),
    }
}

/// The result of erasing one key.
#[derive(Debug)]
pub struct Erased {
    pub key: String,
    pub outcome: Result<bool, StoreError>,
}

/// Erases each key from its store and from `auths`, all under one lock. A key whose helper fails
/// keeps its `auths` entry, as in Docker, so a later logout can try again.
pub fn erase(
    config_path: &Path,
    keys: &[String],
    options: &StoreOptions,
) -> Result<Vec<Erased>, StoreError> {
    config::update(config_path, |config| {
        let results = keys
            .iter()
            .map(|key| {
                let outcome = match choose_store(config, key) {
                    StoreChoice::File => Ok(config.remove_auth(key)),
                    StoreChoice::Helper { name, .. } => {
                        HelperStore::new(&name, options.helper_timeout)
                            .erase(key)
                            .map(|erased| config.remove_auth(key) || erased)
                    }
                };
                Erased {
                    key: key.clone(),
                    outcome,
                }
            })
            .collect();
        Ok::<_, StoreError>(results)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded choices for the property below.
    struct Choices(u64);

    impl Choices {
        fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            options[(self.0 % options.len() as u64) as usize]
        }
    }

    /// The one-pass lookup read answers every lookup as the full parse does, and refuses exactly
    /// the files the full parse refuses: 3000 generated configs × 5 servers.
    #[test]
    fn lookup_reads_answer_as_full_reads() {
        const KEYS: &[&str] = &[
            "r.example",
            "https://r.example/v1/",
            "http://r.example",
            "other.example:5000",
            "https://index.docker.io/v1/",
            "docker.io",
            "r.ex\\u0061mple",
        ];
        const ENTRIES: &[&str] = &[
            r#"{"auth": "YTpi"}"#,
            r#"{"auth": "Yzpk", "email": null}"#,
            r#"{"auth": "!!"}"#,
            r#"{"auth": ""}"#,
            r#"{"username": "u", "password": "p"}"#,
            r#"{}"#,
            r#"{"identitytoken": "t", "auth": "dTo="}"#,
            r#"{"auth": 5}"#,
            r#""text""#,
            r#"null"#,
            r#"{"auth": "YTpi", "x": {"y": 1, "y": 2}}"#,
            r#"{"auth": "YTpi", "auth": "Yzpk"}"#,
            r#"{"auth": "YTpi", "n": 1e400}"#,
        ];
        const EXTRAS: &[&str] = &[
            "",
            "",
            r#", "credsStore": "nothere""#,
            r#", "credsStore": null"#,
            r#", "credHelpers": {"r.example": "nothere"}"#,
            r#", "credHelpers": {"r.example": 5}"#,
            r#", "credHelpers": {}"#,
            r#", "currentContext": 1"#,
            r#", "other": [1, {"a": 1, "a": 2}]"#,
            r#", "other": {"big": 123456789012345678901234567890}"#,
            r#", "auths": {}"#,
        ];
        const SERVERS: &[&str] = &[
            "r.example",
            "other.example:5000/app",
            "alpine",
            "nothere.example",
            "https://r.example/v1/",
        ];
        let dir = std::env::temp_dir().join(format!("reglogin-lookup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        let mut choices = Choices(0x2545_f491_4f6c_dd1d);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..3000 {
            let entries: Vec<String> = (0..3)
                .map(|_| format!("\"{}\": {}", choices.pick(KEYS), choices.pick(ENTRIES)))
                .collect();
            let auths = match choices.pick(&["object", "object", "object", "null", "absent"]) {
                "object" => format!("\"auths\": {{{}}}", entries.join(", ")),
                "null" => "\"auths\": null".to_owned(),
                _ => "\"x\": 0".to_owned(),
            };
            let tail = choices.pick(&["", "", "", " trailing"]);
            let text = format!(
                "{{{auths}{}{}}}{tail}",
                choices.pick(EXTRAS),
                choices.pick(EXTRAS)
            );
            std::fs::write(&path, &text).unwrap();
            let full = ConfigFile::load(&path);
            for server in SERVERS {
                let quick = load_for_server(&path, server);
                match (&full, &quick) {
                    (Ok(full), Ok(quick)) => {
                        let key = registry_key_for(server);
                        assert_eq!(
                            choose_store(full, &key),
                            choose_store(quick, &key),
                            "{text} / {server}"
                        );
                        assert_eq!(
                            file_lookup(full, &key),
                            file_lookup(quick, &key),
                            "{text} / {server}"
                        );
                        accepted += 1;
                    }
                    (Err(full), Err(quick)) => {
                        assert_eq!(full.to_string(), quick.to_string(), "{text}");
                        refused += 1;
                    }
                    _ => panic!("one read accepted, the other refused: {text}"),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(accepted > 1000 && refused > 1000, "{accepted} / {refused}");
    }
}
