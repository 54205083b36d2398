//! reglogin: Docker-compatible registry login and credential management.
//!
//! The flow every command follows: [`config`] (where credentials are configured) →
//! [`address`] (the registry key) → [`store`] (who holds the secret) → [`auth`] (proof against
//! the registry).

pub mod address;
pub mod auth;
pub mod cli;
pub mod config;
pub mod credentials;
mod gojson;
pub mod helper_protocol;
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
