//! `reglogin status` against real registries started here: a valid login, a wrong password, a
//! closed port, an untrusted certificate and entries without credentials, each with its
//! verdict; checks measured to run in parallel; ECR expiry; colour and progress only on a
//! terminal (a pty from `script`).

mod common;
mod ecr_support;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Registry, Sandbox, TokenServer, free_port, stderr_of, stdout_of};

const ALICE: (&str, &str) = ("alice", "wonderland");

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn entry(user: &str, password: &str) -> serde_json::Value {
    serde_json::json!({ "auth": b64(&format!("{user}:{password}")) })
}

/// registry -> the row `status --format json` printed for it.
fn rows(output: &std::process::Output) -> BTreeMap<String, serde_json::Value> {
    let rows: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}\nstderr: {}",
            stdout_of(output),
            stderr_of(output)
        )
    });
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| (row["registry"].as_str().unwrap().to_owned(), row.clone()))
        .collect()
}

#[test]
fn every_verdict_against_real_registries() {
    let basic = Registry::htpasswd(&[ALICE]);
    let tokens = TokenServer::start(&[ALICE], false);
    let token = Registry::token(&tokens);
    let tls = Registry::htpasswd_tls(&[ALICE]);
    let closed = format!("127.0.0.1:{}", free_port());
    let sandbox = Sandbox::new();
    let config = serde_json::json!({
        "auths": {
            basic.addr(): entry("alice", "wonderland"),
            token.addr(): entry("alice", "wrong-password"),
            closed.clone(): entry("alice", "wonderland"),
            tls.addr(): entry("alice", "wonderland"),
            "empty.example": {},
        },
        "credHelpers": {"helped.example": "none"},
    });
    sandbox.write_config(&config.to_string());
    sandbox.install_script(
        "docker-credential-none",
        "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n",
    );
    let mut command = sandbox.cmd(&["status", "--format", "json"]);
    command.env("REGLOGIN_HTTP_TIMEOUT", "5");
    let output = common::sandbox::run_with_timeout(command, None, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    let rows = rows(&output);
    let verdict = |key: &str| {
        let row = &rows[key];
        (
            row["status"].as_str().unwrap().to_owned(),
            row["detail"].as_str().unwrap_or_default().to_owned(),
        )
    };
    assert_eq!(verdict(&basic.addr()), ("valid".into(), String::new()));
    assert_eq!(rows[&basic.addr()]["username"], "alice");
    assert_eq!(rows[&basic.addr()]["store"], "file");
    let (status, detail) = verdict(&token.addr());
    assert_eq!(status, "invalid", "{detail}");
    assert!(
        detail.contains("incorrect username or password"),
        "{detail}"
    );
    let (status, detail) = verdict(&closed);
    assert_eq!(status, "unreachable", "{detail}");
    assert!(detail.contains("connection refused"), "{detail}");
    let (status, detail) = verdict(&tls.addr());
    assert_eq!(status, "error", "{detail}");
    assert!(detail.contains("not trusted"), "{detail}");
    assert_eq!(verdict("empty.example").0, "no-credentials");
    let (status, detail) = verdict("helped.example");
    assert_eq!(status, "no-credentials");
    assert!(detail.contains("none store"), "{detail}");
    assert_eq!(rows.len(), 6, "{rows:?}");

    // The table says the same, one line per registry, and no secret anywhere.
    let table = sandbox.run(&["status"], None);
    assert_eq!(table.status.code(), Some(1));
    let text = stdout_of(&table);
    assert!(text.starts_with("REGISTRY"), "{text}");
    for (key, expected) in [
        (basic.addr(), "valid"),
        (token.addr(), "invalid"),
        (closed.clone(), "unreachable"),
        (tls.addr(), "error"),
        ("empty.example".to_owned(), "no-credentials"),
    ] {
        let line = text
            .lines()
            .find(|line| line.starts_with(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no line for {key}: {text}"));
        assert!(
            line.split_whitespace().any(|word| word == expected),
            "{line}"
        );
    }
    for secret in ["wonderland", "wrong-password"] {
        for stream in [stdout_of(&output), stderr_of(&output), text.clone()] {
            assert!(!stream.contains(secret), "{secret} in {stream}");
        }
    }
    // Piped: no progress line, no colour.
    assert!(table.stderr.is_empty(), "{}", stderr_of(&table));
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn all_valid_exits_zero() {
    let basic = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.write_config(
        &serde_json::json!({"auths": {basic.addr(): entry("alice", "wonderland")}}).to_string(),
    );
    let output = sandbox.run(&["status"], None);
    common::assert_success(&output);
    // No credentials at all: nothing to be invalid.
    let empty = Sandbox::new();
    let output = empty.run(&["status", "--format", "json"], None);
    common::assert_success(&output);
    assert_eq!(stdout_of(&output).trim(), "[]");
}

/// Registries that accept connections and never answer: each costs HTTPS then HTTP timeouts
/// (it is on loopback), so about 2 s at REGLOGIN_HTTP_TIMEOUT=1. Four of them checked one
/// after another would take four times one; in parallel they take about as long as one. Nine
/// take two rounds: no more than eight are checked at once.
#[test]
fn checks_run_in_parallel() {
    let listeners: Vec<TcpListener> = (0..9)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let keys: Vec<String> = listeners
        .iter()
        .map(|listener| listener.local_addr().unwrap().to_string())
        .collect();
    let run = |keys: &[String]| {
        let sandbox = Sandbox::new();
        let auths: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|key| (key.clone(), entry("alice", "wonderland")))
            .collect();
        sandbox.write_config(&serde_json::json!({ "auths": auths }).to_string());
        let mut command = sandbox.cmd(&["status", "--format", "json"]);
        command.env("REGLOGIN_HTTP_TIMEOUT", "1");
        let started = Instant::now();
        let output = common::sandbox::run_with_timeout(command, None, Duration::from_secs(60));
        let elapsed = started.elapsed();
        assert_eq!(output.status.code(), Some(1));
        for (key, row) in rows(&output) {
            assert_eq!(row["status"], "unreachable", "{key}: {row}");
            assert!(
                row["detail"].as_str().unwrap().contains("timed out"),
                "{key}: {row}"
            );
        }
        elapsed
    };
    let one = run(&keys[..1]);
    let four = run(&keys[..4]);
    let nine = run(&keys);
    eprintln!("status: hanging registries: one {one:?}, four {four:?}, nine {nine:?}");
    assert!(
        one >= Duration::from_secs(1),
        "the timeout was not waited for: {one:?}"
    );
    assert!(
        four < one * 2,
        "four hanging registries took {four:?}, one took {one:?}: not checked in parallel"
    );
    assert!(
        nine >= one + one / 2,
        "nine hanging registries took {nine:?}, one took {one:?}: more than 8 checked at once"
    );
    drop(listeners);
}

/// ECR tokens are dated: one from the ECR helper (a stub of the ECR API; the date comes from
/// the token cache the helper filled), one stored in the file whose password is the usual JSON
/// envelope carrying its own `expiration`.
#[test]
fn ecr_token_expiry_is_shown() {
    let stub = ecr_support::ecr_stub();
    let mut sandbox = ecr_support::Sandbox::with_keys("status-ecr");
    sandbox
        .set("AWS_ENDPOINT_URL", &stub.url())
        .set("REGLOGIN_HTTP_TIMEOUT", "2");
    let helped = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
    let stored = "111111111111.dkr.ecr.us-west-2.amazonaws.com";
    let envelope = b64(
        r#"{"payload":"p","datakey":"d","version":"2","type":"DATA_KEY","expiration":1900000000}"#,
    );
    sandbox.write(
        ".docker/config.json",
        &serde_json::json!({
            "auths": {stored: entry("AWS", &envelope)},
            "credHelpers": {helped: "ecr-login"},
        })
        .to_string(),
    );
    let requested = common::unix_now();
    let output = sandbox.reglogin(&["status", "--format", "json"]);
    let rows = rows(&output);
    assert_eq!(rows[stored]["expires_at"], "2030-03-17T17:46:40Z");
    assert_eq!(rows[helped]["store"], "ecr-login");
    assert_eq!(rows[helped]["username"], "AWS");
    let expires = rows[helped]["expires_at"].as_str().unwrap_or_default();
    let window: Vec<String> = (requested + 12 * 3600 - 2..=common::unix_now() + 12 * 3600 + 2)
        .map(common::rfc3339)
        .collect();
    assert!(
        window.iter().any(|at| at == expires),
        "{expires} not 12 h from now: {:?}",
        rows[helped]
    );
    // Nothing answers for these hosts here: they are unreachable, and that is the exit status.
    assert_eq!(output.status.code(), Some(1));
    for row in rows.values() {
        assert_eq!(row["status"], "unreachable", "{row}");
    }
}

/// On a terminal (a pty from util-linux `script`) the verdicts are coloured and a progress line
/// goes to stderr; `NO_COLOR` removes the colour.
#[test]
fn colour_and_progress_only_on_a_terminal() {
    let basic = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.write_config(
        &serde_json::json!({"auths": {basic.addr(): entry("alice", "wonderland")}}).to_string(),
    );
    let on_terminal = |no_colour: Option<&str>| {
        let mut command = Command::new(common::require_program("script"));
        sandbox.apply_env(&mut command);
        command.args([
            "-qec",
            &format!("{} status", env!("CARGO_BIN_EXE_reglogin")),
            "/dev/null",
        ]);
        if let Some(value) = no_colour {
            command.env("NO_COLOR", value);
        }
        let output = common::sandbox::run_with_timeout(command, None, Duration::from_secs(60));
        common::assert_success(&output);
        stdout_of(&output)
    };
    let coloured = on_terminal(None);
    assert!(coloured.contains("\x1b[32mvalid"), "{coloured:?}");
    assert!(
        coloured.contains("checking registries: 1/1"),
        "{coloured:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(!plain.contains("\x1b[32m"), "{plain:?}");
    assert!(plain.contains("valid"), "{plain:?}");
    // An empty NO_COLOR does not count (no-color.org).
    assert!(on_terminal(Some("")).contains("\x1b[32mvalid"));
}

/// A login through a token server that issues refresh tokens stores an identity token: status
/// checks it with the OAuth2 refresh grant (valid), and export refuses it, naming the registry.
/// A TLS registry whose CA is in the user's certs.d is verified and valid.
#[test]
fn identity_tokens_and_certs_d_are_honoured() {
    let tokens = TokenServer::start(&[ALICE], true);
    let token = Registry::token(&tokens);
    let tls = Registry::htpasswd_tls(&[ALICE]);
    let sandbox = Sandbox::new();
    let login = sandbox.run(
        &["login", "-u", "alice", "--password-stdin", &token.addr()],
        Some("wonderland\n"),
    );
    common::assert_success(&login);
    assert!(sandbox.read_config().contains("identitytoken"));
    let mut config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    config["auths"][tls.addr()] = entry("alice", "wonderland");
    sandbox.write_config(&config.to_string());
    let certs = sandbox
        .xdg_config_home()
        .join("docker/certs.d")
        .join(tls.addr());
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(tls.ca_cert_path(), certs.join("ca.crt")).unwrap();

    let posts_before = tokens
        .requests()
        .iter()
        .filter(|request| request.method == "POST")
        .count();
    let output = sandbox.run(&["status", "--format", "json"], None);
    common::assert_success(&output);
    let rows = rows(&output);
    assert_eq!(rows[&token.addr()]["status"], "valid");
    assert_eq!(rows[&token.addr()]["username"], "alice");
    assert_eq!(rows[&tls.addr()]["status"], "valid");
    let posts_after = tokens
        .requests()
        .iter()
        .filter(|request| request.method == "POST")
        .count();
    assert_eq!(
        posts_after,
        posts_before + 1,
        "the identity token went through the refresh grant"
    );

    let export = sandbox.run(&["export", "-o", "dockerconfigjson", &token.addr()], None);
    common::assert_failure(
        &export,
        &format!("the credentials for {} are an identity token", token.addr()),
    );
    assert!(export.stdout.is_empty());
    let issued = tokens.issued_refresh_tokens();
    for stream in [stdout_of(&output), stderr_of(&export)] {
        for refresh in &issued {
            assert!(!stream.contains(refresh.as_str()), "{stream}");
        }
    }
}
