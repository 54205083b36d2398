//! Which file `login`, `logout`, `get` and `list` work on: Docker's `config.json` (the default,
//! unchanged), or a containers `auth.json` (Podman, skopeo, buildah) when `--authfile PATH`,
//! `$REGISTRY_AUTH_FILE` or `--containers` asks for one. The commands call the few operations
//! here instead of the stores directly, so each keeps one flow for both files.

use std::path::{Path, PathBuf};

use clap::Args;

use super::CliError;
use crate::address::RegistryAddress;
use crate::authfile::{self, AuthFile, Environment};
use crate::config::ConfigFile;
use crate::credentials::Credentials;
use crate::store::{self, Listing, Saved, StoreOptions};

#[derive(Args, Debug, Default)]
pub struct AuthFileArgs {
    /// Use this containers auth.json (as podman/skopeo --authfile) instead of Docker's
    /// config.json [default: $REGISTRY_AUTH_FILE when set]
    #[arg(long, value_name = "PATH")]
    authfile: Option<PathBuf>,

    /// Use the containers auth.json at its default place ($XDG_RUNTIME_DIR/containers/auth.json,
    /// else /run/containers/$UID/auth.json); lookups fall back to Docker's config.json
    #[arg(long)]
    containers: bool,
}

/// The file a command works on.
#[derive(Debug)]
pub enum Target {
    Docker { config_path: PathBuf },
    Containers(AuthFile),
}

impl AuthFileArgs {
    /// Docker's file unless the flags or `$REGISTRY_AUTH_FILE` ask for auth.json.
    /// `config_path` is Docker's config.json (`--config`, `$DOCKER_CONFIG`, `~/.docker`); in
    /// containers mode it is the Docker file lookups fall back to.
    pub fn target(&self, config_path: &Path) -> Target {
        let flag = self
            .authfile
            .as_deref()
            .filter(|path| !path.as_os_str().is_empty());
        let from_env =
            std::env::var_os(authfile::AUTH_FILE_ENV).is_some_and(|path| !path.is_empty());
        if flag.is_none() && !from_env && !self.containers {
            // Docker mode does not pay for reading the rest of the environment.
            return Target::Docker {
                config_path: config_path.to_path_buf(),
            };
        }
        let docker_dir = config_path.parent().unwrap_or(Path::new("."));
        let auth = AuthFile::locate(flag, &Environment::from_process(Some(docker_dir)));
        crate::debug_line!(
            "containers auth.json mode: {} ({})",
            auth.path()
                .map_or_else(|err| err.to_string(), |path| path.display().to_string()),
            if auth.is_explicit() {
                "chosen explicitly, read alone"
            } else {
                "default place, Docker files read after it"
            }
        );
        Target::Containers(auth)
    }
}

/// A target whose file has been read and checked, for the stored-credentials lookup of `login`.
pub enum Opened<'a> {
    Docker(ConfigFile),
    Containers(&'a AuthFile),
}

impl Target {
    /// The key `login`/`logout` use and the host a login verifies against.
    pub fn login_address(&self, server: Option<&str>) -> Result<RegistryAddress, CliError> {
        match self {
            Target::Docker { .. } => Ok(RegistryAddress::for_login(server)),
            Target::Containers(_) => {
                let key = authfile::login_key(server)?;
                Ok(RegistryAddress {
                    host: key.verify_host().to_owned(),
                    key: key.key,
                })
            }
        }
    }

    /// Reads the file a login will change, so that a broken one stops the login before any
    /// prompt or request.
    pub fn open(&self) -> Result<Opened<'_>, CliError> {
        match self {
            Target::Docker { config_path } => Ok(Opened::Docker(ConfigFile::load(config_path)?)),
            Target::Containers(auth) => {
                ConfigFile::load(auth.path()?)?;
                Ok(Opened::Containers(auth))
            }
        }
    }

    pub fn list_all(&self, options: &StoreOptions) -> Result<Listing, CliError> {
        match self {
            Target::Docker { config_path } => {
                let config = ConfigFile::load(config_path)?;
                Ok(store::list_all(&config, options)?)
            }
            Target::Containers(auth) => Ok((authfile::list_all(auth, options)?, Vec::new())),
        }
    }
}

impl Opened<'_> {
    /// Saves under `key` in the file opened; Docker's file is not parsed again when it has not
    /// changed since [`Target::open`].
    pub fn save(
        self,
        key: &str,
        creds: &Credentials,
        options: &StoreOptions,
    ) -> Result<Saved, CliError> {
        let saved = match self {
            Opened::Docker(config) => {
                store::save_loaded(config, key, creds, options).map_err(|err| err.to_string())
            }
            Opened::Containers(auth) => authfile::login_key(Some(key))
                .and_then(|key| authfile::save(auth, &key, creds, options))
                .map_err(|err| err.to_string()),
        };
        saved.map_err(|err| CliError(format!("Error saving credentials: {err}")))
    }

    /// The credentials stored for `key`: Docker's store for it, or (auth.json) what podman
    /// would use, fallback files included.
    pub fn stored(
        &self,
        key: &str,
        options: &StoreOptions,
    ) -> Result<Option<Credentials>, CliError> {
        match self {
            Opened::Docker(config) => Ok(store::load(config, key, options)?),
            Opened::Containers(auth) => {
                let key = authfile::login_key(Some(key))?;
                Ok(authfile::credentials_for(auth, &key, options)?.map(|found| found.creds))
            }
        }
    }
}
