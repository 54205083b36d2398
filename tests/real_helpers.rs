//! reglogin as a client of the real Debian helpers: `docker-credential-pass` with a real `pass`
//! store and GPG key, `docker-credential-secretservice` against gnome-keyring on a private
//! D-Bus, default-store detection, and the real `docker` CLI reading what reglogin stored there.

mod common;
mod keyrings;

use std::process::{Command, Output};
use std::time::Duration;

use common::{Registry, Sandbox, assert_success, stderr_of, stdout_of};
use keyrings::{KeyringFixture, PassFixture};

const ALICE: (&str, &str) = ("alice", "wonderland");

fn run(command: Command, stdin: Option<&str>) -> Output {
    common::sandbox::run_with_timeout(command, stdin.map(str::as_bytes), Duration::from_secs(60))
}

fn with_pass(pass: &PassFixture, mut command: Command) -> Command {
    pass.apply(&mut command);
    command
}

#[test]
fn pass_is_detected_and_holds_the_secret_docker_can_read() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let pass = PassFixture::new();
    sandbox.link_program("docker-credential-pass");
    let server = registry.addr();

    let login = with_pass(
        &pass,
        sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &server]),
    );
    let output = run(login, Some("wonderland"));
    assert_success(&output);
    assert!(!stderr_of(&output).contains("unencrypted"));
    assert_eq!(
        sandbox.read_config(),
        format!(
            "{{\n\t\"auths\": {{\n\t\t\"{server}\": {{}}\n\t}},\n\t\"credsStore\": \"pass\"\n}}"
        )
    );
    assert_eq!(
        pass.show(&pass.entry_name(&server, "alice")).as_deref(),
        Some("wonderland")
    );

    // The real docker CLI finds the credentials through the same helper: its logout erases them.
    let get = with_pass(&pass, sandbox.cmd(&["get", &server]));
    let output = run(get, None);
    assert_success(&output);
    assert!(stdout_of(&output).contains("\"Secret\":\"wonderland\""));
    let mut docker = sandbox.docker(&["logout", &server]);
    pass.apply(&mut docker);
    assert_success(&run(docker, None));
    assert_eq!(pass.show(&pass.entry_name(&server, "alice")), None);
    assert_eq!(
        sandbox.read_config(),
        "{\n\t\"auths\": {},\n\t\"credsStore\": \"pass\"\n}"
    );
}

#[test]
fn what_docker_stores_in_pass_reglogin_reuses_and_erases() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let pass = PassFixture::new();
    sandbox.link_program("docker-credential-pass");
    let server = registry.addr();

    let mut docker = sandbox.docker(&["login", "-u", "alice", "--password-stdin", &server]);
    pass.apply(&mut docker);
    assert_success(&run(docker, Some("wonderland")));
    assert!(sandbox.read_config().contains("\"credsStore\": \"pass\""));

    let relogin = with_pass(&pass, sandbox.cmd(&["login", &server]));
    let output = run(relogin, None);
    assert_success(&output);
    assert!(stderr_of(&output).contains("[Username: alice]"));

    let logout = with_pass(&pass, sandbox.cmd(&["logout", &server]));
    assert_success(&run(logout, None));
    assert_eq!(pass.show(&pass.entry_name(&server, "alice")), None);
    assert!(!sandbox.read_config().contains(&server));
}

#[test]
fn an_uninitialised_pass_store_is_skipped() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let pass = PassFixture::uninitialised();
    sandbox.link_program("docker-credential-pass");
    let login = with_pass(
        &pass,
        sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &registry.addr()]),
    );
    let output = run(login, Some("wonderland"));
    assert_success(&output);
    let config = sandbox.read_config();
    assert!(!config.contains("credsStore"), "{config}");
    assert!(config.contains("YWxpY2U6d29uZGVybGFuZA=="), "{config}");
}

#[test]
fn secretservice_is_detected_on_a_session_bus_and_docker_reads_the_item() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let keyring = KeyringFixture::start();
    sandbox.link_program("docker-credential-secretservice");
    let server = registry.addr();

    let mut login = sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &server]);
    keyring.apply(&mut login);
    let output = run(login, Some("wonderland"));
    assert_success(&output);
    assert!(
        sandbox
            .read_config()
            .contains("\"credsStore\": \"secretservice\"")
    );
    let items = keyring.search(&[("server", &server)]);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].secret, "wonderland");
    assert_eq!(
        items[0].attributes.get("username").map(String::as_str),
        Some("alice")
    );

    let mut docker = sandbox.docker(&["logout", &server]);
    keyring.apply(&mut docker);
    assert_success(&run(docker, None));
    assert!(keyring.search(&[("server", &server)]).is_empty());
}

#[test]
fn without_a_session_bus_secretservice_is_not_picked() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.link_program("docker-credential-secretservice");
    let output = sandbox.run(
        &["login", "-u", "alice", "--password-stdin", &registry.addr()],
        Some("wonderland"),
    );
    assert_success(&output);
    assert!(!sandbox.read_config().contains("credsStore"));
}

#[test]
fn identity_tokens_live_in_the_helper_as_the_token_user() {
    let tokens = common::TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let pass = PassFixture::new();
    sandbox.link_program("docker-credential-pass");
    let server = registry.addr();

    let login = with_pass(
        &pass,
        sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &server]),
    );
    assert_success(&run(login, Some("wonderland")));
    let issued = tokens.issued_refresh_tokens();
    assert_eq!(
        pass.show(&pass.entry_name(&server, "<token>")).as_deref(),
        Some(issued[0].as_str())
    );

    // Read back as an identity token, and used through the OAuth2 refresh grant.
    let relogin = with_pass(&pass, sandbox.cmd(&["login", &server]));
    assert_success(&run(relogin, None));
    assert!(
        tokens
            .requests()
            .iter()
            .any(|request| request.method == "POST"
                && request.form_value("refresh_token") == Some(issued[0].as_str()))
    );
}
