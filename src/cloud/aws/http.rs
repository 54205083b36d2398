//! Signed calls to AWS services over blocking HTTP: the JSON 1.1 protocol (ECR) and the query
//! protocol (STS). Errors are turned into [`AwsError`]s with a hint of what to do.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;

use super::{AwsCredentials, AwsError, Endpoint, Env};

const USER_AGENT: &str = concat!("reglogin/", env!("CARGO_PKG_VERSION"));
const ATTEMPTS: u32 = 3;

/// The proxy for `url`, as the AWS CLI (Python requests) picks it: `HTTPS_PROXY` for https,
/// `HTTP_PROXY` for http, then `ALL_PROXY`, lower case too; none for hosts in `NO_PROXY` or on
/// this machine.
pub fn proxy_for(env: &Env, url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
    }
    .to_ascii_lowercase();
    let loopback = host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        return None;
    }
    let no_proxy = env
        .get("NO_PROXY")
        .or_else(|| env.get("no_proxy"))
        .unwrap_or_default();
    let excluded = no_proxy
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            let entry = entry
                .trim_start_matches('*')
                .trim_start_matches('.')
                .to_ascii_lowercase();
            entry.is_empty() || host == entry || host.ends_with(&format!(".{entry}"))
        });
    if excluded {
        return None;
    }
    let names: [&str; 2] = if scheme.eq_ignore_ascii_case("https") {
        ["HTTPS_PROXY", "https_proxy"]
    } else {
        ["HTTP_PROXY", "http_proxy"]
    };
    names
        .into_iter()
        .chain(["ALL_PROXY", "all_proxy"])
        .find_map(|name| env.get(name))
        .map(str::to_owned)
}

/// A blocking agent for one AWS endpoint: statuses are answers, not errors; the proxy the
/// environment names for that endpoint; extra roots from `AWS_CA_BUNDLE` when given.
pub fn agent(
    env: &Env,
    url: &str,
    ca_bundle: Option<&Path>,
    timeout: Duration,
) -> Result<ureq::Agent, AwsError> {
    let proxy = match proxy_for(env, url) {
        Some(proxy) => Some(
            ureq::Proxy::new(&proxy).map_err(|_| AwsError::InvalidEndpoint {
                url: proxy.clone(),
                detail: "the proxy URL from the environment is not valid".into(),
            })?,
        ),
        None => None,
    };
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT)
        .proxy(proxy)
        .max_redirects(0);
    if let Some(bundle) = ca_bundle {
        let file_error = |detail: String| AwsError::File {
            path: bundle.to_path_buf(),
            detail,
        };
        let pem = std::fs::read(bundle).map_err(|err| file_error(err.to_string()))?;
        let mut roots: Vec<ureq::tls::Certificate<'static>> = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                roots.push(cert);
            }
        }
        if roots.is_empty() {
            return Err(file_error("no PEM certificate in the CA bundle".into()));
        }
        for cert in crate::auth::roots::system_roots() {
            roots.push(ureq::tls::Certificate::from_der(cert.as_ref()).to_owned());
        }
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
                .build(),
        );
    }
    Ok(config.build().new_agent())
}

/// One JSON 1.1 operation.
#[derive(Clone, Copy, Debug)]
pub struct JsonCall<'a> {
    /// `X-Amz-Target`, e.g. `AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`.
    pub target: &'a str,
    pub body: &'a serde_json::Value,
}

/// A service client: where, as whom, signed for which service and region.
pub struct AwsClient {
    agent: ureq::Agent,
    pub endpoint: Endpoint,
    pub region: String,
    /// The SigV4 signing name (`ecr`, `ecr-public`, `sts`).
    pub signing_name: &'static str,
    /// The service's name in messages.
    pub label: &'static str,
    /// `None` for the few calls AWS takes unsigned (AssumeRoleWithWebIdentity).
    credentials: Option<AwsCredentials>,
}

impl std::fmt::Debug for AwsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClient")
            .field("endpoint", &self.endpoint.url)
            .field("region", &self.region)
            .field("signing_name", &self.signing_name)
            .finish_non_exhaustive()
    }
}

impl AwsClient {
    pub fn new(
        agent: ureq::Agent,
        endpoint: Endpoint,
        region: &str,
        signing_name: &'static str,
        label: &'static str,
        credentials: Option<AwsCredentials>,
    ) -> AwsClient {
        AwsClient {
            agent,
            endpoint,
            region: region.to_owned(),
            signing_name,
            label,
            credentials,
        }
    }

    pub fn credentials(&self) -> Option<&AwsCredentials> {
        self.credentials.as_ref()
    }

    /// Posts a signed JSON 1.1 request and returns the parsed answer.
    pub fn call_json(&self, call: JsonCall<'_>) -> Result<serde_json::Value, AwsError> {
        let body = serde_json::to_vec(call.body).expect("serialising JSON values cannot fail");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", call.target),
        ];
        let text = self.post(&headers, &body)?;
        serde_json::from_str(&text).map_err(|err| self.bad_response(format!("not JSON ({err})")))
    }

    /// Posts a signed query-protocol form (STS) and returns the XML answer.
    pub fn call_query(&self, form: &str) -> Result<String, AwsError> {
        let headers = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        self.post(&headers, form.as_bytes())
    }

    fn bad_response(&self, detail: String) -> AwsError {
        AwsError::BadResponse {
            service: self.label.to_owned(),
            detail,
        }
    }

    fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> Result<String, AwsError> {
        let url = self.endpoint.request_url();
        let mut last_error = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            match self.post_once(&url, headers, body) {
                Ok(text) => return Ok(text),
                Err((err, retryable)) => {
                    if !retryable {
                        return Err(err);
                    }
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.expect("at least one attempt was made"))
    }

    /// One attempt; the flag says whether another attempt may help.
    fn post_once(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<String, (AwsError, bool)> {
        let signed = self.sign(url, headers, body).map_err(|err| (err, false))?;
        let mut request = self.agent.post(url);
        for (name, value) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            request = request.header(name, value);
        }
        let response = match request.send(body) {
            Ok(response) => response,
            Err(err) => {
                let retryable = !matches!(err, ureq::Error::HostNotFound | ureq::Error::BadUri(_));
                return Err((self.network_error(&err), retryable));
            }
        };
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let text = response
            .into_body()
            .read_to_string()
            .map_err(|err| (self.network_error(&err), true))?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let err = self.service_error(status, error_type, &text);
        let retryable = status >= 500
            || matches!(&err, AwsError::Service { code, .. } if code.contains("Throttl") || code == "RequestLimitExceeded");
        Err((err, retryable))
    }

    fn sign(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, AwsError> {
        let Some(creds) = &self.credentials else {
            return Ok(Vec::new());
        };
        let identity = aws_credential_types::Credentials::new(
            creds.access_key_id.clone(),
            creds.secret_access_key.expose().to_owned(),
            creds
                .session_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
            None,
            "reglogin",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.signing_name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|err| self.bad_response(format!("cannot sign the request: {err}")))?
            .into();
        let host = [("host", self.endpoint.authority.as_str())];
        let request = SignableRequest::new(
            "POST",
            url,
            host.iter().chain(headers.iter()).copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|err| self.bad_response(format!("cannot sign the request: {err}")))?;
        let (instructions, _signature) = sign(request, &params)
            .map_err(|err| self.bad_response(format!("cannot sign the request: {err}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }

    fn network_error(&self, err: &ureq::Error) -> AwsError {
        let detail = match err {
            ureq::Error::HostNotFound => format!(
                "host not found (is `{}` the right region, and is the network up?)",
                self.region
            ),
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::ConnectionFailed => "connection failed".to_owned(),
            other => other.to_string(),
        };
        AwsError::Network {
            endpoint: self.endpoint.url.clone(),
            detail,
        }
    }

    fn service_error(&self, status: u16, header_type: Option<String>, body: &str) -> AwsError {
        let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
        let json_field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|value| value.get(name))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let code = header_type
            .or_else(|| json_field("__type"))
            .or_else(|| json_field("code"))
            .or_else(|| xml_text(body, "Code"))
            .map(|code| short_error_code(&code).to_owned())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = json_field("message")
            .or_else(|| json_field("Message"))
            .or_else(|| xml_text(body, "Message"))
            .map(|message| message.trim().trim_end_matches('.').to_owned())
            .unwrap_or_else(|| "the answer gives no reason".to_owned());
        AwsError::Service {
            service: self.label.to_owned(),
            status,
            hint: hint_for(
                &code,
                self.credentials
                    .as_ref()
                    .map_or("the request", |c| c.source.as_str()),
            ),
            code,
            message,
        }
    }
}

/// `aws.protocols#ValidationException:extra` → `ValidationException`.
fn short_error_code(code: &str) -> &str {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim()
}

fn hint_for(code: &str, source: &str) -> String {
    let advice = match code {
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            format!("the access key ID is not known to AWS: check the credentials from {source}")
        }
        "InvalidSignatureException" | "SignatureDoesNotMatch" => format!(
            "the secret access key does not match the access key ID: check the credentials from {source}"
        ),
        "ExpiredTokenException" | "ExpiredToken" => format!(
            "the credentials from {source} have expired: refresh them (for example `aws sso login`) and try again"
        ),
        "RequestExpired" => "the request's time is off: check this machine's clock".to_owned(),
        "AccessDeniedException" | "AccessDenied" => format!(
            "the identity behind the credentials from {source} lacks the permission: grant it in IAM"
        ),
        _ => return String::new(),
    };
    format!("; {advice}")
}

/// The text of the first `<tag>...</tag>` in an XML document (STS answers are that simple).
pub(super) fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_shortened() {
        assert_eq!(
            short_error_code("com.amazonaws.ecr#AccessDeniedException"),
            "AccessDeniedException"
        );
        assert_eq!(
            short_error_code("ValidationException:http://internal"),
            "ValidationException"
        );
        assert_eq!(short_error_code("ExpiredToken"), "ExpiredToken");
    }

    #[test]
    fn hints_say_what_to_do() {
        assert!(hint_for("ExpiredTokenException", "profile `x`").contains("refresh"));
        assert!(hint_for("AccessDeniedException", "env").contains("IAM"));
        assert!(hint_for("SomethingElse", "env").is_empty());
    }

    #[test]
    fn proxies_follow_scheme_no_proxy_and_loopback() {
        let env = Env::from_pairs([
            ("HTTPS_PROXY", "http://secure-proxy:3128"),
            ("http_proxy", "http://plain-proxy:3128"),
            ("NO_PROXY", "internal.example, .corp"),
        ]);
        let proxy = |url: &str| proxy_for(&env, url);
        assert_eq!(
            proxy("https://api.ecr.us-east-1.amazonaws.com").as_deref(),
            Some("http://secure-proxy:3128")
        );
        assert_eq!(
            proxy("http://ecr.example:8080/").as_deref(),
            Some("http://plain-proxy:3128")
        );
        assert_eq!(proxy("http://127.0.0.1:5000"), None);
        assert_eq!(proxy("http://[::1]:5000"), None);
        assert_eq!(proxy("https://localhost"), None);
        assert_eq!(proxy("https://internal.example"), None);
        assert_eq!(proxy("https://vpce.corp"), None);
        assert_eq!(proxy("https://x.internal.example:443/"), None);
        let all = Env::from_pairs([("ALL_PROXY", "http://all:1")]);
        assert_eq!(
            proxy_for(&all, "https://sts.amazonaws.com").as_deref(),
            Some("http://all:1")
        );
        assert_eq!(
            proxy_for(&Env::default(), "https://sts.amazonaws.com"),
            None
        );
    }

    #[test]
    fn xml_text_finds_and_unescapes() {
        let xml = "<R><Credentials><AccessKeyId>AK</AccessKeyId><SessionToken>a&amp;b</SessionToken></Credentials></R>";
        assert_eq!(xml_text(xml, "AccessKeyId").as_deref(), Some("AK"));
        assert_eq!(xml_text(xml, "SessionToken").as_deref(), Some("a&b"));
        assert_eq!(xml_text(xml, "Missing"), None);
    }
}
