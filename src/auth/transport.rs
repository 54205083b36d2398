//! The HTTP side of a login: TLS material (system roots, `--cacert`, `certs.d`), the ureq agent
//! (timeouts, proxies from the environment), loopback detection, and turning transport failures
//! into short texts.

use std::io::BufReader;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use ureq::http::{Response, Uri};
use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
use ureq::{Body, Proxy};

use super::AuthError;
use super::token::WipedBytes;

/// The system-wide certs.d root Docker reads.
pub const SYSTEM_CERTS_DIR: &str = "/etc/docker/certs.d";

/// How to reach a registry.
#[derive(Clone, Debug)]
pub struct TransportOptions {
    /// Extra CA certificates (PEM files, `--cacert`), trusted besides the system's roots.
    pub ca_files: Vec<PathBuf>,
    /// certs.d roots. For host `H[:P]`, `ROOT/H[:P]/*.crt` are CAs and `*.cert` + `*.key` a
    /// client certificate, as Docker reads them.
    pub certs_dirs: Vec<PathBuf>,
    /// `false` skips certificate verification (the user's explicit choice).
    pub tls_verify: bool,
    /// The user marked the registry insecure: plain HTTP may be tried for any host.
    pub allow_plain_http: bool,
    /// Connect timeout, and the limit for each whole request.
    pub timeout: Duration,
    pub user_agent: String,
}

impl TransportOptions {
    /// `/etc/docker/certs.d`, plus `$XDG_CONFIG_HOME/docker/certs.d` (or
    /// `~/.config/docker/certs.d`) when that directory exists (rootless Docker's place).
    pub fn default_certs_dirs() -> Vec<PathBuf> {
        let mut dirs = vec![PathBuf::from(SYSTEM_CERTS_DIR)];
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            });
        if let Some(user_dir) = config_home.map(|c| c.join("docker").join("certs.d"))
            && user_dir.is_dir()
        {
            dirs.push(user_dir);
        }
        dirs
    }
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            ca_files: Vec::new(),
            certs_dirs: TransportOptions::default_certs_dirs(),
            tls_verify: true,
            allow_plain_http: false,
            timeout: Duration::from_secs(15),
            user_agent: concat!("reglogin/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Splits `host[:port]` into the bare host (IPv6 without brackets) and the port, if any.
/// A bare IPv6 address (`::1`) has no port.
pub fn split_host_port(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((inner, after)) => (inner, after.strip_prefix(':')),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => (name, Some(port)),
        _ => (host, None),
    }
}

/// Whether the host is this machine without asking DNS: `Some` for `localhost` and IP
/// literals, `None` for other names.
pub fn loopback_literal(name: &str) -> Option<bool> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        return Some(true);
    }
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    bare.parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical().is_loopback())
}

/// Whether `host` (`host[:port]`) is this machine: `localhost`, an address in 127.0.0.0/8 or
/// `::1`, or a name that resolves only to such addresses.
pub fn is_loopback_host(host: &str) -> bool {
    let (name, _) = split_host_port(host);
    if name.is_empty() {
        return false;
    }
    if let Some(answer) = loopback_literal(name) {
        return answer;
    }
    match (name, 0u16).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().to_canonical().is_loopback())
        }
        Err(_) => false,
    }
}

/// The crypto provider for every TLS connection: the process default if one is installed,
/// otherwise ring, the one provider this crate builds rustls with.
fn crypto_provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, AuthError> {
    std::fs::read(path)
        .map_err(|err| AuthError::TlsSetup(format!("cannot read {what} {}: {err}", path.display())))
}

fn pem_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, AuthError> {
    let bytes = read_file(path, what)?;
    rustls_pemfile::certs(&mut BufReader::new(bytes.as_slice()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            AuthError::TlsSetup(format!("invalid PEM in {what} {}: {err}", path.display()))
        })
}

fn to_ureq_cert(der: &CertificateDer<'_>) -> Certificate<'static> {
    Certificate::from_der(der.as_ref()).to_owned()
}

/// The TLS configuration for `host`: system roots (unless verification is off), `ca_files`, and
/// the host's certs.d directories.
pub fn tls_config(host: &str, opts: &TransportOptions) -> Result<TlsConfig, AuthError> {
    let provider = crypto_provider();
    let mut roots = Vec::new();
    if opts.tls_verify {
        roots.extend(super::roots::system_roots().iter().map(to_ureq_cert));
    }
    for file in &opts.ca_files {
        let certs = pem_certs(file, "CA certificate file")?;
        if certs.is_empty() {
            return Err(AuthError::TlsSetup(format!(
                "no certificates found in CA certificate file {}",
                file.display()
            )));
        }
        roots.extend(certs.iter().map(to_ureq_cert));
    }
    let mut client_cert = None;
    for root in &opts.certs_dirs {
        let dir = root.join(host);
        if dir.is_dir() {
            read_certs_dir(&dir, &mut roots, &mut client_cert, &provider)?;
        }
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .client_cert(client_cert)
        .disable_verification(!opts.tls_verify)
        .unversioned_rustls_crypto_provider(provider)
        .build())
}

/// Docker's certs.d rules: `*.crt` are CAs; `X.cert` needs `X.key` and the other way round.
/// The first pair (by file name) is the client certificate.
fn read_certs_dir(
    dir: &Path,
    roots: &mut Vec<Certificate<'static>>,
    client_cert: &mut Option<ClientCert>,
    provider: &CryptoProvider,
) -> Result<(), AuthError> {
    let entries = std::fs::read_dir(dir).map_err(|err| {
        AuthError::TlsSetup(format!("cannot read directory {}: {err}", dir.display()))
    })?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".crt") {
            let certs = pem_certs(&path, "CA certificate file")?;
            roots.extend(certs.iter().map(to_ureq_cert));
        } else if let Some(stem) = name.strip_suffix(".cert") {
            let key_path = dir.join(format!("{stem}.key"));
            if !key_path.exists() {
                return Err(AuthError::TlsSetup(format!(
                    "missing key {} for client certificate {}. CA certificates must use the \
                     extension .crt",
                    key_path.display(),
                    path.display()
                )));
            }
            let pair = load_client_pair(&path, &key_path, provider)?;
            client_cert.get_or_insert(pair);
        } else if let Some(stem) = name.strip_suffix(".key") {
            let cert_path = dir.join(format!("{stem}.cert"));
            if !cert_path.exists() {
                return Err(AuthError::TlsSetup(format!(
                    "missing client certificate {} for key {}",
                    cert_path.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Loads a client certificate chain and its key, checking that they belong together (ureq
/// would panic on a mismatched pair).
fn load_client_pair(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<ClientCert, AuthError> {
    let chain = pem_certs(cert_path, "client certificate")?;
    if chain.is_empty() {
        return Err(AuthError::TlsSetup(format!(
            "no certificate found in client certificate {}",
            cert_path.display()
        )));
    }
    let key_bytes = WipedBytes(read_file(key_path, "client key")?);
    let key = rustls_pemfile::private_key(&mut BufReader::new(key_bytes.0.as_slice()))
        .map_err(|err| {
            AuthError::TlsSetup(format!(
                "invalid PEM in client key {}: {err}",
                key_path.display()
            ))
        })?
        .ok_or_else(|| {
            AuthError::TlsSetup(format!("no private key found in {}", key_path.display()))
        })?;
    rustls::sign::CertifiedKey::from_der(chain.clone(), key, provider).map_err(|err| {
        AuthError::TlsSetup(format!(
            "cannot use client certificate {} with key {}: {err}",
            cert_path.display(),
            key_path.display()
        ))
    })?;
    // The same first key, in ureq's type.
    let key = PrivateKey::from_pem(&key_bytes.0).map_err(|err| {
        AuthError::TlsSetup(format!("invalid client key {}: {err}", key_path.display()))
    })?;
    let chain: Vec<_> = chain.iter().map(to_ureq_cert).collect();
    Ok(ClientCert::new_with_certs(&chain, key))
}

/// A URL's scheme and host, enough to decide on proxies and plain HTTP.
pub struct UrlParts {
    pub scheme: String,
    /// `host[:port]` as written (IPv6 in brackets).
    pub authority: String,
}

impl UrlParts {
    /// Whether `url` has this scheme, host and port (an omitted port is the scheme's default).
    pub fn same_origin(&self, url: &str) -> bool {
        let Some(other) = url_parts(url) else {
            return false;
        };
        let origin = |parts: &UrlParts| {
            let (host, port) = split_host_port(&parts.authority);
            let port = port.unwrap_or(match parts.scheme.as_str() {
                "https" => "443",
                _ => "80",
            });
            (
                parts.scheme.clone(),
                host.to_ascii_lowercase(),
                port.to_owned(),
            )
        };
        origin(self) == origin(&other)
    }
}

pub fn url_parts(url: &str) -> Option<UrlParts> {
    let uri: Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(UrlParts {
        scheme,
        authority: authority.as_str().to_owned(),
    })
}

/// The HTTP client of one login.
pub struct Client {
    agent: ureq::Agent,
    /// Returns redirects instead of following them: requests that carry credentials follow
    /// redirects by hand, keeping the credentials only within one origin.
    agent_without_redirects: ureq::Agent,
    env_proxy: Option<Proxy>,
}

/// Redirects followed for one request, as Go's net/http allows.
const MAX_REDIRECTS: u32 = 10;

impl Client {
    /// A client using the proxy the environment names (`HTTPS_PROXY`, `NO_PROXY`, …).
    pub fn new(opts: &TransportOptions, tls: TlsConfig) -> Client {
        Client::with_proxy(opts, tls, Proxy::try_from_env())
    }

    pub fn with_proxy(opts: &TransportOptions, tls: TlsConfig, env_proxy: Option<Proxy>) -> Client {
        let config = |max_redirects| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .user_agent(opts.user_agent.as_str())
                .timeout_connect(Some(opts.timeout))
                .timeout_global(Some(opts.timeout))
                .tls_config(tls.clone())
                .proxy(env_proxy.clone())
                .max_redirects(max_redirects)
                .redirect_auth_headers(ureq::config::RedirectAuthHeaders::Never)
                .build()
        };
        Client {
            agent: config(MAX_REDIRECTS).new_agent(),
            agent_without_redirects: config(0).new_agent(),
            env_proxy,
        }
    }

    /// Go never proxies `localhost` or loopback addresses; neither do we. `Some(None)` means
    /// "bypass the agent's proxy for this URL".
    fn proxy_override(&self, url: &str) -> Option<Option<Proxy>> {
        self.env_proxy.as_ref()?;
        let direct = url_parts(url).is_some_and(|parts| {
            loopback_literal(split_host_port(&parts.authority).0) == Some(true)
        });
        direct.then_some(None)
    }

    /// `GET url`, with `Authorization: {authorization}` when given. The credentials follow a
    /// redirect only to the same origin (scheme, host and port): another port of the same host
    /// can be another server, and Go's rule (same host name) would hand it the password.
    pub fn get(
        &self,
        url: &str,
        authorization: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        let Some(authorization) = authorization else {
            return self.send_get(&self.agent, url, None);
        };
        let origin = url_parts(url);
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let response =
                self.send_get(&self.agent_without_redirects, &current, Some(authorization))?;
            let location = response
                .headers()
                .get("Location")
                .and_then(|value| value.to_str().ok());
            let next = match location {
                Some(location) if response.status().is_redirection() => {
                    resolve_location(&current, location)
                }
                _ => None,
            };
            let Some(next) = next else {
                return Ok(response);
            };
            if !origin
                .as_ref()
                .is_some_and(|origin| origin.same_origin(&next))
            {
                return self.send_get(&self.agent, &next, None);
            }
            current = next;
        }
        Err(ureq::Error::TooManyRedirects)
    }

    fn send_get(
        &self,
        agent: &ureq::Agent,
        url: &str,
        authorization: Option<&str>,
    ) -> Result<Response<Body>, ureq::Error> {
        // Request-level settings make ureq rebuild its TLS setup: use them only when needed.
        let mut request = match self.proxy_override(url) {
            Some(proxy) => agent.get(url).config().proxy(proxy).build(),
            None => agent.get(url),
        };
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let result = request.call();
        debug_exchange("GET", url, authorization, &result);
        result
    }

    /// `POST url` with a form body. Redirects are not followed: the body carries a secret.
    pub fn post_form(&self, url: &str, form: &[u8]) -> Result<Response<Body>, ureq::Error> {
        let proxy = self
            .proxy_override(url)
            .unwrap_or_else(|| self.env_proxy.clone());
        let result = self
            .agent
            .post(url)
            .config()
            .proxy(proxy)
            .max_redirects(0)
            .build()
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form);
        debug_exchange("POST (form)", url, None, &result);
        result
    }
}

/// One request in the debug output: method, URL, whether credentials went along (never what
/// they were), and the status or the failure.
fn debug_exchange(
    method: &str,
    url: &str,
    authorization: Option<&str>,
    result: &Result<Response<Body>, ureq::Error>,
) {
    if !crate::debug::enabled() {
        return;
    }
    let credentials = match authorization.and_then(|value| value.split_once(' ')) {
        Some((scheme, _)) => format!(" with {scheme} credentials"),
        None => String::new(),
    };
    let outcome = match result {
        Ok(response) => {
            let challenge = response
                .headers()
                .get("WWW-Authenticate")
                .and_then(|value| value.to_str().ok())
                .map(|value| format!(", WWW-Authenticate: {value}"))
                .unwrap_or_default();
            format!("{}{challenge}", response.status())
        }
        Err(err) => format!("failed: {}", classify(err).reason()),
    };
    crate::debug_line!("{method} {url}{credentials} -> {outcome}");
}

/// The absolute URL a `Location` header names, relative to the URL that answered it.
fn resolve_location(base: &str, location: &str) -> Option<String> {
    if location.contains("://") {
        return Some(location.to_owned());
    }
    let parts = url_parts(base)?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{}://{rest}", parts.scheme));
    }
    let root = format!("{}://{}", parts.scheme, parts.authority);
    if location.starts_with('/') {
        return Some(format!("{root}{location}"));
    }
    let path = &base[root.len().min(base.len())..];
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let directory = path.rfind('/').map_or("/", |slash| &path[..=slash]);
    Some(format!("{root}{directory}{location}"))
}

/// What went wrong below HTTP.
#[derive(Debug)]
pub enum TransportFailure {
    /// The server's certificate was not accepted.
    Certificate(String),
    /// The server answered a TLS hello with plain HTTP.
    NotTls,
    /// The server wants a client certificate and got none it accepts.
    ClientCertificateRequired,
    /// The server speaks TLS but the handshake failed otherwise.
    Tls(String),
    /// Anything else: refused, reset, timed out, no such host, …
    Other(String),
}

impl TransportFailure {
    pub fn reason(&self) -> String {
        match self {
            TransportFailure::Certificate(reason)
            | TransportFailure::Tls(reason)
            | TransportFailure::Other(reason) => reason.clone(),
            TransportFailure::NotTls => "http: server gave HTTP response to HTTPS client".into(),
            TransportFailure::ClientCertificateRequired => {
                "tls: the server requires a client certificate".into()
            }
        }
    }
}

fn rustls_error(err: &ureq::Error) -> Option<&rustls::Error> {
    match err {
        ureq::Error::Rustls(err) => Some(err),
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

fn certificate_reason(err: &rustls::CertificateError) -> String {
    use rustls::CertificateError as E;
    let detail = match err {
        E::UnknownIssuer => "x509: certificate signed by unknown authority".to_owned(),
        E::NotValidForName | E::NotValidForNameContext { .. } => {
            "x509: certificate is not valid for this host name".to_owned()
        }
        E::Expired | E::ExpiredContext { .. } | E::NotValidYet | E::NotValidYetContext { .. } => {
            "x509: certificate has expired or is not yet valid".to_owned()
        }
        other => format!("x509: {}", rustls::Error::InvalidCertificate(other.clone())),
    };
    format!("tls: failed to verify certificate: {detail}")
}

fn io_reason(err: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset by peer".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::UnexpectedEof => "EOF (the server closed the connection)".into(),
        K::TimedOut => "i/o timeout".into(),
        K::HostUnreachable => "no route to host".into(),
        K::NetworkUnreachable => "network is unreachable".into(),
        K::AddrNotAvailable => "cannot assign requested address".into(),
        _ => err.to_string(),
    }
}

/// Sorts a ureq failure and phrases it briefly. No URL, header or body is part of the text.
pub fn classify(err: &ureq::Error) -> TransportFailure {
    if let Some(tls) = rustls_error(err) {
        return match tls {
            rustls::Error::InvalidCertificate(cert) => {
                TransportFailure::Certificate(certificate_reason(cert))
            }
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
                TransportFailure::NotTls
            }
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired) => {
                TransportFailure::ClientCertificateRequired
            }
            other => TransportFailure::Tls(format!("tls: {other}")),
        };
    }
    let reason = match err {
        ureq::Error::Io(io) => io_reason(io),
        ureq::Error::HostNotFound => "no such host".into(),
        ureq::Error::Timeout(ureq::Timeout::Connect) => "timed out connecting".into(),
        ureq::Error::Timeout(ureq::Timeout::Resolve) => "timed out resolving the host".into(),
        ureq::Error::Timeout(_) => "timed out waiting for the server".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::ConnectProxyFailed(why) => format!("proxyconnect: {why}"),
        ureq::Error::InvalidProxyUrl => "invalid proxy URL in the environment".into(),
        ureq::Error::TooManyRedirects => "stopped after too many redirects".into(),
        ureq::Error::Protocol(why) => format!("malformed HTTP response: {why}"),
        other => other.to_string(),
    };
    TransportFailure::Other(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_splitting() {
        let cases = [
            ("127.0.0.1:5001", ("127.0.0.1", Some("5001"))),
            ("registry-1.docker.io", ("registry-1.docker.io", None)),
            ("[::1]:5000", ("::1", Some("5000"))),
            ("[::1]", ("::1", None)),
            ("::1", ("::1", None)),
            ("localhost:80", ("localhost", Some("80"))),
        ];
        for (input, want) in cases {
            assert_eq!(split_host_port(input), want, "{input}");
        }
    }

    #[test]
    fn loopback_detection() {
        let cases = [
            ("127.0.0.1", true),
            ("127.0.0.1:5001", true),
            ("127.5.5.5", true),
            ("127.255.255.254:443", true),
            ("localhost", true),
            ("LOCALHOST:5000", true),
            ("localhost.", true),
            ("[::1]", true),
            ("[::1]:5000", true),
            ("::1", true),
            ("[0:0:0:0:0:0:0:1]:5000", true),
            ("[::ffff:127.0.0.1]:5000", true),
            ("128.0.0.1", false),
            ("10.0.0.1:5000", false),
            ("[::2]:5000", false),
            ("0.0.0.0", false),
            ("example.com", false),
            ("example.com:5000", false),
            ("", false),
        ];
        for (host, want) in cases {
            assert_eq!(is_loopback_host(host), want, "{host}");
        }
    }

    #[test]
    fn default_options() {
        let opts = TransportOptions::default();
        assert!(opts.tls_verify);
        assert!(!opts.allow_plain_http);
        assert_eq!(opts.timeout, Duration::from_secs(15));
        assert_eq!(
            opts.user_agent,
            format!("reglogin/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(opts.certs_dirs[0], PathBuf::from("/etc/docker/certs.d"));
        assert!(opts.ca_files.is_empty());
    }

    #[test]
    fn loopback_targets_bypass_the_proxy() {
        let opts = TransportOptions::default();
        let proxy = Proxy::new("http://127.0.0.1:1").unwrap();
        let client = Client::with_proxy(&opts, TlsConfig::default(), Some(proxy));
        for url in [
            "http://127.0.0.1:5000/v2/",
            "https://localhost/v2/",
            "https://[::1]:5000/token",
        ] {
            assert!(matches!(client.proxy_override(url), Some(None)), "{url}");
        }
        assert!(
            client
                .proxy_override("https://registry.example.com/v2/")
                .is_none()
        );
        let direct = Client::with_proxy(&opts, TlsConfig::default(), None);
        assert!(direct.proxy_override("http://127.0.0.1:5000/v2/").is_none());
    }

    #[test]
    fn redirect_locations_and_origins() {
        let base = "https://r.example:5000/v2/a/b?x=1";
        let cases = [
            ("https://other/v2/", "https://other/v2/"),
            ("//cdn.example/x", "https://cdn.example/x"),
            ("/v2/", "https://r.example:5000/v2/"),
            ("c", "https://r.example:5000/v2/a/c"),
        ];
        for (location, expected) in cases {
            assert_eq!(resolve_location(base, location).as_deref(), Some(expected));
        }
        let origin = url_parts("https://R.example/v2/").unwrap();
        assert!(origin.same_origin("https://r.example:443/token"));
        assert!(!origin.same_origin("https://r.example:5000/v2/"));
        assert!(!origin.same_origin("http://r.example/v2/"));
        assert!(!origin.same_origin("https://r.example.evil/v2/"));
        let loopback = url_parts("http://127.0.0.1:5000/v2/").unwrap();
        assert!(loopback.same_origin("http://127.0.0.1:5000/v2/x"));
        assert!(!loopback.same_origin("http://127.0.0.1:5001/v2/"));
    }

    #[test]
    fn url_parts_of_realms() {
        let parts = url_parts("https://auth.docker.io/token?x=1").unwrap();
        assert_eq!(
            (parts.scheme.as_str(), parts.authority.as_str()),
            ("https", "auth.docker.io")
        );
        let parts = url_parts("HTTP://[::1]:5001/token").unwrap();
        assert_eq!(
            (parts.scheme.as_str(), parts.authority.as_str()),
            ("http", "[::1]:5001")
        );
        assert!(url_parts("/token").is_none());
        assert!(url_parts("https://user:pw@host/token").is_none());
    }
}
