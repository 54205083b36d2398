//! Podman, skopeo and buildah's `auth.json` ("containers-auth.json", as containers/image reads
//! and writes it): which file a login goes to, which files a lookup reads and in what order, the
//! registry keys (`host` or `host/namespace/repo`), and changing the file through the same lock,
//! re-read and atomic replace as `config.json` ([`crate::config::update`]).
//!
//! The rules are current containers/image's (`pkg/docker/config`); where podman 4.3 (Debian
//! 12) differs, the doc comments say so. Only the parts that are not plain `config.json`
//! handling live here: parsing, ordering, unknown fields and the byte format are
//! [`crate::config`]'s, and helper calls are [`crate::store`]'s.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::config::{self, ConfigError, ConfigFile};
use crate::credentials::Credentials;
use crate::store::{HelperStore, Listed, Saved, StoreError, StoreOptions};

/// The variable podman, skopeo and buildah take as the default of `--authfile`.
pub const AUTH_FILE_ENV: &str = "REGISTRY_AUTH_FILE";

/// How auth.json spells Docker Hub: the name, not Docker's `https://index.docker.io/v1/`.
pub const DOCKER_HUB_DOMAIN: &str = "docker.io";

/// The spellings of Docker Hub's domain that name the Hub.
const DOCKER_HUB_DOMAINS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// containers/image's text: the variable is set but the directory is not there.
    #[error(
        "\"{}\" directory set by $XDG_RUNTIME_DIR does not exist. Either create the directory or unset $XDG_RUNTIME_DIR.",
        dir.display()
    )]
    RuntimeDirMissing { dir: PathBuf },
    #[error("{input:?} is not a registry, namespace or repository: {problem}")]
    InvalidKey { input: String, problem: String },
    /// Helpers know registries only; a namespace saved in the file would never be read, because
    /// a `credHelpers` entry for the registry wins every lookup.
    #[error(
        "namespaced key {key} is not supported for credential helper {helper} (credHelpers[\"{registry}\"] in {})",
        path.display()
    )]
    NamespaceWithHelper {
        key: String,
        registry: String,
        helper: String,
        path: PathBuf,
    },
}

/// What a process's environment says about where auth files are. Read once, so the rules below
/// are plain functions that tests can feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environment {
    pub registry_auth_file: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub home: PathBuf,
    /// The Docker config directory (`--config`, `$DOCKER_CONFIG`, `~/.docker`).
    pub docker_config_dir: PathBuf,
    pub uid: u32,
}

impl Environment {
    /// This process's environment; `docker_config_dir` as `--config` (when given) decides it.
    pub fn from_process(docker_config_override: Option<&Path>) -> Environment {
        // As Go's os.Getenv(...) != "": an empty variable counts as unset.
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        Environment {
            registry_auth_file: var(AUTH_FILE_ENV),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: config::home_dir(),
            docker_config_dir: config::config_dir(docker_config_override),
            uid: real_uid(),
        }
    }
}

/// The real user id (Go's `os.Getuid`), from `/proc/self/status`; the owner of `/proc/self`
/// (the effective id) when that cannot be read.
fn real_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next())
                .and_then(|id| id.parse().ok())
        })
        .or_else(|| std::fs::metadata("/proc/self").ok().map(|meta| meta.uid()))
        .unwrap_or(0)
}

/// One file a lookup reads. `legacy` is `~/.dockercfg`: the whole file is what `auths` is in
/// the others, and it is only ever read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadPath {
    pub path: PathBuf,
    pub legacy: bool,
}

/// The auth.json reglogin uses in containers mode, and what lookups read after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthFile {
    /// Where logins go. An error when `$XDG_RUNTIME_DIR` names a missing directory: writing
    /// fails with it, reading skips the file (as containers/image warns and moves on).
    primary: Result<PathBuf, PathBuf>,
    /// `--authfile` or `$REGISTRY_AUTH_FILE`: then no other file is read.
    explicit: bool,
    /// The files read after the primary one when it was not chosen explicitly.
    fallbacks: Vec<ReadPath>,
}

impl AuthFile {
    /// containers/image's rule on Linux: `--authfile`, else `$REGISTRY_AUTH_FILE` (podman's
    /// default for `--authfile`), else `$XDG_RUNTIME_DIR/containers/auth.json`, else
    /// `/run/containers/$UID/auth.json` — for root and for everyone else alike (rootless podman
    /// sets `XDG_RUNTIME_DIR` itself before it gets here; skopeo does not).
    ///
    /// Reading continues, for a file not chosen explicitly, with
    /// `${XDG_CONFIG_HOME:-$HOME/.config}/containers/auth.json`, Docker's `config.json` and
    /// `~/.dockercfg`. An explicit file is read alone, as containers/image does since
    /// containers/image#1751 (December 2022, podman 4.4); podman 4.3 (Debian 12) still reads
    /// the others after it.
    pub fn locate(flag: Option<&Path>, env: &Environment) -> AuthFile {
        let explicit = flag
            .filter(|path| !path.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .or_else(|| env.registry_auth_file.clone());
        if let Some(path) = explicit {
            return AuthFile {
                primary: Ok(path),
                explicit: true,
                fallbacks: Vec::new(),
            };
        }
        let primary = match &env.xdg_runtime_dir {
            Some(dir) if !dir.exists() => Err(dir.clone()),
            Some(dir) => Ok(dir.join("containers").join("auth.json")),
            None => Ok(PathBuf::from(format!(
                "/run/containers/{}/auth.json",
                env.uid
            ))),
        };
        let config_home = env
            .xdg_config_home
            .clone()
            .unwrap_or_else(|| env.home.join(".config"));
        let fallbacks = vec![
            ReadPath {
                path: config_home.join("containers").join("auth.json"),
                legacy: false,
            },
            ReadPath {
                path: env.docker_config_dir.join(config::CONFIG_FILE_NAME),
                legacy: false,
            },
            ReadPath {
                path: env.home.join(".dockercfg"),
                legacy: true,
            },
        ];
        AuthFile {
            primary,
            explicit: false,
            fallbacks,
        }
    }

    /// The file logins and logouts change.
    pub fn path(&self) -> Result<&Path, AuthFileError> {
        self.primary
            .as_deref()
            .map_err(|dir| AuthFileError::RuntimeDirMissing { dir: dir.clone() })
    }

    pub fn is_explicit(&self) -> bool {
        self.explicit
    }

    /// Every file a lookup reads, in order.
    pub fn read_paths(&self) -> Vec<ReadPath> {
        let mut paths: Vec<ReadPath> = self
            .primary
            .iter()
            .map(|path| ReadPath {
                path: path.clone(),
                legacy: false,
            })
            .collect();
        paths.extend(self.fallbacks.iter().cloned());
        paths
    }
}

/// A credentials key of auth.json: a registry (`host[:port]`), or a namespace or repository in
/// it (`host/team`, `host/team/app`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthKey {
    pub key: String,
    /// `host[:port]`, the part before the first `/`.
    pub registry: String,
}

impl AuthKey {
    fn new(key: String) -> AuthKey {
        let registry = key.split('/').next().unwrap_or_default().to_owned();
        AuthKey { key, registry }
    }

    pub fn is_namespaced(&self) -> bool {
        self.key.len() != self.registry.len()
    }

    /// The host a login verifies against: Docker Hub's registry for the Hub.
    pub fn verify_host(&self) -> &str {
        if self.registry == DOCKER_HUB_DOMAIN {
            crate::address::DOCKER_HUB_REGISTRY_HOST
        } else {
            &self.registry
        }
    }

    /// The keys a lookup tries as exact matches, best first: the key, each parent namespace,
    /// the registry (containers/image's `authKeyLookupOrder`).
    pub fn lookup_order(&self) -> Vec<&str> {
        let mut keys = vec![self.key.as_str()];
        let mut rest = self.key.as_str();
        while let Some(slash) = rest.rfind('/') {
            rest = &rest[..slash];
            keys.push(rest);
        }
        keys
    }
}

/// The key `login`/`logout` use for what the user typed, as podman's `parseCredentialsKey`
/// makes it: a URL becomes its `host[:port]` (path dropped); anything else is kept, with a
/// namespace or repository allowed but no tag or digest. Differences from podman: no argument
/// means Docker Hub (podman takes the first registries.conf search registry), and every Hub
/// spelling is stored as `docker.io`, where image lookups look (podman keeps
/// `index.docker.io` as typed, a key only its host-name fallback finds).
pub fn login_key(server: Option<&str>) -> Result<AuthKey, AuthFileError> {
    let input = server.map(str::trim).unwrap_or_default();
    if input.is_empty() {
        return Ok(AuthKey::new(DOCKER_HUB_DOMAIN.to_owned()));
    }
    let invalid = |problem: &str| AuthFileError::InvalidKey {
        input: input.to_owned(),
        problem: problem.to_owned(),
    };
    if let Some(host) = url_host(input) {
        if host.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        return Ok(AuthKey::new(hub_as_docker_io(host, "")));
    }
    if input.contains('@') {
        return Err(invalid("it contains a tag or digest"));
    }
    let (registry, path) = match input.split_once('/') {
        Some((registry, path)) => (registry, Some(path)),
        None => (input, None),
    };
    if registry.is_empty() {
        return Err(invalid("it has no registry host"));
    }
    let Some(path) = path else {
        return Ok(AuthKey::new(hub_as_docker_io(registry, "")));
    };
    if !looks_like_host(registry) {
        return Err(invalid(
            "the part before the first '/' must be a registry host (with a '.' or ':', or localhost)",
        ));
    }
    if path.contains(':') {
        return Err(invalid("it contains a tag or digest"));
    }
    validate_repository_path(path).map_err(invalid)?;
    Ok(AuthKey::new(hub_as_docker_io(registry, path)))
}

/// The key a lookup (`get`) starts from: a URL gives its host; a bare host (`ghcr.io`,
/// `localhost:5000`) is the registry; anything else is an image reference whose name (without
/// tag or digest, Docker Hub names expanded: `alpine` → `docker.io/library/alpine`) is the key.
pub fn lookup_key(reference: &str) -> Result<AuthKey, AuthFileError> {
    let input = reference.trim();
    let invalid = |problem: &str| AuthFileError::InvalidKey {
        input: input.to_owned(),
        problem: problem.to_owned(),
    };
    if let Some(host) = url_host(input) {
        return Ok(AuthKey::new(hub_as_docker_io(host, "")));
    }
    if input.is_empty() {
        return Err(invalid("it is empty"));
    }
    let without_digest = input.split_once('@').map_or(input, |(name, _)| name);
    if !without_digest.contains('/') {
        // A bare name is a registry when it looks like one; `name:5000` counts as a host and
        // port, any other `name:tag` as a Docker Hub image.
        let has_port = without_digest
            .split_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
        if has_port || (!without_digest.contains(':') && looks_like_host(without_digest)) {
            return Ok(AuthKey::new(hub_as_docker_io(without_digest, "")));
        }
        let name = without_digest.split(':').next().unwrap_or_default();
        validate_repository_path(name).map_err(invalid)?;
        return Ok(AuthKey::new(format!("{DOCKER_HUB_DOMAIN}/library/{name}")));
    }
    // A tag is a ':' after the last '/'; a ':' before it is a port.
    let name = match without_digest.rfind(':') {
        Some(colon) if !without_digest[colon..].contains('/') => &without_digest[..colon],
        _ => without_digest,
    };
    match name.split_once('/') {
        Some((first, rest)) if looks_like_host(first) => {
            validate_repository_path(rest).map_err(invalid)?;
            Ok(AuthKey::new(hub_as_docker_io(first, rest)))
        }
        _ => {
            validate_repository_path(name).map_err(invalid)?;
            Ok(AuthKey::new(format!("{DOCKER_HUB_DOMAIN}/{name}")))
        }
    }
}

/// `host[:port]` of an `http://` or `https://` URL.
fn url_host(input: &str) -> Option<&str> {
    let rest = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A user name in the URL (`https://user@host`) is not part of the host.
    Some(
        authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host),
    )
}

/// Docker's reference grammar: the first component is a domain when it has a `.` or `:`, is
/// `localhost`, or has upper-case letters (which repository names cannot).
fn looks_like_host(component: &str) -> bool {
    component.contains(['.', ':'])
        || component == "localhost"
        || component.chars().any(|c| c.is_ascii_uppercase())
}

/// Every Hub spelling as `docker.io`, keeping the path.
fn hub_as_docker_io(registry: &str, path: &str) -> String {
    let registry = if DOCKER_HUB_DOMAINS
        .iter()
        .any(|hub| registry.eq_ignore_ascii_case(hub))
    {
        DOCKER_HUB_DOMAIN
    } else {
        registry
    };
    if path.is_empty() {
        registry.to_owned()
    } else {
        format!("{registry}/{path}")
    }
}

/// Repository path components as the reference grammar has them: lower-case letters and
/// digits, joined by `.`, `_`, `__` or runs of `-`.
fn validate_repository_path(path: &str) -> Result<(), &'static str> {
    for component in path.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        if bytes.is_empty() {
            return Err("it has an empty path component");
        }
        if !bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(
                "repository names may have only lower-case letters, digits, '.', '_' and '-'",
            );
        }
        if !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
            return Err("a path component must start and end with a letter or digit");
        }
        if component.contains("..") || component.contains("___") {
            return Err("a path component has a separator the reference grammar does not allow");
        }
    }
    Ok(())
}

/// containers/image's `normalizeRegistry`: Hub spellings compare as `index.docker.io`.
fn normalize_registry(registry: &str) -> &str {
    match registry {
        "registry-1.docker.io" | "docker.io" => "index.docker.io",
        other => other,
    }
}

/// containers/image's `normalizeAuthFileKey`: a URL-shaped key (old Docker logins, the Hub's
/// `https://index.docker.io/v1/`) and every legacy key compare by host; other keys as they are.
fn normalize_file_key(key: &str, legacy: bool) -> &str {
    let stripped = key
        .strip_prefix("http://")
        .or_else(|| key.strip_prefix("https://"))
        .unwrap_or(key);
    let host = if legacy || stripped.len() != key.len() {
        stripped.split('/').next().unwrap_or_default()
    } else {
        stripped
    };
    normalize_registry(host)
}

/// Credentials a lookup found, and where.
#[derive(Clone, Debug)]
pub struct Found {
    /// The `auths` key that matched (or the registry, for a helper).
    pub key: String,
    pub creds: Credentials,
    /// `file` or the helper's name.
    pub store: String,
    pub path: PathBuf,
}

/// Loads one file a lookup reads; `None` when it does not exist.
fn load(read: &ReadPath) -> Result<Option<ConfigFile>, ConfigError> {
    if !read.legacy {
        let file = ConfigFile::load(&read.path)?;
        return Ok(file.exists().then_some(file));
    }
    let bytes = match std::fs::read(&read.path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ConfigError::Read {
                path: read.path.clone(),
                source,
            });
        }
    };
    // `~/.dockercfg` is the `auths` map alone; checked as one, so its errors read the same.
    let auths: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|err| ConfigError::Syntax {
            path: read.path.clone(),
            message: err.to_string(),
            line: err.line(),
            column: err.column(),
        })?
    };
    let wrapped = serde_json::json!({ "auths": auths });
    let bytes = serde_json::to_vec(&wrapped).expect("serialising a JSON value cannot fail");
    ConfigFile::parse(&read.path, &bytes).map(Some)
}

/// The credentials one file gives for `key` (containers/image's `findCredentialsInFile`): a
/// `credHelpers` entry for the registry answers alone; else the first exact key of
/// [`AuthKey::lookup_order`] that exists ends the search in this file, even when it holds no
/// credentials; else an entry whose host form is the registry's.
fn find_in_file(
    file: &ConfigFile,
    read: &ReadPath,
    key: &AuthKey,
    options: &StoreOptions,
) -> Result<Option<Found>, StoreError> {
    let found = |entry: &str, creds: Credentials, store: &str| Found {
        key: entry.to_owned(),
        creds,
        store: store.to_owned(),
        path: read.path.clone(),
    };
    if let Some(helper) = file.cred_helper(&key.registry) {
        return Ok(HelperStore::new(helper, options.helper_timeout)
            .get(&key.registry)?
            .map(|creds| found(&key.registry, creds, helper)));
    }
    let exact: Vec<&str> = if read.legacy {
        vec![&key.registry]
    } else {
        key.lookup_order()
    };
    if let Some(entry) = exact.into_iter().find(|entry| file.has_auth_entry(entry)) {
        return Ok(file
            .file_credentials(entry)
            .map(|creds| found(entry, creds, "file")));
    }
    let registry = normalize_registry(&key.registry);
    Ok(file
        .auth_keys()
        .into_iter()
        .find(|entry| normalize_file_key(entry, read.legacy) == registry)
        .and_then(|entry| {
            let creds = file.file_credentials(&entry)?;
            Some(found(&entry, creds, "file"))
        }))
}

/// The credentials podman would use for `key`: the first file in [`AuthFile::read_paths`]
/// that has some.
pub fn credentials_for(
    auth: &AuthFile,
    key: &AuthKey,
    options: &StoreOptions,
) -> Result<Option<Found>, AuthFileError> {
    for read in auth.read_paths() {
        let Some(file) = load(&read)? else {
            crate::debug_line!(
                "auth.json lookup {}: {} does not exist",
                key.key,
                read.path.display()
            );
            continue;
        };
        if let Some(found) = find_in_file(&file, &read, key, options)? {
            crate::debug_line!(
                "auth.json lookup {}: found under {} in {} ({})",
                key.key,
                found.key,
                read.path.display(),
                found.store
            );
            return Ok(Some(found));
        }
        crate::debug_line!(
            "auth.json lookup {}: nothing in {}",
            key.key,
            read.path.display()
        );
    }
    Ok(None)
}

/// Every key with credentials, as containers/image's `GetAllCredentials` lists them: the keys
/// of `auths` (URL-shaped ones by host, the Hub as `docker.io`) and `credHelpers` of every
/// file read, each resolved by [`credentials_for`].
pub fn list_all(auth: &AuthFile, options: &StoreOptions) -> Result<Vec<Listed>, AuthFileError> {
    let mut keys = BTreeSet::new();
    for read in auth.read_paths() {
        let Some(file) = load(&read)? else { continue };
        for (registry, _) in file.cred_helpers() {
            keys.insert(registry);
        }
        for entry in file.auth_keys() {
            let key = normalize_file_key(&entry, read.legacy);
            keys.insert(if key == "index.docker.io" {
                DOCKER_HUB_DOMAIN.to_owned()
            } else {
                key.to_owned()
            });
        }
    }
    let mut listed = Vec::new();
    for key in keys {
        let key = AuthKey::new(key);
        if let Some(found) = credentials_for(auth, &key, options)? {
            listed.push(Listed {
                username: if found.creds.username.is_empty() && found.creds.identity_token.is_some()
                {
                    crate::helper_protocol::IDENTITY_TOKEN_USERNAME.to_owned()
                } else {
                    found.creds.username.clone()
                },
                registry: key.key,
                store: found.store,
            });
        }
    }
    Ok(listed)
}

/// Saves `creds` under `key` in the auth file: in the helper `credHelpers` names for the
/// registry (the file is then left alone: containers tools write no `{}` marker), else as
/// base64 `auth` in `auths`. Same lock, re-read and atomic replace as config.json.
pub fn save(
    auth: &AuthFile,
    key: &AuthKey,
    creds: &Credentials,
    options: &StoreOptions,
) -> Result<Saved, AuthFileError> {
    let path = auth.path()?;
    config::update(path, |file| {
        if let Some(helper) = file.cred_helper(&key.registry).map(str::to_owned) {
            if key.is_namespaced() {
                return Err(AuthFileError::NamespaceWithHelper {
                    key: key.key.clone(),
                    registry: key.registry.clone(),
                    helper,
                    path: path.to_path_buf(),
                });
            }
            HelperStore::new(&helper, options.helper_timeout).store(&key.key, creds)?;
            return Ok(Saved::InHelper { name: helper });
        }
        file.set_file_credentials(&key.key, creds);
        Ok(Saved::InFile {
            path: file.path().to_path_buf(),
        })
    })
}

/// Removes the credentials for `key`; false when there were none. For a registry key this
/// also removes the entries lookups would find for it by host (`https://host/v1/`,
/// `index.docker.io` for `docker.io`): podman leaves those, so a pull after `podman logout`
/// can still log in. Namespaced entries are never touched by a registry logout.
pub fn erase(
    auth: &AuthFile,
    key: &AuthKey,
    options: &StoreOptions,
) -> Result<bool, AuthFileError> {
    let path = auth.path()?;
    if !path.exists() {
        return Ok(false);
    }
    config::update(path, |file| {
        let mut removed = false;
        if !key.is_namespaced()
            && let Some(helper) = file.cred_helper(&key.registry).map(str::to_owned)
        {
            removed |= HelperStore::new(&helper, options.helper_timeout).erase(&key.key)?;
        }
        removed |= file.remove_auth(&key.key);
        if !key.is_namespaced() {
            let registry = normalize_registry(&key.registry);
            for entry in file.auth_keys() {
                if normalize_file_key(&entry, false) == registry {
                    removed |= file.remove_auth(&entry);
                }
            }
        }
        Ok::<_, AuthFileError>(removed)
    })
}

/// `logout --all`: every `auths` entry, and each `credHelpers` registry's credentials in its
/// helper. Unlike podman, the `credHelpers` configuration itself is kept: it says where
/// credentials go, it holds none.
pub fn erase_all(auth: &AuthFile, options: &StoreOptions) -> Result<(), AuthFileError> {
    let path = auth.path()?;
    if !path.exists() {
        return Ok(());
    }
    config::update(path, |file| {
        for (registry, helper) in file.cred_helpers() {
            HelperStore::new(&helper, options.helper_timeout).erase(&registry)?;
        }
        for entry in file.auth_keys() {
            file.remove_auth(&entry);
        }
        Ok::<_, AuthFileError>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            registry_auth_file: None,
            xdg_runtime_dir: None,
            xdg_config_home: None,
            home: PathBuf::from("/home/u"),
            docker_config_dir: PathBuf::from("/home/u/.docker"),
            uid: 1000,
        }
    }

    fn paths(auth: &AuthFile) -> Vec<(String, bool)> {
        auth.read_paths()
            .into_iter()
            .map(|read| (read.path.display().to_string(), read.legacy))
            .collect()
    }

    #[test]
    fn the_file_a_login_writes_follows_containers_image() {
        let existing = std::env::temp_dir();
        let cases: Vec<(Option<&str>, Environment, Result<String, ()>)> = vec![
            (
                Some("/x/a.json"),
                Environment {
                    registry_auth_file: Some("/y/b.json".into()),
                    ..env()
                },
                Ok("/x/a.json".into()),
            ),
            (
                None,
                Environment {
                    registry_auth_file: Some("/y/b.json".into()),
                    xdg_runtime_dir: Some(existing.clone()),
                    ..env()
                },
                Ok("/y/b.json".into()),
            ),
            (
                None,
                Environment {
                    xdg_runtime_dir: Some(existing.clone()),
                    ..env()
                },
                Ok(existing.join("containers/auth.json").display().to_string()),
            ),
            (None, env(), Ok("/run/containers/1000/auth.json".into())),
            (
                None,
                Environment { uid: 0, ..env() },
                Ok("/run/containers/0/auth.json".into()),
            ),
            (
                None,
                Environment {
                    xdg_runtime_dir: Some("/nonexistent/reglogin-xdg".into()),
                    ..env()
                },
                Err(()),
            ),
            // An empty --authfile counts as not given, as in podman.
            (Some(""), env(), Ok("/run/containers/1000/auth.json".into())),
        ];
        for (flag, env, expected) in cases {
            let auth = AuthFile::locate(flag.map(Path::new), &env);
            let got = auth
                .path()
                .map(|path| path.display().to_string())
                .map_err(|_| ());
            assert_eq!(got, expected, "{flag:?} {env:?}");
        }
        let missing = AuthFile::locate(
            None,
            &Environment {
                xdg_runtime_dir: Some("/nonexistent/reglogin-xdg".into()),
                ..env()
            },
        );
        assert!(
            missing
                .path()
                .unwrap_err()
                .to_string()
                .contains("\"/nonexistent/reglogin-xdg\" directory set by $XDG_RUNTIME_DIR")
        );
    }

    #[test]
    fn lookups_read_the_fallbacks_only_for_the_default_file() {
        let auth = AuthFile::locate(None, &env());
        assert_eq!(
            paths(&auth),
            [
                ("/run/containers/1000/auth.json".into(), false),
                ("/home/u/.config/containers/auth.json".into(), false),
                ("/home/u/.docker/config.json".into(), false),
                ("/home/u/.dockercfg".into(), true),
            ]
        );
        let auth = AuthFile::locate(
            None,
            &Environment {
                xdg_config_home: Some("/cfg".into()),
                docker_config_dir: "/dc".into(),
                xdg_runtime_dir: Some("/nonexistent/reglogin-xdg".into()),
                ..env()
            },
        );
        // A missing XDG_RUNTIME_DIR costs only its own file.
        assert_eq!(
            paths(&auth),
            [
                ("/cfg/containers/auth.json".into(), false),
                ("/dc/config.json".into(), false),
                ("/home/u/.dockercfg".into(), true),
            ]
        );
        for auth in [
            AuthFile::locate(Some(Path::new("/x/a.json")), &env()),
            AuthFile::locate(
                None,
                &Environment {
                    registry_auth_file: Some("/x/a.json".into()),
                    ..env()
                },
            ),
        ] {
            assert!(auth.is_explicit());
            assert_eq!(paths(&auth), [("/x/a.json".into(), false)]);
        }
    }

    #[test]
    fn login_keys_follow_podman() {
        /// (typed, Ok((key, registry)) or Err(part of the message))
        type Case<'a> = (Option<&'a str>, Result<(&'a str, &'a str), &'a str>);
        let cases: &[Case] = &[
            (None, Ok(("docker.io", "docker.io"))),
            (Some("docker.io"), Ok(("docker.io", "docker.io"))),
            (Some("index.docker.io"), Ok(("docker.io", "docker.io"))),
            (
                Some("https://index.docker.io/v1/"),
                Ok(("docker.io", "docker.io")),
            ),
            (
                Some("docker.io/myorg"),
                Ok(("docker.io/myorg", "docker.io")),
            ),
            (Some("quay.io"), Ok(("quay.io", "quay.io"))),
            (Some("  quay.io  "), Ok(("quay.io", "quay.io"))),
            (
                Some("127.0.0.1:5000/team/app"),
                Ok(("127.0.0.1:5000/team/app", "127.0.0.1:5000")),
            ),
            (
                Some("http://127.0.0.1:5000/v2/"),
                Ok(("127.0.0.1:5000", "127.0.0.1:5000")),
            ),
            // podman drops a URL's path: the namespace is lost, as it is there.
            (Some("https://quay.io/team/app"), Ok(("quay.io", "quay.io"))),
            (
                Some("https://[::1]:5000/"),
                Ok(("[::1]:5000", "[::1]:5000")),
            ),
            (Some("localhost/team"), Ok(("localhost/team", "localhost"))),
            (Some("quay.io/team/app:1"), Err("tag or digest")),
            (Some("quay.io/team/app@sha256:abc"), Err("tag or digest")),
            (Some("quay.io/Team"), Err("lower-case")),
            (Some("quay.io@sha256:abc"), Err("tag or digest")),
            (Some("quay.io//app"), Err("empty path component")),
            (Some("quay.io/-app"), Err("start and end")),
            (Some("myorg/app"), Err("must be a registry host")),
            (Some("/app"), Err("no registry host")),
        ];
        for (input, expected) in cases {
            let got = login_key(*input);
            match (got, expected) {
                (Ok(key), Ok((want_key, want_registry))) => {
                    assert_eq!(
                        (key.key.as_str(), key.registry.as_str()),
                        (*want_key, *want_registry),
                        "{input:?}"
                    );
                }
                (Err(err), Err(want)) => {
                    assert!(err.to_string().contains(want), "{input:?}: {err}")
                }
                (got, _) => panic!("{input:?}: {got:?}, expected {expected:?}"),
            }
        }
        assert_eq!(
            login_key(Some("docker.io")).unwrap().verify_host(),
            "registry-1.docker.io"
        );
        assert_eq!(login_key(Some("q.io/a")).unwrap().verify_host(), "q.io");
    }

    #[test]
    fn lookup_keys_name_the_repository() {
        let cases = [
            ("alpine", "docker.io/library/alpine"),
            ("alpine:3.20", "docker.io/library/alpine"),
            ("library/alpine@sha256:0123", "docker.io/library/alpine"),
            ("bitnami/redis:7", "docker.io/bitnami/redis"),
            ("index.docker.io/bitnami/redis", "docker.io/bitnami/redis"),
            ("docker.io", "docker.io"),
            ("ghcr.io", "ghcr.io"),
            ("ghcr.io/o/r:tag", "ghcr.io/o/r"),
            ("localhost:5000", "localhost:5000"),
            ("localhost:5000/a/b:1@sha256:00", "localhost:5000/a/b"),
            ("localhost", "localhost"),
            ("https://quay.io/v2/", "quay.io"),
            ("127.0.0.1:5001/team/app", "127.0.0.1:5001/team/app"),
        ];
        for (input, key) in cases {
            assert_eq!(lookup_key(input).unwrap().key, key, "{input}");
        }
        assert!(lookup_key("").is_err());
        assert!(lookup_key("Bad/Name").is_err());
    }

    #[test]
    fn lookup_order_walks_up_the_namespaces() {
        let key = AuthKey::new("r.io/a/b/c".into());
        assert_eq!(
            key.lookup_order(),
            ["r.io/a/b/c", "r.io/a/b", "r.io/a", "r.io"]
        );
        assert_eq!(AuthKey::new("r.io".into()).lookup_order(), ["r.io"]);
    }

    #[test]
    fn file_keys_normalise_as_containers_image_does() {
        let cases = [
            ("https://index.docker.io/v1/", false, "index.docker.io"),
            ("docker.io", false, "index.docker.io"),
            ("registry-1.docker.io", false, "index.docker.io"),
            ("http://r.io:5000/v1/", false, "r.io:5000"),
            ("r.io/team", false, "r.io/team"),
            ("r.io/team", true, "r.io"),
            ("https://r.io/v1/", true, "r.io"),
        ];
        for (key, legacy, expected) in cases {
            assert_eq!(normalize_file_key(key, legacy), expected, "{key} {legacy}");
        }
    }

    fn b64(text: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// (file contents, lookup key, expected user or None, legacy file)
    #[test]
    fn one_file_answers_in_containers_image_order() {
        let file = |entries: &[(&str, &str)]| {
            let auths: Vec<String> = entries
                .iter()
                .map(|(key, user)| {
                    if user.is_empty() {
                        format!("\"{key}\": {{}}")
                    } else {
                        format!(
                            "\"{key}\": {{\"auth\": \"{}\"}}",
                            b64(&format!("{user}:pw"))
                        )
                    }
                })
                .collect();
            format!("{{\"auths\": {{{}}}}}", auths.join(","))
        };
        let all = [
            ("r.io", "host"),
            ("r.io/team", "team"),
            ("r.io/team/app", "app"),
            ("https://s.io/v1/", "legacy-url"),
            ("https://index.docker.io/v1/", "hub"),
            ("t.io/team", ""),
            ("t.io", "t-host"),
        ];
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>, bool);
        let cases: &[Case] = &[
            (&all, "r.io/team/app", Some("app"), false),
            (&all, "r.io/team/app/sub", Some("app"), false),
            (&all, "r.io/team/other", Some("team"), false),
            (&all, "r.io/teams", Some("host"), false),
            (&all, "r.io", Some("host"), false),
            (&all[..1], "r.io/team/app", Some("host"), false),
            (&all, "s.io/x", Some("legacy-url"), false),
            (&all, "docker.io/library/alpine", Some("hub"), false),
            // An existing exact entry ends the search in its file, even an empty one.
            (&all, "t.io/team/app", None, false),
            (&all, "u.io", None, false),
            // ~/.dockercfg: registry keys only, URL-shaped ones by host.
            (&all, "r.io/team/app", Some("host"), true),
            (&all, "s.io", Some("legacy-url"), true),
        ];
        for (entries, key, expected, legacy) in cases {
            let text = file(entries);
            let read = ReadPath {
                path: PathBuf::from("/x/auth.json"),
                legacy: *legacy,
            };
            let parsed = ConfigFile::parse(&read.path, text.as_bytes()).unwrap();
            let found = find_in_file(
                &parsed,
                &read,
                &AuthKey::new((*key).to_owned()),
                &StoreOptions::default(),
            )
            .unwrap();
            assert_eq!(
                found.map(|found| found.creds.username),
                expected.map(str::to_owned),
                "{key} legacy={legacy}"
            );
        }
    }
}
