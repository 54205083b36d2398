//! reglogin: Docker-compatible registry login and credential management.
//!
//! The flow every command follows: [`config`] (where credentials are configured) →
//! [`address`] (the registry key) → [`store`] (who holds the secret) → [`auth`] (proof against
//! the registry).

pub mod address;
pub mod auth;
pub mod authfile;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod credentials;
pub mod debug;
mod gojson;
pub mod helper_protocol;
pub mod helper_server;
pub mod secret;
pub mod store;

/// A duration in seconds from the environment (`1`, `0.5`), or `default` when unset or invalid.
pub fn seconds_from_env(name: &str, default: std::time::Duration) -> std::time::Duration {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
        .map_or(default, std::time::Duration::from_secs_f64)
}

/// The credentials Docker would use for a registry host or image reference (`"ghcr.io"`,
/// `"docker.io/library/alpine"`, `"localhost:5000"`), from the default config directory
/// (`$DOCKER_CONFIG` or `~/.docker`) and whichever store it names. `None` when not logged in.
pub fn credentials_for(
    server: &str,
) -> Result<Option<credentials::Credentials>, store::StoreError> {
    let path = config::config_dir(None).join(config::CONFIG_FILE_NAME);
    let config = store::load_for_server(&path, server)?;
    Ok(
        store::credentials_for(&config, server, &store::StoreOptions::default())?
            .map(|(_, creds)| creds),
    )
}
