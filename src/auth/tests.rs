//! End-to-end tests of `login` against throwaway HTTP(S) responders on 127.0.0.1, and the
//! texts of `AuthError`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;

use super::test_server::{Reply, Request, TestServer};
use super::*;

const CA_CRT: &str = include_str!("testdata/ca.crt");
const SERVER_CRT: &str = include_str!("testdata/server.crt");
const SERVER_KEY: &str = include_str!("testdata/server.key");
const CLIENT_CRT: &str = include_str!("testdata/client.crt");
const CLIENT_KEY: &str = include_str!("testdata/client.key");

fn opts() -> TransportOptions {
    TransportOptions {
        ca_files: Vec::new(),
        certs_dirs: Vec::new(),
        tls_verify: true,
        allow_plain_http: false,
        timeout: Duration::from_secs(5),
        user_agent: "reglogin-test".into(),
    }
}

fn creds(user: &str, password: &str) -> Credentials {
    Credentials::basic(user, password)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "reglogin-auth-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_tls(require_client_cert: bool) -> Arc<rustls::ServerConfig> {
    let certs = rustls_pemfile::certs(&mut SERVER_CRT.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut SERVER_KEY.as_bytes())
        .unwrap()
        .unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for ca in rustls_pemfile::certs(&mut CA_CRT.as_bytes()) {
            roots.add(ca.unwrap()).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(builder.with_single_cert(certs, key).unwrap())
}

/// A registry that wants Basic `user:pass`.
fn basic_registry(request: &Request) -> Reply {
    if request.header("authorization") == Some(basic("user", "pass").as_str()) {
        Reply::new(200).json("{}")
    } else {
        Reply::new(401)
            .header("WWW-Authenticate", r#"Basic realm="Registry Realm""#)
            .json(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#)
    }
}

#[test]
fn error_texts() {
    let cases = [
        (
            AuthError::LoginFailed {
                url: "http://127.0.0.1:5001/v2/".into(),
                status: 401,
            },
            "login attempt to http://127.0.0.1:5001/v2/ failed with status: 401 Unauthorized",
        ),
        (
            AuthError::LoginFailed {
                url: "https://r/v2/".into(),
                status: 404,
            },
            "login attempt to https://r/v2/ failed with status: 404 Not Found",
        ),
        (
            AuthError::Transport {
                url: "https://127.0.0.1:5001/v2/".into(),
                reason: "connection refused".into(),
            },
            r#"Get "https://127.0.0.1:5001/v2/": connection refused"#,
        ),
        (
            AuthError::Token {
                url: "https://r/v2/".into(),
                source: TokenError::NoToken,
            },
            r#"Get "https://r/v2/": authorization server did not include a token in the response"#,
        ),
        (
            AuthError::Token {
                url: "https://r/v2/".into(),
                source: TokenError::UnexpectedStatus(500),
            },
            r#"Get "https://r/v2/": received unexpected HTTP status: 500 Internal Server Error"#,
        ),
        (
            AuthError::Token {
                url: "https://r/v2/".into(),
                source: TokenError::Transport {
                    method: "Get",
                    url: "https://auth/token".into(),
                    reason: "no such host".into(),
                },
            },
            r#"Get "https://r/v2/": Get "https://auth/token": no such host"#,
        ),
        (
            AuthError::NoBasicCredentials {
                url: "https://r/v2/".into(),
            },
            r#"Get "https://r/v2/": no basic auth credentials"#,
        ),
        (
            AuthError::UntrustedCertificate {
                registry: "r:5000".into(),
                url: "https://r:5000/v2/".into(),
                reason: "tls: failed to verify certificate: x509: certificate signed by unknown authority".into(),
            },
            "Get \"https://r:5000/v2/\": tls: failed to verify certificate: x509: certificate \
             signed by unknown authority (the certificate of r:5000 is not trusted: pass --cacert \
             FILE with its CA certificate, put the CA certificate in \
             /etc/docker/certs.d/r:5000/ca.crt, or use --tls-verify=false to skip verification)",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn invalid_hosts_are_rejected_before_any_request() {
    for host in [
        "",
        "https://r",
        "r/v2",
        "..",
        "r:abc",
        "r:0",
        "r:70000",
        "a b",
        "u@r",
        "[zz]:1",
    ] {
        let err = login(host, &creds("u", "p"), &opts()).unwrap_err();
        assert!(matches!(err, AuthError::InvalidHost(_)), "{host}: {err}");
    }
}

#[test]
fn basic_login_over_plain_http_on_loopback() {
    let server = TestServer::http(|request, _| basic_registry(request));
    let outcome = login(&server.host(), &creds("user", "pass"), &opts()).unwrap();
    assert_eq!(outcome.endpoint, format!("http://{}/v2/", server.host()));
    assert!(outcome.identity_token.is_none());
    // HTTPS was tried first and refused by the plain server.
    assert_eq!(server.rejected(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].header("authorization"), None);
    assert_eq!(requests[0].header("user-agent"), Some("reglogin-test"));
    assert_eq!(requests[1].path(), "/v2/");
}

#[test]
fn basic_login_wrong_password() {
    let server = TestServer::http(|request, _| basic_registry(request));
    let err = login(&server.host(), &creds("user", "wrong"), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            server.host()
        )
    );
    assert!(err.is_unauthorized());
}

#[test]
fn basic_login_without_credentials() {
    let server = TestServer::http(|request, _| basic_registry(request));
    let err = login(&server.host(), &Credentials::default(), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Get \"http://{}/v2/\": no basic auth credentials",
            server.host()
        )
    );
}

#[test]
fn localhost_name_counts_as_loopback() {
    let server = TestServer::http(|request, _| basic_registry(request));
    let host = format!("localhost:{}", server.addr.port());
    match login(&host, &creds("user", "pass"), &opts()) {
        Ok(outcome) => assert_eq!(outcome.endpoint, format!("http://{host}/v2/")),
        // `localhost` may resolve to ::1 first, where nothing listens.
        Err(err) => assert!(matches!(err, AuthError::Transport { .. }), "{err}"),
    }
}

#[test]
fn open_registry_is_accepted() {
    let server = TestServer::http(|_, _| Reply::new(200).json("{}"));
    let outcome = login(&server.host(), &Credentials::default(), &opts()).unwrap();
    assert_eq!(outcome.endpoint, format!("http://{}/v2/", server.host()));
}

#[test]
fn other_ping_status_fails_without_auth() {
    let server = TestServer::http(|_, _| Reply::new(404));
    let err = login(&server.host(), &creds("user", "pass"), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 404 Not Found",
            server.host()
        )
    );
    assert!(!err.is_unauthorized());
}

#[test]
fn unknown_challenge_only() {
    let server = TestServer::http(|_, _| Reply::new(401).header("WWW-Authenticate", "Negotiate"));
    let err = login(&server.host(), &creds("user", "pass"), &opts()).unwrap_err();
    assert!(
        matches!(err, AuthError::LoginFailed { status: 401, .. }),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn connection_refused_names_the_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let host = format!("127.0.0.1:{port}");
    let err = login(&host, &creds("user", "pass"), &opts()).unwrap_err();
    // HTTPS is refused, then HTTP: the last attempt is reported, as Docker does.
    assert_eq!(
        err.to_string(),
        format!("Get \"http://{host}/v2/\": connection refused")
    );
    assert!(!err.is_unauthorized());
}

/// A registry whose Bearer realm is a token endpoint on the same server.
fn bearer_registry(token_reply: fn(&Request) -> Reply) -> TestServer {
    TestServer::http(move |request, addr| match request.path() {
        "/v2/" if request.header("authorization") == Some("Bearer good-token") => Reply::new(200),
        "/v2/" => Reply::new(401).header(
            "WWW-Authenticate",
            &format!(r#"Bearer realm="http://{addr}/token",service="test-registry""#),
        ),
        "/token" => token_reply(request),
        _ => Reply::new(404),
    })
}

#[test]
fn bearer_login_with_password() {
    let server = bearer_registry(|request| {
        if request.header("authorization") == Some(basic("user", "p@ss word").as_str()) {
            Reply::new(200).json(
                r#"{"token":"good-token","expires_in":300,"refresh_token":"refresh-1","issued_at":"2024-05-01T12:00:00Z"}"#,
            )
        } else {
            Reply::new(401).json(r#"{"details":"incorrect username or password"}"#)
        }
    });
    let outcome = login(&server.host(), &creds("user", "p@ss word"), &opts()).unwrap();
    assert_eq!(outcome.endpoint, format!("http://{}/v2/", server.host()));
    assert_eq!(
        outcome.identity_token.as_ref().map(Secret::expose),
        Some("refresh-1")
    );
    let token_request = server
        .requests()
        .into_iter()
        .find(|r| r.path() == "/token")
        .unwrap();
    assert_eq!(token_request.method, "GET");
    assert_eq!(
        token_request.query(),
        "account=user&client_id=docker&offline_token=true&service=test-registry"
    );
}

#[test]
fn bearer_login_wrong_password_shows_details() {
    let server = bearer_registry(|_| {
        Reply::new(401).json(r#"{"details":"incorrect username or password"}"#)
    });
    let err = login(&server.host(), &creds("user", "nope"), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Get \"http://{}/v2/\": unauthorized: incorrect username or password",
            server.host()
        )
    );
    assert!(err.is_unauthorized());
    // A refusal stops: no request after the token server's answer.
    assert_eq!(server.requests().last().unwrap().path(), "/token");
}

#[test]
fn bearer_token_server_failures() {
    type TokenReply = fn(&Request) -> Reply;
    let cases: [(TokenReply, &str, bool); 4] = [
        (|_| Reply::new(401), "unauthorized: 401 Unauthorized", true),
        (
            |_| Reply::new(403).json(r#"{"details":"locked"}"#),
            "denied: locked",
            false,
        ),
        (
            |_| Reply::new(500),
            "received unexpected HTTP status: 500 Internal Server Error",
            false,
        ),
        (
            |_| Reply::new(200).json(r#"{"expires_in":60}"#),
            "authorization server did not include a token in the response",
            false,
        ),
    ];
    for (reply, want, unauthorized) in cases {
        let server = bearer_registry(reply);
        let err = login(&server.host(), &creds("user", "pass"), &opts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Get \"http://{}/v2/\": {want}", server.host())
        );
        assert_eq!(err.is_unauthorized(), unauthorized, "{want}");
    }
}

#[test]
fn bearer_token_rejected_by_registry() {
    let server = bearer_registry(|_| Reply::new(200).json(r#"{"access_token":"other-token"}"#));
    let err = login(&server.host(), &creds("user", "pass"), &opts()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            server.host()
        )
    );
}

#[test]
fn bearer_login_with_identity_token_uses_oauth() {
    let server = bearer_registry(|request| {
        let form = String::from_utf8_lossy(&request.body);
        if request.method == "POST"
            && request.header("authorization").is_none()
            && request.header("content-type") == Some("application/x-www-form-urlencoded")
            && form
                == "access_type=offline&client_id=docker&grant_type=refresh_token&refresh_token=old%2Frefresh&service=test-registry"
        {
            Reply::new(200).json(r#"{"access_token":"good-token","refresh_token":"new-refresh"}"#)
        } else {
            Reply::new(401).json(r#"{"details":"bad refresh token"}"#)
        }
    });
    let mut stored = creds("user", "");
    stored.identity_token = Some(Secret::new("old/refresh"));
    let outcome = login(&server.host(), &stored, &opts()).unwrap();
    assert_eq!(
        outcome.identity_token.as_ref().map(Secret::expose),
        Some("new-refresh")
    );
}

#[test]
fn registry_token_is_used_as_is() {
    let server = bearer_registry(|_| Reply::new(500));
    let stored = Credentials {
        registry_token: Some(Secret::new("good-token")),
        ..Credentials::default()
    };
    let outcome = login(&server.host(), &stored, &opts()).unwrap();
    assert!(outcome.identity_token.is_none());
    assert!(server.requests().iter().all(|r| r.path() != "/token"));
}

#[test]
fn bearer_realm_problems() {
    let cases = [
        (
            r#"Bearer service="s""#,
            "no realm specified for token auth challenge",
        ),
        (
            r#"Bearer realm="/token""#,
            "invalid token auth challenge realm: /token",
        ),
        (
            r#"Bearer realm="http://registry.example.com/token""#,
            "refusing to send credentials over plain HTTP to the token server \
             http://registry.example.com/token (allowed only on this machine or for a registry \
             marked insecure)",
        ),
    ];
    for (challenge, want) in cases {
        let server =
            TestServer::http(move |_, _| Reply::new(401).header("WWW-Authenticate", challenge));
        let err = login(&server.host(), &creds("user", "pass"), &opts()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("Get \"http://{}/v2/\": {want}", server.host())
        );
    }
}

#[test]
fn plain_http_is_only_for_loopback_or_insecure() {
    let strict = opts();
    assert!(plain_http_allowed("127.0.0.1:5000", &strict));
    assert!(plain_http_allowed("localhost", &strict));
    assert!(plain_http_allowed("[::1]:5000", &strict));
    assert!(!plain_http_allowed("example.com", &strict));
    assert!(!plain_http_allowed("10.1.2.3:5000", &strict));
    let insecure = TransportOptions {
        allow_plain_http: true,
        ..opts()
    };
    assert!(plain_http_allowed("10.1.2.3:5000", &insecure));
}

#[test]
fn untrusted_certificate_does_not_fall_back() {
    let server = TestServer::https(server_tls(false), |request, _| basic_registry(request));
    let host = server.host();
    let err = login(&host, &creds("user", "pass"), &opts()).unwrap_err();
    assert!(
        matches!(err, AuthError::UntrustedCertificate { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("Get \"https://{host}/v2/\": ")),
        "{text}"
    );
    assert!(
        text.contains("certificate signed by unknown authority"),
        "{text}"
    );
    assert!(text.contains("--cacert FILE"), "{text}");
    assert!(
        text.contains(&format!("/etc/docker/certs.d/{host}/ca.crt")),
        "{text}"
    );
    assert!(text.contains("--tls-verify=false"), "{text}");
    // Only the failed handshake: no plain-HTTP attempt followed.
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.requests().is_empty());
    assert_eq!(server.rejected(), 1);
}

#[test]
fn https_with_cacert_file() {
    let dir = TempDir::new();
    let ca = dir.write("ca.pem", CA_CRT);
    let server = TestServer::https(server_tls(false), |request, _| basic_registry(request));
    let options = TransportOptions {
        ca_files: vec![ca],
        ..opts()
    };
    let outcome = login(&server.host(), &creds("user", "pass"), &options).unwrap();
    assert_eq!(outcome.endpoint, format!("https://{}/v2/", server.host()));
    assert!(server.requests().iter().all(|r| r.tls));

    // A 401 over HTTPS stops there: no HTTP attempt.
    let err = login(&server.host(), &creds("user", "bad"), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "login attempt to https://{}/v2/ failed with status: 401 Unauthorized",
            server.host()
        )
    );
}

#[test]
fn https_with_certs_d() {
    let server = TestServer::https(server_tls(false), |request, _| basic_registry(request));
    let dir = TempDir::new();
    dir.write(&format!("{}/ca.crt", server.host()), CA_CRT);
    let options = TransportOptions {
        certs_dirs: vec![PathBuf::from("/nonexistent/certs.d"), dir.path().to_owned()],
        ..opts()
    };
    let outcome = login(&server.host(), &creds("user", "pass"), &options).unwrap();
    assert_eq!(outcome.endpoint, format!("https://{}/v2/", server.host()));
}

#[test]
fn https_without_verification() {
    let server = TestServer::https(server_tls(false), |request, _| basic_registry(request));
    let options = TransportOptions {
        tls_verify: false,
        ..opts()
    };
    let outcome = login(&server.host(), &creds("user", "pass"), &options).unwrap();
    assert_eq!(outcome.endpoint, format!("https://{}/v2/", server.host()));
}

#[test]
fn https_with_client_certificate() {
    let server = TestServer::https(server_tls(true), |request, _| basic_registry(request));
    let dir = TempDir::new();
    let host_dir = server.host();
    dir.write(&format!("{host_dir}/ca.crt"), CA_CRT);
    let options = TransportOptions {
        certs_dirs: vec![dir.path().to_owned()],
        ..opts()
    };
    // Without a client certificate the server ends the handshake; that is no reason to try
    // plain HTTP.
    let err = login(&server.host(), &creds("user", "pass"), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Get \"https://{host_dir}/v2/\": tls: the server requires a client certificate (put \
             the client certificate and its key in /etc/docker/certs.d/{host_dir}/ as \
             client.cert and client.key)"
        )
    );
    assert!(server.requests().is_empty());

    dir.write(&format!("{host_dir}/client.cert"), CLIENT_CRT);
    dir.write(&format!("{host_dir}/client.key"), CLIENT_KEY);
    let outcome = login(&server.host(), &creds("user", "pass"), &options).unwrap();
    assert_eq!(outcome.endpoint, format!("https://{}/v2/", server.host()));
}

#[test]
fn certs_d_errors() {
    let dir = TempDir::new();
    let host = "registry.test:5000";
    let options = TransportOptions {
        certs_dirs: vec![dir.path().to_owned()],
        ..opts()
    };
    let cert = dir.write(&format!("{host}/client.cert"), CLIENT_CRT);
    let err = login(host, &creds("u", "p"), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "missing key {} for client certificate {}. CA certificates must use the extension .crt",
            dir.path().join(host).join("client.key").display(),
            cert.display()
        )
    );

    std::fs::remove_file(&cert).unwrap();
    let key = dir.write(&format!("{host}/client.key"), CLIENT_KEY);
    let err = login(host, &creds("u", "p"), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "missing client certificate {} for key {}",
            dir.path().join(host).join("client.cert").display(),
            key.display()
        )
    );

    // A key that does not belong to the certificate.
    dir.write(&format!("{host}/client.cert"), SERVER_CRT);
    let err = login(host, &creds("u", "p"), &options).unwrap_err();
    assert!(matches!(err, AuthError::TlsSetup(_)), "{err}");
    assert!(
        err.to_string().starts_with("cannot use client certificate"),
        "{err}"
    );
}

#[test]
fn unreadable_ca_file() {
    let options = TransportOptions {
        ca_files: vec![PathBuf::from("/nonexistent/ca.pem")],
        ..opts()
    };
    let err = login("127.0.0.1:1", &creds("u", "p"), &options).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot read CA certificate file /nonexistent/ca.pem: "),
        "{err}"
    );
    let dir = TempDir::new();
    let empty = dir.write("empty.pem", "not a certificate\n");
    let options = TransportOptions {
        ca_files: vec![empty.clone()],
        ..opts()
    };
    let err = login("127.0.0.1:1", &creds("u", "p"), &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no certificates found in CA certificate file {}",
            empty.display()
        )
    );
}

#[test]
fn secrets_stay_out_of_errors() {
    let server = bearer_registry(|_| Reply::new(401).json(r#"{"details":"nope"}"#));
    let mut stored = creds("user", "hunter2-password");
    stored.identity_token = Some(Secret::new("hunter2-refresh"));
    let err = login(&server.host(), &stored, &opts()).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn query_and_form_encoding() {
    assert_eq!(
        encode_pairs(&[("a b", "x/y+z"), ("k", "ü&=")]).expose(),
        "a+b=x%2Fy%2Bz&k=%C3%BC%26%3D"
    );
    let cases = [
        ("https://a/token", "https://a/token?x=1"),
        ("https://a/token?scope=s", "https://a/token?scope=s&x=1"),
        ("https://a/token?", "https://a/token?x=1"),
        ("https://a/token#frag", "https://a/token?x=1"),
    ];
    for (realm, want) in cases {
        assert_eq!(realm_with_query(realm, "x=1"), want);
    }
}

#[test]
fn bare_ipv6_host_gets_brackets() {
    assert_eq!(url_host("::1").unwrap(), "[::1]");
    assert_eq!(url_host("[::1]:5000").unwrap(), "[::1]:5000");
    assert_eq!(
        url_host("registry-1.docker.io").unwrap(),
        "registry-1.docker.io"
    );
}
