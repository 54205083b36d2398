//! `reglogin login` / `logout` end to end, against Debian's docker-registry started here.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Output;

use common::{
    Registry, Sandbox, TokenServer, assert_failure, assert_success, stderr_of as stderr,
    stdout_of as stdout,
};

const ALICE: (&str, &str) = ("alice", "wonderland");

fn login(sandbox: &Sandbox, server: &str, user: &str, password: &str) -> Output {
    login_with(sandbox, &[], server, user, password)
}

fn login_with(
    sandbox: &Sandbox,
    flags: &[&str],
    server: &str,
    user: &str,
    password: &str,
) -> Output {
    let mut args = vec!["login"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["-u", user, "--password-stdin", server]);
    sandbox.run(&args, Some(&format!("{password}\n")))
}

#[test]
fn basic_login_writes_the_bytes_docker_writes() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &registry.addr(), "alice", "wonderland");
    assert_success(&output);
    assert_eq!(stdout(&output), "Login Succeeded\n");
    let warning = format!(
        "WARNING! Your credentials are stored unencrypted in '{}'.",
        sandbox.config_path().display()
    );
    assert!(stderr(&output).contains(&warning), "{}", stderr(&output));

    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}}\n\t}}\n}}",
        registry.addr()
    );
    assert_eq!(sandbox.read_config(), expected);
    let file_mode = fs::metadata(sandbox.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(file_mode & 0o777, 0o600);
    let dir_mode = fs::metadata(sandbox.config_path().parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

#[test]
fn wrong_password_fails_like_docker_and_saves_nothing() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &registry.addr(), "alice", "wrong");
    assert_failure(
        &output,
        &format!(
            "login attempt to http://{}/v2/ failed with status: 401 Unauthorized",
            registry.addr()
        ),
    );
    assert!(!sandbox.config_path().exists());
    assert!(
        !stderr(&output).contains("wrong"),
        "password echoed in an error"
    );
}

#[test]
fn logging_in_again_with_the_same_credentials_does_not_rewrite_the_file() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    let before = fs::metadata(sandbox.config_path()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    let after = fs::metadata(sandbox.config_path()).unwrap();
    assert_eq!(before.ino(), after.ino(), "the file was replaced");
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
}

#[test]
fn stored_credentials_are_reverified_without_a_prompt() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    let output = sandbox.run(&["login", &registry.addr()], None);
    assert_success(&output);
    assert!(
        stderr(&output).contains("Authenticating with existing credentials... [Username: alice]"),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "Login Succeeded\n");
}

#[test]
fn invalid_stored_credentials_fall_back_to_the_prompt() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.write_config(&format!(
        r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6b2xk"}}}}}}"#,
        registry.addr()
    ));
    let output = sandbox.run(&["login", &registry.addr()], None);
    assert!(stderr(&output).contains("Stored credentials invalid or expired"));
    assert_failure(
        &output,
        "Error: Cannot perform an interactive login from a non TTY device",
    );
}

#[test]
fn flag_rules_and_messages_match_docker() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let server = registry.addr();
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (
            &["login", "--password-stdin", &server],
            Some("pw"),
            "the --password-stdin option requires --username to be set",
        ),
        (
            &["login", "-u", "a", "-p", "x", "--password-stdin", &server],
            Some("pw"),
            "conflicting options: cannot specify both --password and --password-stdin",
        ),
        (
            &["login", &server],
            None,
            "Error: Cannot perform an interactive login from a non TTY device",
        ),
        (
            &["login", "-u", "alice", "--password-stdin", &server],
            Some("\n"),
            "Error: Cannot perform an interactive login from a non TTY device",
        ),
    ];
    for (args, stdin, expected) in cases {
        assert_failure(&sandbox.run(args, *stdin), expected);
    }
    assert!(!sandbox.config_path().exists());

    let output = sandbox.run(&["login", "-u", "alice", "-p", "wonderland", &server], None);
    assert_success(&output);
    assert!(
        stderr(&output)
            .contains("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    );
}

#[test]
fn password_stdin_strips_one_newline_then_one_carriage_return() {
    let registry = Registry::htpasswd(&[("bob", "pw")]);
    let sandbox = Sandbox::new();
    let run = |input: &str| {
        sandbox.run(
            &["login", "-u", "bob", "--password-stdin", &registry.addr()],
            Some(input),
        )
    };
    assert_success(&run("pw\r\n"));
    assert_success(&run("pw"));
    assert_failure(&run("pw\n\n"), "401 Unauthorized");
}

#[test]
fn token_auth_login_and_its_failure_text() {
    let tokens = TokenServer::start(&[ALICE], false);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &registry.addr(), "alice", "wrong");
    assert_failure(
        &output,
        &format!(
            "Get \"http://{}/v2/\": unauthorized: incorrect username or password",
            registry.addr()
        ),
    );
    assert!(!sandbox.config_path().exists());

    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    assert!(
        sandbox
            .read_config()
            .contains("\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"")
    );
    let token_request = tokens
        .requests()
        .into_iter()
        .rfind(|request| request.method == "GET")
        .expect("the token server was asked");
    let target = &token_request.target;
    for part in [
        "account=alice",
        "client_id=docker",
        "offline_token=true",
        "service=",
    ] {
        assert!(target.contains(part), "{target} lacks {part}");
    }
    assert!(
        !target.contains("scope="),
        "Docker's login asks no scope: {target}"
    );
    assert!(token_request.authorization);
}

#[test]
fn refresh_tokens_become_identity_tokens_and_are_reused() {
    let tokens = TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &registry.addr(), "alice", "wonderland");
    assert_success(&output);
    assert!(
        !stderr(&output).contains("unencrypted"),
        "{}",
        stderr(&output)
    );
    let issued = tokens.issued_refresh_tokens();
    assert_eq!(issued.len(), 1);
    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{}\": {{\n\t\t\t\"auth\": \"YWxpY2U6\",\n\t\t\t\"identitytoken\": \"{}\"\n\t\t}}\n\t}}\n}}",
        registry.addr(),
        issued[0]
    );
    assert_eq!(sandbox.read_config(), expected);

    let output = sandbox.run(&["login", &registry.addr()], None);
    assert_success(&output);
    let refresh_grant = tokens
        .requests()
        .into_iter()
        .find(|request| request.method == "POST")
        .expect("the stored identity token was used through the OAuth2 POST");
    assert!(
        refresh_grant
            .form_keys
            .iter()
            .any(|key| key == "refresh_token")
    );
}

/// `--debug` shows each exchange (files, store, requests with their status and challenge) and
/// none of the secrets that went through them: the password, its base64 form, the refresh token
/// the token server issued and re-used through the OAuth2 POST.
#[test]
fn debug_output_shows_the_exchanges_and_no_secret() {
    let tokens = TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let sandbox = Sandbox::new();
    let first = login_with(
        &sandbox,
        &["--debug"],
        &registry.addr(),
        "alice",
        "wonderland",
    );
    assert_success(&first);
    let second = sandbox.run(&["-D", "login", &registry.addr()], None);
    assert_success(&second);
    let trace = format!("{}{}", stderr(&first), stderr(&second));
    for expected in [
        "DEBUG: reading ",
        "/v2/ -> 401 Unauthorized, WWW-Authenticate: Bearer realm=",
        "with Basic credentials -> 200 OK",
        "DEBUG: POST (form) ",
        "with Bearer credentials -> 200 OK",
        "DEBUG: store for ",
        "DEBUG: wrote ",
    ] {
        assert!(trace.contains(expected), "no {expected:?} in:\n{trace}");
    }
    let issued = tokens.issued_refresh_tokens();
    assert!(!issued.is_empty());
    let mut secrets = vec!["wonderland".to_owned(), "YWxpY2U6d29uZGVybGFuZA".to_owned()];
    secrets.extend(issued);
    for secret in &secrets {
        assert!(
            !trace.contains(secret.as_str()),
            "a secret is in the debug output"
        );
    }
}

#[test]
fn tls_is_verified_and_a_ca_can_be_trusted() {
    let registry = Registry::htpasswd_tls(&[ALICE]);
    let sandbox = Sandbox::new();
    let server = format!("localhost:{}", registry.port());

    let output = login(&sandbox, &server, "alice", "wonderland");
    assert_failure(&output, "--cacert");
    assert!(!sandbox.config_path().exists());

    let ca = registry.ca_cert_path().to_str().unwrap().to_owned();
    assert_success(&login_with(
        &sandbox,
        &["--cacert", &ca],
        &server,
        "alice",
        "wonderland",
    ));

    let other = Sandbox::new();
    let flags = ["--tls-verify=false"];
    assert_success(&login_with(&other, &flags, &server, "alice", "wonderland"));

    // The rootless certs.d location is read as Docker reads /etc/docker/certs.d.
    let third = Sandbox::new();
    let certs_dir = third.xdg_config_home().join("docker/certs.d").join(&server);
    fs::create_dir_all(&certs_dir).unwrap();
    fs::copy(registry.ca_cert_path(), certs_dir.join("ca.crt")).unwrap();
    assert_success(&login(&third, &server, "alice", "wonderland"));
}

#[test]
fn logout_removes_the_entry_and_is_quiet_when_not_logged_in() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.write_config(&format!(
        "{{\n\t\"auths\": {{\n\t\t\"{}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}},\n\t\t\"other.example\": {{\n\t\t\t\"auth\": \"Ym9iOnB3\"\n\t\t}}\n\t}},\n\t\"myTool\": {{\"keep\": true}}\n}}",
        registry.addr()
    ));
    let output = sandbox.run(&["logout", &format!("http://{}/", registry.addr())], None);
    assert_success(&output);
    assert_eq!(
        stdout(&output),
        format!("Removing login credentials for {}\n", registry.addr())
    );
    assert_eq!(
        sandbox.read_config(),
        "{\n\t\"auths\": {\n\t\t\"other.example\": {\n\t\t\t\"auth\": \"Ym9iOnB3\"\n\t\t}\n\t},\n\t\"myTool\": {\n\t\t\"keep\": true\n\t}\n}"
    );

    let output = sandbox.run(&["logout", &registry.addr()], None);
    assert_success(&output);
    assert_eq!(stderr(&output), "");

    let output = sandbox.run(&["logout"], None);
    assert_success(&output);
    assert_eq!(
        stdout(&output),
        "Removing login credentials for https://index.docker.io/v1/\n"
    );
}

#[test]
fn logout_of_any_hub_spelling_removes_the_hub_key() {
    for spelling in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        let sandbox = Sandbox::new();
        sandbox.write_config(
            r#"{"auths": {"https://index.docker.io/v1/": {"auth": "YWxpY2U6eA=="}}}"#,
        );
        assert_success(&sandbox.run(&["logout", spelling], None));
        assert!(
            !sandbox.read_config().contains("index.docker.io/v1"),
            "{spelling}: {}",
            sandbox.read_config()
        );
    }
}

#[test]
fn unknown_fields_and_their_order_survive_a_login() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let original = "{\n\t\"zz-first\": {\"nested\": [1, 2.50, \"<x>\"]},\n\t\"auths\": {\n\t\t\"aaa.example\": {\n\t\t\t\"username\": \"bob\",\n\t\t\t\"password\": \"pw\"\n\t\t}\n\t},\n\t\"psFormat\": \"table\",\n\t\"x-tool\": null\n}";
    sandbox.write_config(original);
    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    let expected = format!(
        "{{\n\t\"zz-first\": {{\n\t\t\"nested\": [\n\t\t\t1,\n\t\t\t2.50,\n\t\t\t\"\\u003cx\\u003e\"\n\t\t]\n\t}},\n\t\"auths\": {{\n\t\t\"{}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}},\n\t\t\"aaa.example\": {{\n\t\t\t\"username\": \"bob\",\n\t\t\t\"password\": \"pw\"\n\t\t}}\n\t}},\n\t\"psFormat\": \"table\",\n\t\"x-tool\": null\n}}",
        registry.addr()
    );
    assert_eq!(sandbox.read_config(), expected);
}

#[test]
fn a_config_that_cannot_be_read_is_reported_and_left_alone() {
    let registry = Registry::htpasswd(&[ALICE]);
    let cases = [
        ("{\n\t\"auths\": {\n", "line 3, column 0"),
        (
            "{\"auths\": {\"r\": {\"auth\": \"%%%\"}}}",
            "auths[\"r\"].auth: not valid base64",
        ),
        ("{\"credsStore\": 1}", "credsStore: expected a string"),
        ("[1]", "expected a JSON object"),
    ];
    for (content, problem) in cases {
        let sandbox = Sandbox::new();
        sandbox.write_config(content);
        let path = sandbox.config_path().display().to_string();
        for args in [
            vec!["login", "-u", "alice", "--password-stdin", &registry.addr()],
            vec!["logout", &registry.addr()],
        ] {
            let output = sandbox.run(&args, Some("wonderland"));
            assert_failure(&output, problem);
            assert!(stderr(&output).contains(&path), "{}", stderr(&output));
            assert_eq!(sandbox.read_config(), content, "the file was changed");
        }
    }
}

#[test]
fn a_symlinked_config_keeps_its_link_and_mode() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let real = sandbox.home().join("dotfiles-config.json");
    fs::write(&real, "{\"auths\": {}}").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir_all(sandbox.config_path().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, sandbox.config_path()).unwrap();
    assert_success(&login(&sandbox, &registry.addr(), "alice", "wonderland"));
    let link = fs::symlink_metadata(sandbox.config_path()).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("YWxpY2U6d29uZGVybGFuZA==")
    );
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn a_missing_credential_helper_is_an_error_and_the_file_is_unchanged() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let original = "{\n\t\"auths\": {},\n\t\"credsStore\": \"nosuch\"\n}";
    sandbox.write_config(original);
    let output = login(&sandbox, &registry.addr(), "alice", "wonderland");
    assert_failure(
        &output,
        "Error saving credentials: error storing credentials - err: exec: \"docker-credential-nosuch\": executable file not found in $PATH",
    );
    assert_eq!(sandbox.read_config(), original);
}

#[test]
fn concurrent_logins_keep_every_entry() {
    const LOGINS: usize = 20;
    let sandbox = Sandbox::new();
    // Docker's own file writer keeps 1-2 of these 20 entries (spec/docker.md §2).
    let registries: Vec<Registry> = (0..LOGINS).map(|_| Registry::htpasswd(&[ALICE])).collect();
    let children: Vec<_> = registries
        .iter()
        .map(|registry| {
            let mut command =
                sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &registry.addr()]);
            command
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = command.spawn().unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"wonderland")
                .unwrap();
            child
        })
        .collect();
    for child in children {
        assert_success(&child.wait_with_output().unwrap());
    }
    let config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    let auths = config["auths"].as_object().unwrap();
    assert_eq!(auths.len(), LOGINS, "{auths:?}");
    for registry in &registries {
        assert!(auths.contains_key(&registry.addr()));
    }
}

/// Runs reglogin under a pseudo-terminal (util-linux `script`), typing each line of `typed`
/// after a pause, as a person at a terminal would. Returns everything the terminal showed.
fn run_on_terminal(sandbox: &Sandbox, args: &str, typed: &[&str]) -> String {
    use std::io::Write;
    let script = common::require_program("script");
    let command_line = format!("{} {args}", env!("CARGO_BIN_EXE_reglogin"));
    let mut command = std::process::Command::new(script);
    sandbox.apply_env(&mut command);
    command
        .args(["-q", "-e", "-c", &command_line, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in typed {
        std::thread::sleep(std::time::Duration::from_millis(400));
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_terminal_gets_prompts_and_the_password_is_not_echoed() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let screen = run_on_terminal(
        &sandbox,
        &format!("login {}", registry.addr()),
        &["alice", "wonderland"],
    );
    assert!(screen.contains("Username: alice"), "{screen:?}");
    assert!(screen.contains("Password: "), "{screen:?}");
    assert!(screen.contains("Login Succeeded"), "{screen:?}");
    assert!(
        !screen.contains("wonderland"),
        "the password was echoed: {screen:?}"
    );

    // With a stored user whose password no longer works, the prompt offers the stored name and
    // an empty answer takes it.
    sandbox.write_config(&format!(
        r#"{{"auths": {{"{}": {{"auth": "YWxpY2U6b2xk"}}}}}}"#,
        registry.addr()
    ));
    let screen = run_on_terminal(
        &sandbox,
        &format!("login {}", registry.addr()),
        &["", "wonderland"],
    );
    assert!(
        screen.contains("Stored credentials invalid or expired"),
        "{screen:?}"
    );
    assert!(screen.contains("Username (alice): "), "{screen:?}");
    assert!(screen.contains("Login Succeeded"), "{screen:?}");
    assert!(sandbox.read_config().contains("YWxpY2U6d29uZGVybGFuZA=="));
}

#[test]
fn the_config_flag_and_docker_config_choose_the_directory() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.home().join("ci-config");
    let output = sandbox.run(
        &[
            "--config",
            elsewhere.to_str().unwrap(),
            "login",
            "-u",
            "alice",
            "--password-stdin",
            &registry.addr(),
        ],
        Some("wonderland"),
    );
    assert_success(&output);
    assert!(elsewhere.join("config.json").exists());
    assert!(!sandbox.config_path().exists());

    // DOCKER_CONFIG (which Sandbox sets) is used when there is no flag; an empty one is unset.
    let mut command = sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &registry.addr()]);
    command.env("DOCKER_CONFIG", "");
    let output = common::sandbox::run_with_timeout(
        command,
        Some(b"wonderland"),
        std::time::Duration::from_secs(60),
    );
    assert_success(&output);
    assert!(sandbox.home().join(".docker/config.json").exists());
}

/// A registry that accepts connections and answers garbage, or nothing at all.
fn broken_registry(reply: &'static [u8]) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                if reply.is_empty() {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                } else {
                    let _ = stream.write_all(reply);
                }
            });
        }
    });
    addr
}

#[test]
fn a_registry_answering_garbage_or_nothing_gets_a_clear_error() {
    let sandbox = Sandbox::new();
    let garbage = broken_registry(b"this is not HTTP\r\n\r\n");
    let output = login(&sandbox, &garbage.to_string(), "alice", "wonderland");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&garbage.to_string()),
        "{}",
        stderr(&output)
    );
    assert!(!sandbox.config_path().exists());

    let silent = broken_registry(b"");
    let mut command = sandbox.cmd(&[
        "login",
        "-u",
        "alice",
        "--password-stdin",
        &silent.to_string(),
    ]);
    command.env("REGLOGIN_HTTP_TIMEOUT", "1");
    let started = std::time::Instant::now();
    let output = common::sandbox::run_with_timeout(
        command,
        Some(b"wonderland"),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("timed out"), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(&silent.to_string()),
        "{}",
        stderr(&output)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
