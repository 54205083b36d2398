//! reglogin: Docker-compatible registry login and credential management.

pub mod auth;
pub mod credentials;
pub mod secret;
