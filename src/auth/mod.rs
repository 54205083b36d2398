//! Registry v2 authentication: verify credentials the way `docker login` does (moby
//! `registry/auth.go` with distribution's `registry/client/auth`).
//!
//! [`login`] tries `https://HOST/v2/`, then `http://HOST/v2/` when HTTPS could not be reached
//! and plain HTTP is allowed (a registry on this machine, or one the user marked insecure). A
//! `GET /v2/` without credentials tells how to authenticate: 200 is an open registry, 401 lists
//! challenges. A Basic challenge is answered with the password; a Bearer challenge with a token
//! from the realm (Basic-authenticated `GET`, or an OAuth2 `POST` when an identity token is
//! stored), which must then open `/v2/`.
//!
//! Unlike Docker, certificates are verified on loopback too, and an untrusted certificate never
//! falls back to plain HTTP. Credentials never travel over plain HTTP to another machine unless
//! the registry is marked insecure.

mod challenge;
pub(crate) mod roots;
mod token;
mod transport;

#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;

use base64::Engine as _;

use crate::credentials::Credentials;
use crate::secret::Secret;

pub use challenge::{Challenge, parse_challenges};
pub use token::{
    MINIMUM_TOKEN_LIFETIME_SECS, ServerError, ServerErrors, TokenError, TokenResponse,
    parse_rfc3339, token_error_from_response,
};
pub use transport::{
    SYSTEM_CERTS_DIR, TransportOptions, is_loopback_host, loopback_literal, split_host_port,
};

use token::{MAX_TOKEN_RESPONSE_BYTES, WipedBytes, sanitize};
use transport::{Client, TransportFailure, url_parts};

/// The `client_id` Docker sends to token servers.
pub const CLIENT_ID: &str = "docker";

/// A successful login.
#[derive(Debug)]
pub struct LoginOutcome {
    /// The `/v2/` URL that accepted the credentials, e.g. `https://127.0.0.1:5000/v2/`.
    pub endpoint: String,
    /// A refresh token the token server returned: Docker stores it instead of the password.
    pub identity_token: Option<Secret>,
}

/// Why a login failed. No variant ever holds a password or token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The host is not `host[:port]`.
    #[error("invalid registry address {0:?}: expected HOST or HOST:PORT")]
    InvalidHost(String),
    /// A CA file, certs.d directory or client certificate could not be used.
    #[error("{0}")]
    TlsSetup(String),
    /// The registry could not be reached.
    #[error("Get \"{url}\": {reason}")]
    Transport { url: String, reason: String },
    /// The registry's certificate is not trusted (or invalid); never falls back to HTTP.
    #[error("Get \"{url}\": {reason}{}", untrusted_hint(.registry))]
    UntrustedCertificate {
        /// `host[:port]` as given to `login`.
        registry: String,
        url: String,
        reason: String,
    },
    /// `/v2/` did not answer 200 (wrong credentials, or not a registry).
    #[error("login attempt to {url} failed with status: {}", status_text(*.status))]
    LoginFailed { url: String, status: u16 },
    /// A Basic challenge, but no username or password to answer it.
    #[error("Get \"{url}\": no basic auth credentials")]
    NoBasicCredentials { url: String },
    /// No Bearer token could be had from the token server.
    #[error("Get \"{url}\": {source}")]
    Token {
        /// The registry's `/v2/` URL (the request the token was for).
        url: String,
        source: TokenError,
    },
}

impl AuthError {
    /// The credentials were refused (as opposed to the registry being unreachable or broken):
    /// asking for other credentials may help.
    pub fn is_unauthorized(&self) -> bool {
        match self {
            AuthError::LoginFailed { status, .. } => *status == 401,
            AuthError::Token { source, .. } => source.is_unauthorized(),
            _ => false,
        }
    }
}

/// `401 Unauthorized`: the code and its canonical reason phrase.
pub(crate) fn status_text(status: u16) -> String {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// What to do about a certificate `host[:port]` presented that is not trusted.
fn untrusted_hint(registry: &str) -> String {
    format!(
        " (the certificate of {registry} is not trusted: pass --cacert FILE with its CA \
         certificate, put the CA certificate in {SYSTEM_CERTS_DIR}/{registry}/ca.crt, or use \
         --tls-verify=false to skip verification)"
    )
}

/// Where a client certificate for `host[:port]` goes.
fn client_cert_hint(registry: &str) -> String {
    format!(
        " (put the client certificate and its key in {SYSTEM_CERTS_DIR}/{registry}/ as \
         client.cert and client.key)"
    )
}

/// Whether plain HTTP may be used for `host`: it is this machine, or the user allowed it.
pub fn plain_http_allowed(host: &str, opts: &TransportOptions) -> bool {
    opts.allow_plain_http || is_loopback_host(host)
}

/// Checks `host[:port]` and returns it in URL form (a bare IPv6 address gets brackets).
fn url_host(host: &str) -> Result<String, AuthError> {
    let invalid = || AuthError::InvalidHost(sanitize(host));
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/\\@?#%\"".contains(c))
    {
        return Err(invalid());
    }
    if let Ok(ip) = host.parse::<std::net::Ipv6Addr>() {
        return Ok(format!("[{ip}]"));
    }
    let (name, port) = split_host_port(host);
    if name.is_empty()
        || name == "."
        || name == ".."
        || (name.contains(':') && !host.starts_with('['))
    {
        return Err(invalid());
    }
    if host.starts_with('[') && name.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(invalid());
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return Err(invalid());
    }
    Ok(host.to_owned())
}

/// Verifies `creds` against the registry at `host` (`host[:port]`: `127.0.0.1:5001`,
/// `registry-1.docker.io`, `[::1]:5000`).
pub fn login(
    host: &str,
    creds: &Credentials,
    opts: &TransportOptions,
) -> Result<LoginOutcome, AuthError> {
    let authority = url_host(host)?;
    // certs.d directories are named after the host exactly as given.
    let tls = transport::tls_config(host, opts)?;
    let client = Client::new(opts, tls);
    let session = Session {
        client: &client,
        registry: host,
        creds,
        opts,
    };
    match session.attempt(&format!("https://{authority}/v2/")) {
        Ok(outcome) => Ok(outcome),
        Err(Failure::Unreachable { .. }) if plain_http_allowed(host, opts) => session
            .attempt(&format!("http://{authority}/v2/"))
            .map_err(Failure::into_error),
        Err(Failure::Unreachable {
            error: AuthError::Transport { url, reason },
            plain_http: true,
        }) => Err(AuthError::Transport {
            url,
            reason: format!(
                "{reason} (the registry serves plain HTTP, which is allowed only on this \
                 machine or with --insecure)"
            ),
        }),
        Err(failure) => Err(failure.into_error()),
    }
}

/// How an endpoint attempt failed: only an unreachable HTTPS endpoint may fall back to HTTP.
enum Failure {
    Unreachable {
        error: AuthError,
        /// The server answered the TLS hello in plain HTTP.
        plain_http: bool,
    },
    Final(AuthError),
}

impl Failure {
    fn into_error(self) -> AuthError {
        match self {
            Failure::Unreachable { error, .. } | Failure::Final(error) => error,
        }
    }
}

struct Session<'a> {
    client: &'a Client,
    registry: &'a str,
    creds: &'a Credentials,
    opts: &'a TransportOptions,
}

fn www_authenticate(response: &ureq::http::Response<ureq::Body>) -> Vec<Challenge> {
    let values: Vec<String> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    parse_challenges(&values)
}

/// Reads and drops a body we do not need, so the connection can be reused.
fn drain(response: &mut ureq::http::Response<ureq::Body>) {
    let _ = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_vec();
}

fn basic_authorization(username: &str, password: &Secret) -> Secret {
    let pair = Secret::new(format!("{username}:{}", password.expose()));
    Secret::new(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair.expose())
    ))
}

/// Go's `url.QueryEscape`.
fn query_escape(value: &str, out: &mut String) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
}

/// `k=v&k=v`, escaped. The result may hold a secret, hence the `Secret`.
fn encode_pairs(pairs: &[(&str, &str)]) -> Secret {
    let mut out = String::new();
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        query_escape(name, &mut out);
        out.push('=');
        query_escape(value, &mut out);
    }
    Secret::new(out)
}

/// The realm with our parameters appended to whatever query it already has.
fn realm_with_query(realm: &str, query: &str) -> String {
    let realm = realm.split_once('#').map_or(realm, |(before, _)| before);
    let separator = if !realm.contains('?') {
        "?"
    } else if realm.ends_with('?') || realm.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{realm}{separator}{query}")
}

impl Session<'_> {
    fn transport_error(&self, url: &str, err: &ureq::Error) -> Failure {
        match transport::classify(err) {
            TransportFailure::Certificate(reason) => {
                Failure::Final(AuthError::UntrustedCertificate {
                    registry: self.registry.to_owned(),
                    url: url.to_owned(),
                    reason,
                })
            }
            TransportFailure::ClientCertificateRequired => Failure::Final(AuthError::Transport {
                url: url.to_owned(),
                reason: format!(
                    "{}{}",
                    TransportFailure::ClientCertificateRequired.reason(),
                    client_cert_hint(self.registry)
                ),
            }),
            // The server speaks TLS: plain HTTP would not help.
            TransportFailure::Tls(reason) => Failure::Final(AuthError::Transport {
                url: url.to_owned(),
                reason,
            }),
            failure @ (TransportFailure::NotTls | TransportFailure::Other(_)) => {
                Failure::Unreachable {
                    plain_http: matches!(failure, TransportFailure::NotTls),
                    error: AuthError::Transport {
                        url: url.to_owned(),
                        reason: failure.reason(),
                    },
                }
            }
        }
    }

    /// One endpoint: ping `/v2/`, then answer its challenge.
    fn attempt(&self, v2_url: &str) -> Result<LoginOutcome, Failure> {
        let mut response = self
            .client
            .get(v2_url, None)
            .map_err(|err| self.transport_error(v2_url, &err))?;
        let status = response.status().as_u16();
        let challenges = www_authenticate(&response);
        drain(&mut response);
        match status {
            200 => Ok(LoginOutcome {
                endpoint: v2_url.to_owned(),
                identity_token: None,
            }),
            401 => self.answer(v2_url, &challenges).map_err(Failure::Final),
            status => Err(Failure::Final(AuthError::LoginFailed {
                url: v2_url.to_owned(),
                status,
            })),
        }
    }

    /// Answers the challenges of a 401 from `/v2/`: Bearer if offered, else Basic.
    fn answer(&self, v2_url: &str, challenges: &[Challenge]) -> Result<LoginOutcome, AuthError> {
        let creds = self.creds;
        if let Some(bearer) = challenges.iter().find(|c| c.scheme == "bearer") {
            let (token, identity_token) = match creds.registry_token.as_ref() {
                Some(token) if !token.is_empty() => (token.clone(), None),
                _ => {
                    let response = self
                        .fetch_token(bearer)
                        .map_err(|source| AuthError::Token {
                            url: v2_url.to_owned(),
                            source,
                        })?;
                    let token =
                        response
                            .bearer_token()
                            .cloned()
                            .ok_or_else(|| AuthError::Token {
                                url: v2_url.to_owned(),
                                source: TokenError::NoToken,
                            })?;
                    (token, response.refresh_token)
                }
            };
            let authorization = Secret::new(format!("Bearer {}", token.expose()));
            self.verify(v2_url, &authorization)?;
            return Ok(LoginOutcome {
                endpoint: v2_url.to_owned(),
                identity_token,
            });
        }
        if challenges.iter().any(|c| c.scheme == "basic") {
            if creds.username.is_empty() || creds.password.is_empty() {
                return Err(AuthError::NoBasicCredentials {
                    url: v2_url.to_owned(),
                });
            }
            self.verify(
                v2_url,
                &basic_authorization(&creds.username, &creds.password),
            )?;
            return Ok(LoginOutcome {
                endpoint: v2_url.to_owned(),
                identity_token: None,
            });
        }
        // No challenge we can answer: Docker retries without credentials and reports the 401.
        Err(AuthError::LoginFailed {
            url: v2_url.to_owned(),
            status: 401,
        })
    }

    /// `GET /v2/` with credentials must answer 200.
    fn verify(&self, v2_url: &str, authorization: &Secret) -> Result<(), AuthError> {
        let mut response = self
            .client
            .get(v2_url, Some(authorization.expose()))
            .map_err(|err| self.transport_error(v2_url, &err).into_error())?;
        drain(&mut response);
        match response.status().as_u16() {
            200 => Ok(()),
            status => Err(AuthError::LoginFailed {
                url: v2_url.to_owned(),
                status,
            }),
        }
    }

    /// Gets a token from the challenge's realm: OAuth2 refresh when an identity token is
    /// stored, otherwise a Basic-authenticated `GET` asking for an offline (refresh) token.
    fn fetch_token(&self, challenge: &Challenge) -> Result<TokenResponse, TokenError> {
        let realm = challenge
            .param("realm")
            .filter(|r| !r.is_empty())
            .ok_or(TokenError::NoRealm)?;
        let shown_realm = sanitize(realm.split_once('?').map_or(realm, |(base, _)| base));
        let parts = url_parts(realm)
            .filter(|p| p.scheme == "https" || p.scheme == "http")
            .ok_or_else(|| TokenError::InvalidRealm(sanitize(realm)))?;
        if parts.scheme == "http" && !plain_http_allowed(&parts.authority, self.opts) {
            return Err(TokenError::PlainHttpRealm { realm: shown_realm });
        }
        let service = challenge.param("service").unwrap_or("");
        let creds = self.creds;

        let (method, result) = match creds.identity_token.as_ref().filter(|t| !t.is_empty()) {
            Some(refresh_token) => {
                let form = encode_pairs(&[
                    ("access_type", "offline"),
                    ("client_id", CLIENT_ID),
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh_token.expose()),
                    ("service", service),
                ]);
                (
                    "Post",
                    self.client.post_form(realm, form.expose().as_bytes()),
                )
            }
            None => {
                let with_password = !creds.username.is_empty() && !creds.password.is_empty();
                let mut query: Vec<(&str, &str)> = Vec::new();
                if with_password {
                    query.push(("account", &creds.username));
                }
                query.push(("client_id", CLIENT_ID));
                query.push(("offline_token", "true"));
                if !service.is_empty() {
                    query.push(("service", service));
                }
                let url = realm_with_query(realm, encode_pairs(&query).expose());
                let authorization =
                    with_password.then(|| basic_authorization(&creds.username, &creds.password));
                (
                    "Get",
                    self.client
                        .get(&url, authorization.as_ref().map(Secret::expose)),
                )
            }
        };
        let transport_error = |err: &ureq::Error| {
            let failure = transport::classify(err);
            let mut reason = failure.reason();
            match failure {
                TransportFailure::Certificate(_) => {
                    reason.push_str(&untrusted_hint(&parts.authority))
                }
                TransportFailure::ClientCertificateRequired => {
                    reason.push_str(&client_cert_hint(&parts.authority))
                }
                _ => {}
            }
            TokenError::Transport {
                method,
                url: shown_realm.clone(),
                reason,
            }
        };
        let mut response = result.map_err(|err| transport_error(&err))?;
        let status = response.status().as_u16();
        let challenges = www_authenticate(&response);
        let body = WipedBytes(
            response
                .body_mut()
                .with_config()
                .limit(MAX_TOKEN_RESPONSE_BYTES)
                .read_to_vec()
                .map_err(|err| transport_error(&err))?,
        );
        if !(200..300).contains(&status) {
            return Err(token_error_from_response(status, &challenges, &body.0));
        }
        TokenResponse::parse(&body.0)
    }
}
