//! Differential tests with the real `docker` CLI (client only; it logs in client-side): the same
//! login gives the same bytes, and each tool reads and updates what the other wrote.

mod common;

use std::process::Output;

use common::{Registry, Sandbox, TokenServer};

const ALICE: (&str, &str) = ("alice", "wonderland");

fn check(output: Output) -> Output {
    common::assert_success(&output);
    output
}

fn reglogin_login(sandbox: &Sandbox, server: &str) -> Output {
    check(sandbox.run(
        &["login", "-u", "alice", "--password-stdin", server],
        Some("wonderland\n"),
    ))
}

fn docker_login(sandbox: &Sandbox, server: &str) -> Output {
    check(sandbox.run_docker(
        &["login", "-u", "alice", "--password-stdin", server],
        Some("wonderland\n"),
    ))
}

#[test]
fn the_same_login_gives_the_same_bytes() {
    let registry = Registry::htpasswd(&[ALICE]);
    let ours = Sandbox::new();
    let theirs = Sandbox::new();
    reglogin_login(&ours, &registry.addr());
    docker_login(&theirs, &registry.addr());
    assert_eq!(ours.read_config(), theirs.read_config());
    assert_eq!(ours.read_config().len(), 82 - 14 + registry.addr().len());
}

#[test]
fn the_same_identity_token_login_gives_the_same_layout() {
    let tokens = TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let ours = Sandbox::new();
    let theirs = Sandbox::new();
    reglogin_login(&ours, &registry.addr());
    docker_login(&theirs, &registry.addr());
    let issued = tokens.issued_refresh_tokens();
    assert_eq!(issued.len(), 2);
    let ours_text = ours.read_config().replace(&issued[0], "RT");
    let theirs_text = theirs.read_config().replace(&issued[1], "RT");
    assert_eq!(ours_text, theirs_text);
}

#[test]
fn docker_logout_removes_what_reglogin_saved() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    reglogin_login(&sandbox, &registry.addr());
    let output = check(sandbox.run_docker(&["logout", &registry.addr()], None));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Removing login credentials"));
    assert_eq!(sandbox.read_config(), "{\n\t\"auths\": {}\n}");
}

#[test]
fn each_tool_keeps_and_reuses_the_others_entries() {
    let first = Registry::htpasswd(&[ALICE]);
    let second = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();

    reglogin_login(&sandbox, &first.addr());
    docker_login(&sandbox, &second.addr());
    let config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    assert!(
        config["auths"][first.addr()].is_object(),
        "Docker dropped our entry"
    );

    // reglogin reuses the entry Docker wrote, with no flags and no prompt.
    let output = check(sandbox.run(&["login", &second.addr()], None));
    assert!(String::from_utf8_lossy(&output.stderr).contains("existing credentials"));
    check(sandbox.run(&["logout", &second.addr()], None));
    let config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    assert!(config["auths"].get(second.addr()).is_none());
    assert!(config["auths"][first.addr()].is_object());
}
