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
