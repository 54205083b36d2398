//! `GetAuthorizationToken` of Amazon ECR (JSON 1.1, `AmazonEC2ContainerRegistry_V20150921`)
//! and of ECR Public (`SpencerFrontendService`), and the token inside the answer.

use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{Value, json};

use super::host::{ECR_PUBLIC_HOST, ECR_PUBLIC_REGION};
use crate::cloud::aws::{self, AwsClient, AwsCredentials, AwsError, Endpoint, JsonCall, Session};
use crate::secret::Secret;

pub const ECR_TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken";
pub const ECR_PUBLIC_TARGET: &str = "SpencerFrontendService.GetAuthorizationToken";

/// One registry's login, as `GetAuthorizationToken` gives it.
#[derive(Clone, Debug)]
pub struct AuthorizationToken {
    /// `authorizationToken` as AWS sends it: base64 of `USER:PASSWORD`.
    pub encoded: Secret,
    pub username: String,
    pub password: Secret,
    /// `https://ACCOUNT.dkr.ecr.REGION.amazonaws.com`, or `https://public.ecr.aws`.
    pub proxy_endpoint: String,
    pub expires_at: Option<SystemTime>,
}

impl AuthorizationToken {
    /// Decodes `authorizationToken`; the message never contains the token.
    pub fn decode(
        encoded: &str,
        proxy_endpoint: &str,
        expires_at: Option<SystemTime>,
    ) -> Result<AuthorizationToken, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| "the authorization token is not base64".to_owned())?;
        let text = Secret::new(
            String::from_utf8(bytes)
                .map_err(|_| "the authorization token is not UTF-8".to_owned())?,
        );
        let (username, password) = text
            .expose()
            .split_once(':')
            .ok_or_else(|| "the authorization token is not USER:PASSWORD".to_owned())?;
        Ok(AuthorizationToken {
            encoded: Secret::new(encoded.trim()),
            username: username.to_owned(),
            password: Secret::new(password),
            proxy_endpoint: proxy_endpoint.to_owned(),
            expires_at,
        })
    }

    /// The registry host of the proxy endpoint (`ACCOUNT.dkr.ecr.REGION.amazonaws.com`).
    pub fn registry_host(&self) -> &str {
        crate::address::convert_to_hostname(&self.proxy_endpoint)
    }
}

/// Which API: private ECR in a region, or ECR Public.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrService {
    Private { region: String, fips: bool },
    Public { region: String },
}

impl EcrService {
    pub fn public_default() -> EcrService {
        EcrService::Public {
            region: ECR_PUBLIC_REGION.to_owned(),
        }
    }

    pub fn region(&self) -> &str {
        match self {
            EcrService::Private { region, .. } | EcrService::Public { region } => region,
        }
    }

    pub fn signing_name(&self) -> &'static str {
        match self {
            EcrService::Private { .. } => "ecr",
            EcrService::Public { .. } => "ecr-public",
        }
    }

    /// The endpoint: `--endpoint-url` / `AWS_ENDPOINT_URL_ECR[_PUBLIC]` / `AWS_ENDPOINT_URL` /
    /// the profile's `endpoint_url`, else the region's public endpoint.
    pub fn endpoint(&self, session: &Session) -> Result<Endpoint, AwsError> {
        let (env_id, fips) = match self {
            EcrService::Private { fips, .. } => ("ECR", *fips || session.use_fips()),
            EcrService::Public { .. } => ("ECR_PUBLIC", false),
        };
        let url = session
            .configured_endpoint(env_id)
            .unwrap_or_else(|| aws::default_endpoint(self.signing_name(), self.region(), fips));
        Endpoint::parse(&url)
    }
}

/// A client for one of the two APIs, as one identity.
#[derive(Debug)]
pub struct EcrClient {
    client: AwsClient,
    service: EcrService,
}

impl EcrClient {
    pub fn new(
        session: &Session,
        service: EcrService,
        credentials: AwsCredentials,
    ) -> Result<EcrClient, AwsError> {
        aws::validate_region(service.region())?;
        let endpoint = service.endpoint(session)?;
        let agent = aws::http::agent(
            &session.env,
            &endpoint.url,
            session.ca_bundle().as_deref(),
            Duration::from_secs(30),
        )?;
        let label = match service {
            EcrService::Private { .. } => "Amazon ECR",
            EcrService::Public { .. } => "Amazon ECR Public",
        };
        let client = AwsClient::new(
            agent,
            endpoint,
            service.region(),
            service.signing_name(),
            label,
            Some(credentials),
        );
        Ok(EcrClient { client, service })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.client.endpoint
    }

    /// Tokens for the given registries (the caller's own registry when none are given).
    /// ECR Public ignores registry IDs: it has one registry, `public.ecr.aws`.
    pub fn get_authorization_tokens(
        &self,
        registry_ids: &[String],
    ) -> Result<Vec<AuthorizationToken>, AwsError> {
        match self.service {
            EcrService::Private { .. } => {
                let body = if registry_ids.is_empty() {
                    json!({})
                } else {
                    json!({ "registryIds": registry_ids })
                };
                let answer = self.client.call_json(JsonCall {
                    target: ECR_TARGET,
                    body: &body,
                })?;
                self.parse_private(&answer)
            }
            EcrService::Public { .. } => {
                let answer = self.client.call_json(JsonCall {
                    target: ECR_PUBLIC_TARGET,
                    body: &json!({}),
                })?;
                self.parse_public(&answer).map(|token| vec![token])
            }
        }
    }

    fn bad(&self, detail: String) -> AwsError {
        AwsError::BadResponse {
            service: self.client.label.to_owned(),
            detail,
        }
    }

    fn parse_private(&self, answer: &Value) -> Result<Vec<AuthorizationToken>, AwsError> {
        let entries = answer
            .get("authorizationData")
            .and_then(Value::as_array)
            .ok_or_else(|| self.bad("no authorizationData in the answer".into()))?;
        let tokens = entries
            .iter()
            .map(|entry| self.parse_entry(entry, None))
            .collect::<Result<Vec<_>, _>>()?;
        if tokens.is_empty() {
            return Err(self.bad("the answer has no authorization token".into()));
        }
        Ok(tokens)
    }

    fn parse_public(&self, answer: &Value) -> Result<AuthorizationToken, AwsError> {
        let entry = answer
            .get("authorizationData")
            .ok_or_else(|| self.bad("no authorizationData in the answer".into()))?;
        self.parse_entry(entry, Some(&format!("https://{ECR_PUBLIC_HOST}")))
    }

    fn parse_entry(
        &self,
        entry: &Value,
        fixed_endpoint: Option<&str>,
    ) -> Result<AuthorizationToken, AwsError> {
        let encoded = entry
            .get("authorizationToken")
            .and_then(Value::as_str)
            .ok_or_else(|| self.bad("an entry has no authorizationToken".into()))?;
        let proxy_endpoint = match fixed_endpoint {
            Some(endpoint) => endpoint,
            None => entry
                .get("proxyEndpoint")
                .and_then(Value::as_str)
                .ok_or_else(|| self.bad("an entry has no proxyEndpoint".into()))?,
        };
        let expires_at = entry
            .get("expiresAt")
            .and_then(Value::as_f64)
            .and_then(aws::time::from_unix_seconds);
        AuthorizationToken::decode(encoded, proxy_endpoint, expires_at)
            .map_err(|detail| self.bad(detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_decode() {
        let token = AuthorizationToken::decode(
            "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu",
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            None,
        )
        .unwrap();
        assert_eq!(token.username, "AWS");
        assert_eq!(token.password.expose(), "123456789012-auth-token");
        assert_eq!(
            token.registry_host(),
            "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        );
        // A colon inside the password stays in the password.
        let encoded = base64::engine::general_purpose::STANDARD.encode("AWS:a:b");
        assert_eq!(
            AuthorizationToken::decode(&encoded, "x", None)
                .unwrap()
                .password
                .expose(),
            "a:b"
        );
        for bad in ["%%%", "QVdT"] {
            let err = AuthorizationToken::decode(bad, "x", None).unwrap_err();
            assert!(!err.contains(bad), "{err}");
        }
    }
}
