//! The fixtures in `tests/common` work on their own, without reglogin: each registry answers as
//! distribution 2.8 does, the token server's tokens are accepted, and the real docker CLI logs in
//! against them from a sandbox. Run with `cargo test --test fixtures_smoke -- --nocapture` to see
//! what docker printed.

mod common;

use std::process::{Command, Output};

use common::http::{self, basic_auth, percent_encode};
use common::token_server::jwt_claims;
use common::{Registry, Sandbox, TokenServer, require_program};
use serde_json::Value;

const ALICE: (&str, &str) = ("alice", "wonderland");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn show(label: &str, output: &Output) {
    eprintln!(
        "--- {label}: {}\nstdout: {:?}\nstderr: {:?}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", text(body)))
}

fn token_query(tokens: &TokenServer, extra: &str) -> String {
    format!(
        "/token?account=alice&client_id=docker&offline_token=true&service={}{extra}",
        percent_encode(tokens.service())
    )
}

#[test]
fn htpasswd_registry_asks_for_basic_and_accepts_the_right_password() {
    let registry = Registry::htpasswd(&[ALICE, ("bob", "builder")]);
    let anonymous = http::get(&registry.addr(), "/v2/");
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.header("www-authenticate"),
        Some("Basic realm=\"reglogin-test\"")
    );
    let good = http::get_with(
        &registry.addr(),
        "/v2/",
        &[("Authorization", &basic_auth("alice", "wonderland"))],
    );
    assert_eq!(good.status, 200, "{}", good.body_text());
    assert_eq!(
        good.header("docker-distribution-api-version"),
        Some("registry/2.0")
    );
    let bob = http::get_with(
        &registry.addr(),
        "/v2/",
        &[("Authorization", &basic_auth("bob", "builder"))],
    );
    assert_eq!(bob.status, 200);
    let wrong = http::get_with(
        &registry.addr(),
        "/v2/",
        &[("Authorization", &basic_auth("alice", "x"))],
    );
    assert_eq!(wrong.status, 401);
}

#[test]
fn open_registry_needs_no_credentials() {
    let registry = Registry::open();
    assert_eq!(http::get(&registry.addr(), "/v2/").status, 200);
    assert_eq!(
        registry.url(),
        format!("http://127.0.0.1:{}", registry.port())
    );
}

#[test]
fn registries_on_free_ports_run_side_by_side_and_stop_on_drop() {
    let first = Registry::open();
    let second = Registry::htpasswd(&[ALICE]);
    assert_ne!(first.port(), second.port());
    let addr = first.addr();
    drop(first);
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "the registry still listens after drop"
    );
    assert_eq!(http::get(&second.addr(), "/v2/").status, 401);
}

fn curl(args: &[&str]) -> Output {
    Command::new(require_program("curl"))
        .args(["--silent", "--show-error", "--max-time", "10"])
        .args(args)
        .output()
        .expect("running curl")
}

#[test]
fn tls_registry_is_trusted_through_its_ca_only() {
    let registry = Registry::htpasswd_tls(&[ALICE]);
    let ca = registry.ca_cert_path().to_str().unwrap().to_owned();
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/v2/", registry.port());
        let trusted = curl(&[
            "--cacert",
            &ca,
            "-u",
            "alice:wonderland",
            "-w",
            "%{http_code}",
            "-o",
            "/dev/null",
            &url,
        ]);
        assert_eq!(text(&trusted.stdout), "200", "{}", text(&trusted.stderr));
        let anonymous = curl(&[
            "--cacert",
            &ca,
            "-w",
            "%{http_code}",
            "-o",
            "/dev/null",
            &url,
        ]);
        assert_eq!(text(&anonymous.stdout), "401");
        // Without the CA: curl's "SSL certificate problem" exit code.
        let untrusted = curl(&["-o", "/dev/null", &url]);
        assert_eq!(
            untrusted.status.code(),
            Some(60),
            "{}",
            text(&untrusted.stderr)
        );
    }
    // Plain HTTP to the TLS port gets Go's 400.
    let plain = http::get(&registry.addr(), "/v2/");
    assert_eq!(plain.status, 400);
    assert!(registry.is_tls());
}

/// `GET /v2/` over rustls (what reglogin links) trusting only `ca`: the status line, or the
/// TLS error.
fn rustls_get(port: u16, host: &str, ca: Option<&std::path::Path>) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::sync::Arc;
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut stream = rustls::StreamOwned::new(connection, tcp);
    let request = format!("GET /v2/ HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = text(&response);
    Ok(response.lines().next().unwrap_or_default().to_owned())
}

#[test]
fn tls_registry_certificate_passes_webpki() {
    let registry = Registry::htpasswd_tls(&[ALICE]);
    for host in ["localhost", "127.0.0.1"] {
        let status = rustls_get(registry.port(), host, Some(registry.ca_cert_path()));
        assert_eq!(status.as_deref(), Ok("HTTP/1.1 401 Unauthorized"), "{host}");
        let error = rustls_get(registry.port(), host, None).unwrap_err();
        assert!(error.contains("UnknownIssuer"), "{error}");
    }
}

#[test]
fn token_registry_accepts_the_token_servers_tokens() {
    let tokens = TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);

    let challenge = http::get(&registry.addr(), "/v2/");
    assert_eq!(challenge.status, 401);
    assert_eq!(
        challenge.header("www-authenticate").unwrap(),
        format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            tokens.realm(),
            tokens.service()
        )
    );

    // GET with Basic, as Docker's login does: no scope, offline_token=true.
    let basic = basic_auth("alice", "wonderland");
    let answer = http::get_with(
        &tokens.addr(),
        &token_query(&tokens, ""),
        &[("Authorization", &basic)],
    );
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    let body = json(&answer.body);
    let token = body["token"].as_str().unwrap();
    assert_eq!(body["access_token"], body["token"]);
    assert_eq!(body["expires_in"], 300);
    assert!(body["issued_at"].as_str().unwrap().ends_with('Z'));
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert!(refresh.starts_with("rt-"));
    assert_eq!(tokens.issued_refresh_tokens(), vec![refresh.clone()]);
    let claims = jwt_claims(token).unwrap();
    assert_eq!(claims["aud"], tokens.service());
    assert_eq!(claims["iss"], tokens.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["access"], serde_json::json!([]));

    let bearer = format!("Bearer {token}");
    let base = http::get_with(&registry.addr(), "/v2/", &[("Authorization", &bearer)]);
    assert_eq!(base.status, 200, "{}\n{}", base.body_text(), registry.log());
    // The unscoped token does not open a repository...
    let repo = http::get_with(
        &registry.addr(),
        "/v2/team/app/tags/list",
        &[("Authorization", &bearer)],
    );
    assert_eq!(repo.status, 401);
    // ...a scoped one does (the repository is empty: NAME_UNKNOWN, not a 401).
    let scoped = http::get_with(
        &tokens.addr(),
        &token_query(&tokens, "&scope=repository%3Ateam%2Fapp%3Apull"),
        &[("Authorization", &basic)],
    );
    let scoped_token = json(&scoped.body)["token"].as_str().unwrap().to_owned();
    assert_eq!(
        jwt_claims(&scoped_token).unwrap()["access"],
        serde_json::json!([{"type": "repository", "name": "team/app", "actions": ["pull"]}])
    );
    let repo = http::get_with(
        &registry.addr(),
        "/v2/team/app/tags/list",
        &[("Authorization", &format!("Bearer {scoped_token}"))],
    );
    assert_eq!(repo.status, 404, "{}", repo.body_text());
    assert!(repo.body_text().contains("NAME_UNKNOWN"));

    // Wrong or missing credentials.
    let wrong = http::get_with(
        &tokens.addr(),
        &token_query(&tokens, ""),
        &[("Authorization", &basic_auth("alice", "nope"))],
    );
    assert_eq!(wrong.status, 401);
    assert_eq!(
        json(&wrong.body),
        serde_json::json!({"details": "incorrect username or password"})
    );
    assert_eq!(
        http::get(&tokens.addr(), &token_query(&tokens, "")).status,
        401
    );

    // OAuth2 POST: the refresh token grant, then the password grant.
    let form = |grant: &str, secret: (&str, &str)| {
        let mut fields = vec![
            ("grant_type", grant),
            ("service", tokens.service()),
            ("client_id", "docker"),
            ("access_type", "offline"),
        ];
        fields.push(secret);
        http::post_form(&tokens.addr(), "/token", &[], &fields)
    };
    let refreshed = form("refresh_token", ("refresh_token", &refresh));
    assert_eq!(refreshed.status, 200, "{}", refreshed.body_text());
    let refreshed = json(&refreshed.body);
    let bearer = format!("Bearer {}", refreshed["access_token"].as_str().unwrap());
    assert_eq!(
        http::get_with(&registry.addr(), "/v2/", &[("Authorization", &bearer)]).status,
        200
    );
    assert!(
        refreshed["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("rt-")
    );
    let invalid = form("refresh_token", ("refresh_token", "rt-forged"));
    assert_eq!(invalid.status, 401);
    assert_eq!(
        json(&invalid.body),
        serde_json::json!({"details": "invalid refresh token"})
    );
    let mut fields = vec![("grant_type", "password"), ("service", tokens.service())];
    fields.extend([("username", "alice"), ("password", "wonderland")]);
    let password = http::post_form(&tokens.addr(), "/token", &[], &fields);
    assert_eq!(password.status, 200);
    assert!(
        json(&password.body).get("refresh_token").is_none(),
        "no access_type=offline"
    );

    // What was recorded.
    let requests = tokens.requests();
    let first = &requests[0];
    assert_eq!(first.method, "GET");
    assert!(first.authorization);
    assert_eq!(first.basic_user.as_deref(), Some("alice"));
    assert_eq!(first.query_value("client_id"), Some("docker"));
    assert!(first.query_value("scope").is_none());
    let post = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(
        post.form_keys,
        [
            "grant_type",
            "service",
            "client_id",
            "access_type",
            "refresh_token"
        ]
    );
    assert_eq!(post.form_value("client_id"), Some("docker"));
    assert!(!post.authorization);
}

#[test]
fn token_server_without_refresh_tokens_issues_none() {
    let tokens = TokenServer::start(&[ALICE], false);
    let answer = http::get_with(
        &tokens.addr(),
        &token_query(&tokens, ""),
        &[("Authorization", &basic_auth("alice", "wonderland"))],
    );
    assert_eq!(answer.status, 200);
    assert!(json(&answer.body).get("refresh_token").is_none());
    assert!(tokens.issued_refresh_tokens().is_empty());
}

fn docker_login(sandbox: &Sandbox, server: &str, user: &str, password: &str) -> Output {
    sandbox.run_docker(
        &["login", "-u", user, "--password-stdin", server],
        Some(&format!("{password}\n")),
    )
}

#[test]
fn docker_logs_in_with_basic_auth_from_a_sandbox() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let addr = registry.addr();

    let failed = docker_login(&sandbox, &addr, "alice", "wrong");
    show("docker login, Basic, wrong password", &failed);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        text(&failed.stderr).contains(&format!(
            "login attempt to http://{addr}/v2/ failed with status: 401 Unauthorized"
        )),
        "{}",
        text(&failed.stderr)
    );
    assert!(!sandbox.config_path().exists());

    let output = docker_login(&sandbox, &addr, "alice", "wonderland");
    show("docker login, Basic", &output);
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), "Login Succeeded\n");
    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{addr}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}}\n\t}}\n}}"
    );
    assert_eq!(sandbox.read_config(), expected);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(sandbox.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let logout = sandbox.run_docker(&["logout", &addr], None);
    show("docker logout", &logout);
    assert!(logout.status.success());
    assert_eq!(
        text(&logout.stdout),
        format!("Removing login credentials for {addr}\n")
    );
    assert_eq!(sandbox.read_config(), "{\n\t\"auths\": {}\n}");
}

#[test]
fn docker_logs_in_with_token_auth_and_saves_the_refresh_token() {
    let tokens = TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let addr = registry.addr();

    let failed = docker_login(&sandbox, &addr, "alice", "wrong");
    show("docker login, token, wrong password", &failed);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        text(&failed.stderr).contains("unauthorized: incorrect username or password"),
        "{}",
        text(&failed.stderr)
    );
    assert!(!sandbox.config_path().exists());

    let output = docker_login(&sandbox, &addr, "alice", "wonderland");
    show("docker login, token with refresh token", &output);
    assert!(output.status.success(), "{}", tokens_log(&tokens));
    assert_eq!(text(&output.stdout), "Login Succeeded\n");
    let issued = tokens.issued_refresh_tokens();
    assert_eq!(issued.len(), 1, "{}", tokens_log(&tokens));
    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{addr}\": {{\n\t\t\t\"auth\": \"YWxpY2U6\",\n\t\t\t\"identitytoken\": \"{}\"\n\t\t}}\n\t}}\n}}",
        issued[0]
    );
    assert_eq!(sandbox.read_config(), expected);

    // The saved identity token works as a refresh token. (Docker itself never reuses it on its
    // own: `docker login HOST` reuses a stored entry only when it has a password, and otherwise
    // prompts, failing without a TTY.)
    let fields = [
        ("grant_type", "refresh_token"),
        ("service", tokens.service()),
        ("client_id", "docker"),
        ("refresh_token", issued[0].as_str()),
    ];
    let refreshed = http::post_form(&tokens.addr(), "/token", &[], &fields);
    assert_eq!(refreshed.status, 200, "{}", refreshed.body_text());
    let again = sandbox.run_docker(&["login", &addr], None);
    show("docker login HOST, identity token saved, no TTY", &again);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr)
            .ends_with("Error: Cannot perform an interactive login from a non TTY device\n")
    );
    let get = tokens
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert_eq!(get.query_value("offline_token"), Some("true"));
    assert!(get.query_value("scope").is_none());
}

#[test]
fn docker_logs_in_with_token_auth_without_refresh_tokens() {
    let tokens = TokenServer::start(&[ALICE], false);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let output = docker_login(&sandbox, &registry.addr(), "alice", "wonderland");
    show("docker login, token without refresh token", &output);
    assert!(output.status.success());
    assert_eq!(text(&output.stdout), "Login Succeeded\n");
    assert!(
        sandbox
            .read_config()
            .contains("\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"")
    );
    let get = tokens
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    eprintln!("docker's token request: {}", get.target);
    assert!(get.authorization);
    assert!(get.query_value("scope").is_none());
    assert_eq!(get.query_value("offline_token"), Some("true"));
    assert_eq!(get.query_value("client_id"), Some("docker"));
    assert_eq!(get.query_value("account"), Some("alice"));
}

fn tokens_log(tokens: &TokenServer) -> String {
    tokens
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {} auth={} form={:?}\n",
                r.method, r.target, r.authorization, r.form_keys
            )
        })
        .collect()
}

#[test]
fn the_sandbox_path_holds_only_what_the_test_links() {
    let sandbox = Sandbox::new();
    let probe = |name: &str| {
        let mut command = Command::new("/bin/sh");
        sandbox.apply_env(&mut command);
        command.args(["-c", &format!("command -v {name}")]);
        command.output().unwrap()
    };
    for absent in [
        "docker-credential-pass",
        "docker-credential-secretservice",
        "pass",
        "docker",
    ] {
        assert!(
            !probe(absent).status.success(),
            "{absent} is on the sandbox PATH"
        );
    }
    assert!(probe("cat").status.success());

    let link = sandbox.link_program("htpasswd");
    assert_eq!(link, sandbox.bin_dir().join("htpasswd"));
    assert!(probe("htpasswd").status.success());

    sandbox.install_script(
        "docker-credential-echo",
        "#!/bin/sh\ncat\necho \"$HOME $DOCKER_CONFIG $LANG\" >&2\n",
    );
    let mut command = Command::new("docker-credential-echo");
    sandbox.apply_env(&mut command);
    // Command resolves the program on the child's PATH.
    let output =
        common::sandbox::run_with_timeout(command, Some(b"in"), common::sandbox::RUN_TIMEOUT);
    assert_eq!(text(&output.stdout), "in");
    assert_eq!(
        text(&output.stderr),
        format!(
            "{} {} C\n",
            sandbox.home().display(),
            sandbox.config_dir().display()
        )
    );
}

#[test]
fn a_process_that_hangs_is_killed_after_the_timeout() {
    let mut command = Command::new("/bin/sleep");
    command.arg("30");
    let started = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        common::sandbox::run_with_timeout(command, None, std::time::Duration::from_millis(200))
    }));
    assert!(outcome.is_err());
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
#[should_panic(expected = "no-such-program-xyz is not installed: run .ci/run or apt-get install")]
fn a_missing_program_fails_the_test() {
    require_program("no-such-program-xyz");
}

#[test]
fn encodings() {
    assert_eq!(common::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(common::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(common::rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    assert_eq!(
        http::base64_std(b"alice:wonderland"),
        "YWxpY2U6d29uZGVybGFuZA=="
    );
    assert_eq!(http::base64_std(b"alice:"), "YWxpY2U6");
    assert_eq!(http::base64_url(&[0xfb, 0xff]), "-_8");
    assert_eq!(
        http::base64_decode("YWxpY2U6d29uZGVybGFuZA==").unwrap(),
        b"alice:wonderland"
    );
    assert_eq!(http::base64_decode("-_8").unwrap(), [0xfb, 0xff]);
    assert_eq!(http::percent_decode("a%2Fb+c%zz%4", true), "a/b c%zz%4");
    assert_eq!(
        http::parse_pairs("scope=repository%3Aa%2Fb%3Apull&x"),
        vec![
            ("scope".into(), "repository:a/b:pull".into()),
            ("x".into(), String::new())
        ]
    );
    assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
}
