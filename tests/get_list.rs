//! `reglogin get` and `reglogin list`: reading what every store holds, as Docker would find it.

mod common;

use common::{Sandbox, assert_success, stdout_of};

const CONFIG: &str = r#"{
	"auths": {
		"https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"},
		"https://old.example/v1/": {"auth": "b2xkOm9sZHB3"},
		"127.0.0.1:5001": {"auth": "YWxpY2U6d29uZGVybGFuZA=="},
		"tok.example": {"auth": "Ym9iOg==", "identitytoken": "rt-1"},
		"helped.example": {}
	},
	"credHelpers": {"helped.example": "fixed"}
}"#;

fn sandbox() -> Sandbox {
    let sandbox = Sandbox::new();
    sandbox.write_config(CONFIG);
    sandbox.install_script(
        "docker-credential-fixed",
        "#!/bin/sh\nread -r key\n[ \"$1\" = get ] && printf '{\"ServerURL\":\"%s\",\"Username\":\"carol\",\"Secret\":\"c-pw\"}' \"$key\"\n",
    );
    sandbox
}

#[test]
fn get_prints_what_docker_would_use() {
    let sandbox = sandbox();
    let cases = [
        (
            "127.0.0.1:5001",
            r#"{"ServerURL":"127.0.0.1:5001","Username":"alice","Secret":"wonderland"}"#,
        ),
        (
            "127.0.0.1:5001/team/app:1",
            r#"{"ServerURL":"127.0.0.1:5001","Username":"alice","Secret":"wonderland"}"#,
        ),
        (
            "alpine",
            r#"{"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"hubpw"}"#,
        ),
        (
            "docker.io",
            r#"{"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"hubpw"}"#,
        ),
        (
            "old.example",
            r#"{"ServerURL":"https://old.example/v1/","Username":"old","Secret":"oldpw"}"#,
        ),
        (
            "tok.example",
            r#"{"ServerURL":"tok.example","Username":"\u003ctoken\u003e","Secret":"rt-1"}"#,
        ),
        (
            "helped.example",
            r#"{"ServerURL":"helped.example","Username":"carol","Secret":"c-pw"}"#,
        ),
    ];
    for (server, expected) in cases {
        let output = sandbox.run(&["get", server], None);
        assert_success(&output);
        assert_eq!(stdout_of(&output).trim_end(), expected, "{server}");
    }
    let output = sandbox.run(&["get", "nowhere.example"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout_of(&output),
        "credentials not found in native keychain\n"
    );
}

#[test]
fn list_shows_every_registry_and_its_store_but_no_secret() {
    let sandbox = sandbox();
    let output = sandbox.run(&["list", "--format", "json"], None);
    assert_success(&output);
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows: Vec<(String, String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let field = |name: &str| row[name].as_str().unwrap().to_owned();
            (field("registry"), field("username"), field("store"))
        })
        .collect();
    let expected = [
        ("127.0.0.1:5001", "alice", "file"),
        ("helped.example", "carol", "fixed"),
        ("https://index.docker.io/v1/", "hub", "file"),
        ("https://old.example/v1/", "old", "file"),
        ("tok.example", "bob", "file"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(rows, expected);

    let table = stdout_of(&sandbox.run(&["list"], None));
    assert!(table.starts_with("REGISTRY"), "{table}");
    assert!(table.contains("helped.example"), "{table}");
    for secret in ["wonderland", "hubpw", "oldpw", "rt-1", "c-pw"] {
        assert!(!table.contains(secret), "{secret} in {table}");
        assert!(!stdout_of(&output).contains(secret));
    }
}

fn with_env_auth_config(sandbox: &Sandbox, value: &str, args: &[&str]) -> std::process::Output {
    let mut command = sandbox.cmd(args);
    command.env("DOCKER_AUTH_CONFIG", value);
    common::sandbox::run_with_timeout(command, None, std::time::Duration::from_secs(30))
}

/// `DOCKER_AUTH_CONFIG` (Docker 28.3+) is read before every configured store, for lookups and the
/// listing; registries it does not name still come from the stores. Docker 28.2.2 here predates
/// it, so this is checked against the documented behaviour, not the CLI.
#[test]
fn docker_auth_config_comes_before_the_stores() {
    let sandbox = sandbox();
    // env:envpw for 127.0.0.1:5001 (also in the file) and for a registry only the env names.
    let env = r#"{"auths": {"127.0.0.1:5001": {"auth": "ZW52OmVudnB3"}, "https://only-env.example/v1/": {"auth": "ZW52OmVudnB3"}, "helped.example": {"auth": "ZW52OmVudnB3"}}}"#;
    for (server, expected) in [
        (
            "127.0.0.1:5001/app",
            r#"{"ServerURL":"127.0.0.1:5001","Username":"env","Secret":"envpw"}"#,
        ),
        (
            "only-env.example",
            r#"{"ServerURL":"https://only-env.example/v1/","Username":"env","Secret":"envpw"}"#,
        ),
        // Before credHelpers too: the environment is in front of every store.
        (
            "helped.example",
            r#"{"ServerURL":"helped.example","Username":"env","Secret":"envpw"}"#,
        ),
        (
            "alpine",
            r#"{"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"hubpw"}"#,
        ),
    ] {
        let output = with_env_auth_config(&sandbox, env, &["get", server]);
        assert_success(&output);
        assert_eq!(stdout_of(&output).trim(), expected, "{server}");
    }
    let output = with_env_auth_config(&sandbox, env, &["list"]);
    assert_success(&output);
    let listing = stdout_of(&output);
    assert!(
        listing
            .lines()
            .any(|line| line.contains("127.0.0.1:5001") && line.contains("DOCKER_AUTH_CONFIG")),
        "{listing}"
    );

    // Blank is unset; a broken value is an error naming the variable, with no secret in it.
    let output = with_env_auth_config(&sandbox, " ", &["get", "127.0.0.1:5001"]);
    assert!(stdout_of(&output).contains("\"Username\":\"alice\""));
    for broken in [
        r#"{"auths": {"r": {"auth": "ZW52OmVudnB3""#,
        r#"{"auths": {"r": {"auth": "!!"}}}"#,
    ] {
        let output = with_env_auth_config(&sandbox, broken, &["get", "127.0.0.1:5001"]);
        common::assert_failure(&output, "DOCKER_AUTH_CONFIG is set but cannot be used");
        assert!(!common::stderr_of(&output).contains("ZW52OmVudnB3"));
    }

    // logout still changes the stores, and says the environment comes first.
    let output = with_env_auth_config(&sandbox, env, &["logout", "127.0.0.1:5001"]);
    assert_success(&output);
    assert!(common::stderr_of(&output).contains("WARNING! DOCKER_AUTH_CONFIG is set"));
    assert!(!sandbox.read_config().contains("127.0.0.1:5001"));
}
