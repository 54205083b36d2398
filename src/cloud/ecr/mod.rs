//! Amazon ECR: registry hosts, `GetAuthorizationToken`, the token cache, and the
//! `docker-credential-ecr-login` helper protocol.
//!
//! Entry points: [`token_for_registry`] (a token for one ECR host, through the cache; what a
//! credential helper needs) and [`api::EcrClient`] (the API, for `ecr login` and
//! `ecr get-login-password`).

pub mod api;
pub mod cache;
pub mod expiry;
pub mod helper;
pub mod host;

use std::time::SystemTime;

pub use api::{AuthorizationToken, EcrClient, EcrService};
pub use cache::TokenCache;
pub use host::{EcrRegistry, parse_registry};

use crate::cloud::aws::{AwsError, AwsOptions, Env, Session};

#[derive(Debug, thiserror::Error)]
pub enum EcrError {
    #[error(
        "{0} is not an Amazon ECR registry (ECR hosts look like ACCOUNT.dkr.ecr.REGION.amazonaws.com or public.ecr.aws)"
    )]
    NotEcr(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("Amazon ECR returned no token for registry {0}")]
    NoToken(String),
}

/// A token and how it was obtained.
#[derive(Debug)]
pub struct Fetched {
    pub token: AuthorizationToken,
    pub from_cache: bool,
    /// Something the user should hear about (a cache that cannot be written, a refresh that
    /// failed while a still-valid token was served).
    pub warning: Option<String>,
}

/// A token for the ECR registry `server_url` names, as `docker-credential-ecr-login get`
/// gives it: the region from the host, AWS credentials and profile from the environment and
/// the shared files, served from the cache while fresh.
pub fn token_for_registry(server_url: &str, env: Env) -> Result<Fetched, EcrError> {
    let registry =
        parse_registry(server_url).ok_or_else(|| EcrError::NotEcr(server_url.trim().to_owned()))?;
    let cache = TokenCache::from_env(&env);
    let session = Session::new(env, AwsOptions::default())?;
    fetch_for_registry(&session, &registry, &cache)
}

pub fn fetch_for_registry(
    session: &Session,
    registry: &EcrRegistry,
    cache: &TokenCache,
) -> Result<Fetched, EcrError> {
    let (service, account, registry_ids) = match registry {
        EcrRegistry::Private {
            account,
            region,
            fips,
            ..
        } => (
            EcrService::Private {
                region: region.clone(),
                fips: *fips,
            },
            account.as_str(),
            vec![account.clone()],
        ),
        EcrRegistry::Public => (
            EcrService::public_default(),
            host::ECR_PUBLIC_HOST,
            Vec::new(),
        ),
    };
    let credentials = session.credentials()?;
    let endpoint = service.endpoint(session)?;
    let key = TokenCache::key(
        service.signing_name(),
        service.region(),
        account,
        &session.profile_name,
        &credentials.access_key_id,
        &endpoint.url,
    );
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
    let client = EcrClient::new(session, service, credentials)?;
    let fetched = client
        .get_authorization_tokens(&registry_ids)
        .and_then(|tokens| {
            tokens
                .into_iter()
                .next()
                .ok_or_else(|| AwsError::BadResponse {
                    service: "Amazon ECR".into(),
                    detail: "the answer has no authorization token".into(),
                })
        });
    match fetched {
        Ok(token) => {
            let warning = cache.store(&key, &token, now).err();
            Ok(Fetched {
                token,
                from_cache: false,
                warning,
            })
        }
        Err(err) => match stale {
            Some(token) => Ok(Fetched {
                token,
                from_cache: true,
                warning: Some(format!(
                    "could not refresh the ECR token ({err}); using the cached one, which is still valid"
                )),
            }),
            None => Err(err.into()),
        },
    }
}
