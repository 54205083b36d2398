//! `Credentials`: what a store holds for one registry key, and what a login verifies.
//! Mirrors Docker's `AuthConfig` minus the fields Docker never persists.

use crate::secret::Secret;

/// Credentials for one registry. An identity token (an OAuth2 refresh token) replaces the
/// password: when it is set, `password` is empty, as Docker stores it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
    pub identity_token: Option<Secret>,
    /// Registry token (`registrytoken` in config.json): a bearer token used as is.
    pub registry_token: Option<Secret>,
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
            identity_token: None,
            registry_token: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_none()
            && self.registry_token.is_none()
    }
}
