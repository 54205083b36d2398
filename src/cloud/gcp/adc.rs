//! Application Default Credentials, as Google's client libraries find them: the key file
//! `GOOGLE_APPLICATION_CREDENTIALS` names, then gcloud's
//! `$CLOUDSDK_CONFIG/application_default_credentials.json` (default `~/.config/gcloud`), then
//! the GCE metadata server (`GCE_METADATA_HOST` overrides its host). Key files are
//! `service_account` (an RS256-signed JWT exchanged at `token_uri`) or `authorized_user` (a
//! refresh token). Private keys, refresh tokens, client secrets and access tokens stay in
//! [`Secret`]s and never reach an error message.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::GcpError;
use crate::cloud::aws::Env;
use crate::secret::Secret;

const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const METADATA_HOST: &str = "metadata.google.internal";
const METADATA_PATH: &str = "/computeMetadata/v1/instance/service-accounts/default/token";
const JWT_LIFETIME: u64 = 3600;
const TIMEOUT: Duration = Duration::from_secs(15);
/// Off GCE the metadata host does not resolve; a short limit keeps a missing one from stalling.
const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

/// An OAuth2 access token and when it stops working.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: SystemTime,
}

/// Where the access token comes from.
#[derive(Debug)]
pub enum CredentialSource {
    ServiceAccount {
        path: PathBuf,
        client_email: String,
        private_key: Secret,
        private_key_id: String,
        token_uri: String,
    },
    AuthorizedUser {
        path: PathBuf,
        client_id: String,
        client_secret: Secret,
        refresh_token: Secret,
        token_uri: String,
    },
    Metadata {
        host: String,
    },
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
    token_uri: Option<String>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: Option<String>,
    error_description: Option<String>,
}

impl CredentialSource {
    /// The first source that exists, in Google's order.
    pub fn find(env: &Env) -> Result<CredentialSource, GcpError> {
        if let Some(path) = env
            .get("GOOGLE_APPLICATION_CREDENTIALS")
            .filter(|p| !p.is_empty())
        {
            // Named explicitly: a file that is missing is an error, not a reason to look on.
            return CredentialSource::from_file(Path::new(path));
        }
        let gcloud_dir = env
            .get("CLOUDSDK_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| env.home().join(".config").join("gcloud"));
        let adc = gcloud_dir.join("application_default_credentials.json");
        if adc.is_file() {
            return CredentialSource::from_file(&adc);
        }
        Ok(CredentialSource::Metadata {
            host: env
                .get("GCE_METADATA_HOST")
                .filter(|h| !h.is_empty())
                .unwrap_or(METADATA_HOST)
                .to_owned(),
        })
    }

    /// Reads a key file; errors name the file and the field, never a value.
    pub fn from_file(path: &Path) -> Result<CredentialSource, GcpError> {
        let bad = |detail: String| GcpError::KeyFile {
            path: path.to_path_buf(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|err| bad(err.to_string()))?;
        let text = Secret::new(text);
        let file: KeyFile = serde_json::from_str(text.expose()).map_err(|err| {
            // serde's message may quote a value; only its position is safe to show.
            bad(format!(
                "not valid JSON (line {}, column {})",
                err.line(),
                err.column()
            ))
        })?;
        let required = |value: Option<String>, field: &str| {
            value
                .filter(|v| !v.is_empty())
                .ok_or_else(|| bad(format!("the field `{field}` is missing or empty")))
        };
        let token_uri = file
            .token_uri
            .clone()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_TOKEN_URI.to_owned());
        match file.kind.as_deref() {
            Some("service_account") => {
                let private_key = Secret::new(required(file.private_key, "private_key")?);
                // Checked now so a bad key is reported as the key file's fault.
                pkcs8_key(private_key.expose())
                    .map_err(|detail| bad(format!("the field `private_key` {detail}")))?;
                Ok(CredentialSource::ServiceAccount {
                    path: path.to_path_buf(),
                    client_email: required(file.client_email, "client_email")?,
                    private_key,
                    private_key_id: file.private_key_id.unwrap_or_default(),
                    token_uri,
                })
            }
            Some("authorized_user") => Ok(CredentialSource::AuthorizedUser {
                path: path.to_path_buf(),
                client_id: required(file.client_id, "client_id")?,
                client_secret: Secret::new(required(file.client_secret, "client_secret")?),
                refresh_token: Secret::new(required(file.refresh_token, "refresh_token")?),
                token_uri,
            }),
            Some(other) => Err(bad(format!(
                "the field `type` is `{other}`; reglogin supports service_account and authorized_user"
            ))),
            None => Err(bad("the field `type` is missing".into())),
        }
    }

    /// What the user should read as the origin of a token.
    pub fn describe(&self) -> String {
        match self {
            CredentialSource::ServiceAccount { path, .. }
            | CredentialSource::AuthorizedUser { path, .. } => path.display().to_string(),
            CredentialSource::Metadata { host } => format!("the GCE metadata server {host}"),
        }
    }

    /// The cache key: a hash of who the token is for and where it comes from (kind, file,
    /// account, key ID, endpoint), so identities never share tokens; no secret goes in.
    pub fn cache_key(&self) -> String {
        let parts: Vec<String> = match self {
            CredentialSource::ServiceAccount {
                path,
                client_email,
                private_key_id,
                token_uri,
                ..
            } => vec![
                "service_account".into(),
                path.display().to_string(),
                client_email.clone(),
                private_key_id.clone(),
                token_uri.clone(),
            ],
            CredentialSource::AuthorizedUser {
                path,
                client_id,
                token_uri,
                ..
            } => vec![
                "authorized_user".into(),
                path.display().to_string(),
                client_id.clone(),
                token_uri.clone(),
            ],
            CredentialSource::Metadata { host } => vec!["metadata".into(), host.clone()],
        };
        let mut hasher = Sha256::new();
        for part in &parts {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        let digest = hasher.finalize();
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        format!("{}/{hex}", parts[0])
    }

    /// Asks Google (or the metadata server) for a new access token.
    pub fn fetch(&self, env: &Env) -> Result<AccessToken, GcpError> {
        let now = SystemTime::now();
        match self {
            CredentialSource::ServiceAccount {
                path,
                client_email,
                private_key,
                private_key_id,
                token_uri,
            } => {
                let jwt = signed_jwt(client_email, private_key, private_key_id, token_uri, now)
                    .map_err(|detail| GcpError::KeyFile {
                        path: path.clone(),
                        detail,
                    })?;
                let form = Secret::new(form_encode(&[
                    ("grant_type", JWT_GRANT),
                    ("assertion", jwt.expose()),
                ]));
                post_form(env, token_uri, &form, &self.describe(), now)
            }
            CredentialSource::AuthorizedUser {
                client_id,
                client_secret,
                refresh_token,
                token_uri,
                ..
            } => {
                let form = Secret::new(form_encode(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", client_id),
                    ("client_secret", client_secret.expose()),
                    ("refresh_token", refresh_token.expose()),
                ]));
                post_form(env, token_uri, &form, &self.describe(), now)
            }
            CredentialSource::Metadata { host } => {
                let url = format!("http://{host}{METADATA_PATH}");
                let agent = agent(env, &url, METADATA_TIMEOUT);
                let response = agent
                    .get(&url)
                    .header("Metadata-Flavor", "Google")
                    .call()
                    .map_err(|err| GcpError::Network {
                        endpoint: url.clone(),
                        detail: format!(
                            "{err} (no key file was found either: set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`)"
                        ),
                    })?;
                answer(response, &url, &self.describe(), now)
            }
        }
    }
}

/// The PKCS#8 DER inside a PEM private key; the error says what is wrong, not what is there.
fn pkcs8_key(pem: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    use rustls::pki_types::PrivateKeyDer;
    let mut reader = pem.as_bytes();
    match rustls_pemfile::private_key(&mut reader) {
        Ok(Some(PrivateKeyDer::Pkcs8(der))) => {
            Ok(zeroize::Zeroizing::new(der.secret_pkcs8_der().to_vec()))
        }
        Ok(Some(_)) => Err("is not a PKCS#8 key (-----BEGIN PRIVATE KEY-----)".into()),
        Ok(None) | Err(_) => Err("holds no PEM private key".into()),
    }
}

/// The RS256 JWT Google's token endpoint exchanges for an access token.
fn signed_jwt(
    client_email: &str,
    private_key: &Secret,
    private_key_id: &str,
    token_uri: &str,
    now: SystemTime,
) -> Result<Secret, String> {
    let der =
        pkcs8_key(private_key.expose()).map_err(|d| format!("the field `private_key` {d}"))?;
    let key_pair = RsaKeyPair::from_pkcs8(&der)
        .map_err(|_| "the field `private_key` is not an RSA key ring can use".to_owned())?;
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if !private_key_id.is_empty() {
        header["kid"] = private_key_id.into();
    }
    let claims = serde_json::json!({
        "iss": client_email,
        "scope": SCOPE,
        "aud": token_uri,
        "iat": iat,
        "exp": iat + JWT_LIFETIME,
    });
    let signing_input = format!(
        "{}.{}",
        url.encode(header.to_string()),
        url.encode(claims.to_string())
    );
    let mut signature = vec![0; key_pair.public().modulus_len()];
    key_pair
        .sign(
            &RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "signing with the field `private_key` failed".to_owned())?;
    Ok(Secret::new(format!(
        "{signing_input}.{}",
        url.encode(&signature)
    )))
}

pub(crate) fn form_encode(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(name));
        out.push('=');
        out.push_str(&percent_encode(value));
    }
    out
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub(crate) fn agent(env: &Env, url: &str, timeout: Duration) -> ureq::Agent {
    let proxy =
        crate::cloud::aws::http::proxy_for(env, url).and_then(|p| ureq::Proxy::new(&p).ok());
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(concat!("reglogin/", env!("CARGO_PKG_VERSION")))
        .proxy(proxy)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn post_form(
    env: &Env,
    url: &str,
    form: &Secret,
    source_name: &str,
    now: SystemTime,
) -> Result<AccessToken, GcpError> {
    let response = agent(env, url, TIMEOUT)
        .post(url)
        .content_type("application/x-www-form-urlencoded")
        .send(form.expose().as_bytes())
        .map_err(|err| GcpError::Network {
            endpoint: url.to_owned(),
            detail: err.to_string(),
        })?;
    answer(response, url, source_name, now)
}

/// A token answer, or the endpoint's refusal (its `error` code and description; Google's
/// descriptions name what was wrong, never a credential).
fn answer(
    response: ureq::http::Response<ureq::Body>,
    url: &str,
    source_name: &str,
    now: SystemTime,
) -> Result<AccessToken, GcpError> {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let text = Secret::new(
        body.with_config()
            .limit(1 << 20)
            .read_to_string()
            .map_err(|err| GcpError::Network {
                endpoint: url.to_owned(),
                detail: err.to_string(),
            })?,
    );
    let bad = |detail: &str| GcpError::BadResponse {
        endpoint: url.to_owned(),
        detail: detail.to_owned(),
    };
    if status != 200 {
        let refusal: Option<ErrorAnswer> = serde_json::from_str(text.expose()).ok();
        let (code, description) = match refusal {
            Some(ErrorAnswer {
                error: Some(code), ..
            }) => {
                let description = refusal_description(text.expose());
                (code, description)
            }
            _ => ("no OAuth2 error in the answer".to_owned(), String::new()),
        };
        return Err(GcpError::Refused {
            endpoint: url.to_owned(),
            source_name: source_name.to_owned(),
            status,
            code,
            description,
        });
    }
    let parsed: TokenAnswer =
        serde_json::from_str(text.expose()).map_err(|_| bad("the answer is not a token (JSON)"))?;
    let token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("the answer has no access_token"))?;
    let expires_in = parsed
        .expires_in
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .ok_or_else(|| bad("the answer has no expires_in"))?;
    Ok(AccessToken {
        token: Secret::new(token),
        expires_at: now + Duration::from_secs(expires_in),
    })
}

fn refusal_description(text: &str) -> String {
    serde_json::from_str::<ErrorAnswer>(text)
        .ok()
        .and_then(|answer| answer.error_description)
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("reglogin-adc-{name}-{}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn key_file_errors_name_the_file_and_field_not_the_values() {
        let path = write(
            "no-email",
            r#"{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----\n"}"#,
        );
        let err = CredentialSource::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("`private_key`"), "{err}");
        assert!(!err.contains("TOPSECRET"), "{err}");
        let path2 = write(
            "user",
            r#"{"type":"authorized_user","client_id":"c","refresh_token":"SECRETREFRESH"}"#,
        );
        let err = CredentialSource::from_file(&path2).unwrap_err().to_string();
        assert!(
            err.contains("`client_secret`") && !err.contains("SECRETREFRESH"),
            "{err}"
        );
        let path3 = write(
            "json",
            r#"{"type": "authorized_user", "client_secret": SECRETX"#,
        );
        let err = CredentialSource::from_file(&path3).unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && !err.contains("SECRETX"),
            "{err}"
        );
        for p in [path, path2, path3] {
            std::fs::remove_file(p).unwrap();
        }
    }

    #[test]
    fn sources_in_googles_order() {
        let env = Env::from_pairs([
            ("HOME", "/nonexistent-reglogin"),
            ("GCE_METADATA_HOST", "127.0.0.1:9"),
        ]);
        match CredentialSource::find(&env).unwrap() {
            CredentialSource::Metadata { host } => assert_eq!(host, "127.0.0.1:9"),
            other => panic!("{other:?}"),
        }
        let env = Env::from_pairs([("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")]);
        let err = CredentialSource::find(&env).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/key.json"), "{err}");
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(&[("grant_type", JWT_GRANT), ("a", "x y/+")]),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&a=x%20y%2F%2B"
        );
    }
}
