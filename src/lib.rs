//! reglogin: Docker-compatible registry login and credential management.
//!
//! The flow every command follows: [`config`] (where credentials are configured) →
//! [`address`] (the registry key) → [`store`] (who holds the secret) → [`auth`] (proof against
//! the registry).

pub mod address;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod secret;
