//! Azure Container Registry: an Entra ID (Azure AD) access token for a service principal
//! (client credentials from `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`, `AZURE_CLIENT_SECRET`),
//! exchanged at the registry's `/oauth2/exchange` for an ACR refresh token, which Docker uses as
//! the identity token of the user `00000000-0000-0000-0000-000000000000` (what `az acr login`
//! stores). The client secret and both tokens stay in [`Secret`]s and never reach a message.

use std::time::Duration;

use serde::Deserialize;

use crate::cloud::aws::Env;
use crate::cloud::gcp::adc::{agent, form_encode};
use crate::secret::Secret;

/// The username ACR takes with a refresh token as identity token.
pub const USERNAME: &str = "00000000-0000-0000-0000-000000000000";
const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
const SCOPE: &str = "https://management.azure.com/.default";
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    #[error(
        "no Azure service principal: set {0} (and AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET)"
    )]
    Missing(&'static str),
    #[error("`{0}` is not an Azure Container Registry (hosts look like NAME.azurecr.io)")]
    NotAcr(String),
    #[error("cannot reach {endpoint}: {detail}")]
    Network { endpoint: String, detail: String },
    #[error("{endpoint} refused the request (HTTP {status}): {code}{description}")]
    Refused {
        endpoint: String,
        status: u16,
        code: String,
        description: String,
    },
    #[error("unexpected answer from {endpoint}: {detail}")]
    BadResponse { endpoint: String, detail: String },
}

/// True for `NAME.azurecr.io` (and sovereign clouds' `azurecr.cn`, `azurecr.us`).
pub fn is_acr_host(host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    ["azurecr.io", "azurecr.cn", "azurecr.us"]
        .iter()
        .any(|suffix| host.len() > suffix.len() + 1 && host.ends_with(&format!(".{suffix}")))
}

/// A service principal from the environment, as Azure's SDKs' EnvironmentCredential reads it.
pub struct ServicePrincipal {
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: Secret,
}

impl ServicePrincipal {
    pub fn from_env(env: &Env) -> Result<ServicePrincipal, AzureError> {
        let var = |name: &'static str| {
            env.get(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or(AzureError::Missing(name))
        };
        Ok(ServicePrincipal {
            tenant_id: var("AZURE_TENANT_ID")?,
            client_id: var("AZURE_CLIENT_ID")?,
            client_secret: Secret::new(var("AZURE_CLIENT_SECRET")?),
        })
    }
}

/// An ACR refresh token for `registry` (a host, with a port for a local registry).
pub fn refresh_token(env: &Env, registry: &str) -> Result<Secret, AzureError> {
    let principal = ServicePrincipal::from_env(env)?;
    let aad = aad_token(env, &principal)?;
    exchange(env, registry, &principal.tenant_id, &aad)
}

/// The client-credentials grant at `${AZURE_AUTHORITY_HOST}/TENANT/oauth2/v2.0/token`.
pub fn aad_token(env: &Env, principal: &ServicePrincipal) -> Result<Secret, AzureError> {
    let authority = env
        .get("AZURE_AUTHORITY_HOST")
        .filter(|value| !value.is_empty())
        .unwrap_or(DEFAULT_AUTHORITY)
        .trim_end_matches('/');
    let url = format!("{authority}/{}/oauth2/v2.0/token", principal.tenant_id);
    let form = Secret::new(form_encode(&[
        ("grant_type", "client_credentials"),
        ("client_id", &principal.client_id),
        ("client_secret", principal.client_secret.expose()),
        ("scope", SCOPE),
    ]));
    post(env, &url, &form, "access_token")
}

/// `POST https://REGISTRY/oauth2/exchange`: the Entra ID token for an ACR refresh token. A
/// registry on this machine is spoken to over plain HTTP, as the transport allows loopback.
pub fn exchange(
    env: &Env,
    registry: &str,
    tenant: &str,
    aad_token: &Secret,
) -> Result<Secret, AzureError> {
    let scheme = if crate::auth::is_loopback_host(registry) {
        "http"
    } else {
        "https"
    };
    let url = format!("{scheme}://{registry}/oauth2/exchange");
    let form = Secret::new(form_encode(&[
        ("grant_type", "access_token"),
        ("service", registry),
        ("tenant", tenant),
        ("access_token", aad_token.expose()),
    ]));
    post(env, &url, &form, "refresh_token")
}

#[derive(Deserialize)]
struct Refusal {
    error: Option<String>,
    error_description: Option<String>,
    errors: Option<Vec<RegistryError>>,
}

#[derive(Deserialize)]
struct RegistryError {
    code: Option<String>,
}

fn post(env: &Env, url: &str, form: &Secret, field: &str) -> Result<Secret, AzureError> {
    let response = agent(env, url, TIMEOUT)
        .post(url)
        .content_type("application/x-www-form-urlencoded")
        .send(form.expose().as_bytes())
        .map_err(|err| AzureError::Network {
            endpoint: url.to_owned(),
            detail: err.to_string(),
        })?;
    let status = response.status().as_u16();
    let text = Secret::new(
        response
            .into_body()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|err| AzureError::Network {
                endpoint: url.to_owned(),
                detail: err.to_string(),
            })?,
    );
    if status != 200 {
        // Only the error code and Entra's description (which names the problem, never the
        // secret) are shown.
        let refusal: Option<Refusal> = serde_json::from_str(text.expose()).ok();
        let (code, description) = match refusal {
            Some(refusal) => (
                refusal
                    .error
                    .or_else(|| refusal.errors?.into_iter().next()?.code)
                    .unwrap_or_else(|| "no error code in the answer".into()),
                refusal
                    .error_description
                    .map(|d| format!(" ({})", d.lines().next().unwrap_or_default()))
                    .unwrap_or_default(),
            ),
            None => ("no error code in the answer".into(), String::new()),
        };
        return Err(AzureError::Refused {
            endpoint: url.to_owned(),
            status,
            code,
            description,
        });
    }
    let value: serde_json::Value =
        serde_json::from_str(text.expose()).map_err(|_| AzureError::BadResponse {
            endpoint: url.to_owned(),
            detail: "the answer is not JSON".into(),
        })?;
    value
        .get(field)
        .and_then(serde_json::Value::as_str)
        .filter(|token| !token.is_empty())
        .map(Secret::new)
        .ok_or_else(|| AzureError::BadResponse {
            endpoint: url.to_owned(),
            detail: format!("the answer has no {field}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acr_hosts() {
        assert!(is_acr_host("myreg.azurecr.io"));
        assert!(is_acr_host("MyReg.AzureCR.io"));
        assert!(!is_acr_host("azurecr.io"));
        assert!(!is_acr_host("myreg.azurecr.io.evil.example"));
        assert!(!is_acr_host("gcr.io"));
    }

    #[test]
    fn missing_variables_are_named() {
        let err = ServicePrincipal::from_env(&Env::from_pairs([("AZURE_TENANT_ID", "t")]))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("set AZURE_CLIENT_ID"), "{err}");
    }
}
