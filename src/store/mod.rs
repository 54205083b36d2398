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
    match choose_store(config, &key) {
        StoreChoice::Helper { name, .. } => Ok(HelperStore::new(&name, options.helper_timeout)
            .get(&key)?
            .map(|creds| (key, creds))),
        StoreChoice::File => {
            if let Some(creds) = config.file_credentials(&key) {
                return Ok(Some((key, creds)));
            }
            Ok(config
                .auth_keys()
                .into_iter()
                .filter(|stored| convert_to_hostname(stored) == key)
                .find_map(|stored| Some((stored.clone(), config.file_credentials(&stored)?))))
        }
    }
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
