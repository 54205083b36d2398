//! Google Container Registry and Artifact Registry: which hosts are Google's, Application
//! Default Credentials ([`adc`]), the access-token cache ([`cache`]) and the
//! `docker-credential-gcr` / `docker-credential-gcloud` helper protocol ([`helper`]).
//!
//! Entry point: [`token_for_registry`] (an access token for one Google registry host, through
//! the cache), which is what every credential helper answer needs.

pub mod adc;
pub mod cache;
pub mod helper;

use std::path::PathBuf;
use std::time::SystemTime;

pub use adc::{AccessToken, CredentialSource};
pub use cache::TokenCache;

use crate::cloud::aws::Env;

/// The username Google's registries take with an OAuth2 access token as password.
pub const USERNAME: &str = "oauth2accesstoken";

/// The hosts `gcloud auth configure-docker` writes when given none, in its order (checked
/// against the real gcloud by `tests/gcr.rs`; it includes `staging-k8s.gcr.io`).
pub const DEFAULT_HOSTS: [&str; 6] = [
    "gcr.io",
    "us.gcr.io",
    "eu.gcr.io",
    "asia.gcr.io",
    "staging-k8s.gcr.io",
    "marketplace.gcr.io",
];

/// The helper name `gcloud auth configure-docker` writes into `credHelpers`, so that
/// `docker-credential-gcloud` answers.
pub const HELPER_NAME: &str = "gcloud";

/// Every Google credential failure, phrased for the user. Never carries a secret: key-file
/// errors name the file and the field, token-endpoint errors the endpoint and its error code.
#[derive(Debug, thiserror::Error)]
pub enum GcpError {
    #[error(
        "{0} is not a Google registry (gcr.io, *.gcr.io or Artifact Registry's *-docker.pkg.dev)"
    )]
    NotGoogle(String),
    #[error(
        "no Google credentials found (looked in: {looked}); set GOOGLE_APPLICATION_CREDENTIALS to a key file or run `gcloud auth application-default login`"
    )]
    NoCredentials { looked: String },
    #[error("Google credentials file {}: {detail}", path.display())]
    KeyFile { path: PathBuf, detail: String },
    #[error("cannot reach {endpoint}: {detail}")]
    Network { endpoint: String, detail: String },
    #[error(
        "{endpoint} refused the credentials from {source_name} (HTTP {status}): {code}{description}"
    )]
    Refused {
        endpoint: String,
        source_name: String,
        status: u16,
        code: String,
        description: String,
    },
    #[error("unexpected answer from {endpoint}: {detail}")]
    BadResponse { endpoint: String, detail: String },
}

/// True for the hosts Google's helpers answer: `gcr.io`, `*.gcr.io`, `*-docker.pkg.dev`.
/// `server_url` may carry a scheme, a port or a path, as Docker and users send it.
pub fn is_google_registry(server_url: &str) -> bool {
    let host = host_of(server_url);
    host == "gcr.io"
        || host.ends_with(".gcr.io")
        || (host.ends_with("-docker.pkg.dev") && !host.contains('/') && host.len() > 15)
}

fn host_of(server_url: &str) -> String {
    let text = server_url.trim();
    let text = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let authority = text.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host);
    host.to_ascii_lowercase()
}

/// A token and how it was obtained.
#[derive(Debug)]
pub struct Fetched {
    pub token: AccessToken,
    pub from_cache: bool,
    /// Something the user should hear about (a cache that cannot be written).
    pub warning: Option<String>,
}

/// An access token for the Google registry `server_url` names, from Application Default
/// Credentials, served from the cache while fresh.
pub fn token_for_registry(server_url: &str, env: &Env) -> Result<Fetched, GcpError> {
    if !is_google_registry(server_url) {
        return Err(GcpError::NotGoogle(server_url.trim().to_owned()));
    }
    access_token(env)
}

/// An access token from Application Default Credentials, through the cache.
pub fn access_token(env: &Env) -> Result<Fetched, GcpError> {
    let source = CredentialSource::find(env)?;
    let cache = TokenCache::from_env(env);
    let key = source.cache_key();
    let now = SystemTime::now();
    let stale = match cache.lookup(&key, now) {
        cache::Lookup::Fresh(token) => {
            return Ok(Fetched {
                token,
                from_cache: true,
                warning: None,
            });
        }
        cache::Lookup::Stale(token) => Some(token),
        cache::Lookup::Missing => None,
    };
    match source.fetch(env) {
        Ok(token) => {
            let warning = cache.store(&key, &token, now).err();
            Ok(Fetched {
                token,
                from_cache: false,
                warning,
            })
        }
        // A refresh that fails while the cached token is still valid is not worth failing a pull.
        Err(err) => match stale {
            Some(token) => Ok(Fetched {
                token,
                from_cache: true,
                warning: Some(format!(
                    "could not refresh the Google access token ({err}); using the cached one, which is still valid"
                )),
            }),
            None => Err(err),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_hosts() {
        for host in [
            "gcr.io",
            "https://gcr.io",
            "us.gcr.io/project/image",
            "EU.GCR.IO",
            "marketplace.gcr.io",
            "us-central1-docker.pkg.dev",
            "https://europe-west4-docker.pkg.dev/p/r",
        ] {
            assert!(is_google_registry(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "gcr.io.evil.example",
            "notgcr.io",
            "docker.pkg.dev",
            "-docker.pkg.dev",
            "us-central1-docker.pkg.dev.example.com",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        ] {
            assert!(!is_google_registry(host), "{host}");
        }
    }
}
