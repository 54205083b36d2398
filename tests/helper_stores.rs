//! Logins through `docker-credential-*` helpers: the protocol as Docker speaks it, and the
//! failures a helper can inflict (missing, failing, hanging, printing garbage), with stub helpers
//! that record what they were given. The real Debian helpers are tested in `real_helpers.rs`.

mod common;

use std::fs;

use common::{Registry, Sandbox, assert_success as check, stderr_of as stderr};

const ALICE: (&str, &str) = ("alice", "wonderland");

/// A helper that keeps one credential per server in files under STATE, and logs each call's
/// argv, environment and stdin, so tests can see exactly what crossed the boundary.
fn recording_helper(sandbox: &Sandbox, name: &str) -> std::path::PathBuf {
    let state = sandbox.home().join(format!("{name}-state"));
    fs::create_dir_all(&state).unwrap();
    let script = format!(
        r#"#!/bin/sh
state='{state}'
input=$(cat)
printf '%s\n' "argv: $*" >> "$state/calls"
env >> "$state/env"
printf '%s\n' "stdin: $input" >> "$state/calls"
key=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
case "$1" in
  store) printf '%s' "$input" > "$state/$(printf '%s' "$key" | tr '/:' '__')" ;;
  get) f="$state/$(printf '%s' "$input" | tr '/:' '__')"
       if [ -f "$f" ]; then cat "$f"; else printf 'credentials not found in native keychain\n'; exit 1; fi ;;
  erase) f="$state/$(printf '%s' "$input" | tr '/:' '__')"
       if [ -f "$f" ]; then rm "$f"; else printf 'credentials not found in native keychain\n'; exit 1; fi ;;
  list) printf '{{}}' ;;
esac
"#,
        state = state.display()
    );
    sandbox.install_script(&format!("docker-credential-{name}"), &script);
    state
}

#[test]
fn a_helper_gets_the_secret_on_stdin_only_and_the_file_keeps_an_empty_entry() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let state = recording_helper(&sandbox, "rec");
    sandbox.write_config("{\n\t\"auths\": {},\n\t\"credsStore\": \"rec\"\n}");
    let output = sandbox.run(
        &["login", "-u", "alice", "--password-stdin", &registry.addr()],
        Some("wonderland"),
    );
    check(&output);
    assert!(!stderr(&output).contains("unencrypted"));
    assert_eq!(
        sandbox.read_config(),
        format!(
            "{{\n\t\"auths\": {{\n\t\t\"{}\": {{}}\n\t}},\n\t\"credsStore\": \"rec\"\n}}",
            registry.addr()
        )
    );
    let calls = fs::read_to_string(state.join("calls")).unwrap();
    assert!(calls.contains("argv: store\n"), "{calls}");
    assert!(calls.contains(&format!(
        "stdin: {{\"ServerURL\":\"{}\",\"Username\":\"alice\",\"Secret\":\"wonderland\"}}",
        registry.addr()
    )));
    let env = fs::read_to_string(state.join("env")).unwrap();
    assert!(
        !env.contains("wonderland"),
        "the secret reached the environment"
    );

    // Stored credentials are read back through `get` and re-verified.
    let output = sandbox.run(&["login", &registry.addr()], None);
    check(&output);
    assert!(stderr(&output).contains("[Username: alice]"));

    // Logout erases through the helper and drops the entry.
    check(&sandbox.run(&["logout", &registry.addr()], None));
    assert_eq!(
        sandbox.read_config(),
        "{\n\t\"auths\": {},\n\t\"credsStore\": \"rec\"\n}"
    );
    assert!(
        fs::read_to_string(state.join("calls"))
            .unwrap()
            .contains("argv: erase")
    );
}

#[test]
fn cred_helpers_win_over_creds_store_per_host() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    let per_host = recording_helper(&sandbox, "perhost");
    let default = recording_helper(&sandbox, "default");
    sandbox.write_config(&format!(
        r#"{{"credsStore": "default", "credHelpers": {{"{}": "perhost"}}}}"#,
        registry.addr()
    ));
    check(&sandbox.run(
        &["login", "-u", "alice", "--password-stdin", &registry.addr()],
        Some("wonderland"),
    ));
    assert!(per_host.join("calls").exists());
    assert!(!default.join("calls").exists());
}

#[test]
fn a_failing_helper_leaves_the_config_unchanged_and_is_named() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.install_script(
        "docker-credential-broken",
        "#!/bin/sh\ncat >/dev/null\necho 'pass not initialized: try pass init'\nexit 1\n",
    );
    let original = "{\n\t\"auths\": {},\n\t\"credsStore\": \"broken\"\n}";
    sandbox.write_config(original);
    let output = sandbox.run(
        &["login", "-u", "alice", "--password-stdin", &registry.addr()],
        Some("wonderland"),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(
            "Error saving credentials: error storing credentials - err: docker-credential-broken: exit status 1, out: `pass not initialized: try pass init`"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(sandbox.read_config(), original);
}

#[test]
fn a_hanging_helper_times_out() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.install_script("docker-credential-hang", "#!/bin/sh\nexec sleep 30\n");
    let original = r#"{"credsStore": "hang"}"#;
    sandbox.write_config(original);
    let started = std::time::Instant::now();
    let mut command = sandbox.cmd(&["login", "-u", "alice", "--password-stdin", &registry.addr()]);
    command.env("REGLOGIN_HELPER_TIMEOUT", "0.5");
    let output = common::sandbox::run_with_timeout(
        command,
        Some(b"wonderland"),
        std::time::Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no answer after 0.5 s"),
        "{}",
        stderr(&output)
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the helper was not killed"
    );
    assert_eq!(sandbox.read_config(), original);
}

#[test]
fn a_helper_printing_garbage_is_reported_by_name() {
    let registry = Registry::htpasswd(&[ALICE]);
    let sandbox = Sandbox::new();
    sandbox.install_script(
        "docker-credential-garbage",
        "#!/bin/sh\ncat >/dev/null\nprintf 'not json at all'\n",
    );
    sandbox.write_config(r#"{"credsStore": "garbage"}"#);
    let output = sandbox.run(&["login", &registry.addr()], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("docker-credential-garbage: invalid JSON on stdout"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn logout_with_a_failing_helper_warns_and_keeps_the_entry() {
    let sandbox = Sandbox::new();
    sandbox.install_script(
        "docker-credential-locked",
        "#!/bin/sh\ncat >/dev/null\necho 'keyring is locked'\nexit 1\n",
    );
    let original =
        "{\n\t\"auths\": {\n\t\t\"r.example\": {}\n\t},\n\t\"credsStore\": \"locked\"\n}";
    sandbox.write_config(original);
    let output = sandbox.run(&["logout", "r.example"], None);
    check(&output);
    assert!(stderr(&output).contains("WARNING: could not erase credentials:"));
    assert!(stderr(&output).contains("r.example: error erasing credentials"));
    assert!(stderr(&output).contains("keyring is locked"));
    assert_eq!(sandbox.read_config(), original);
}

#[test]
fn not_found_from_a_helper_means_not_logged_in() {
    let sandbox = Sandbox::new();
    recording_helper(&sandbox, "rec");
    sandbox.write_config(r#"{"credsStore": "rec"}"#);
    let output = sandbox.run(&["logout", "never.example"], None);
    check(&output);
    assert_eq!(stderr(&output), "", "not being logged in is not an error");

    let output = sandbox.run(&["get", "never.example"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "credentials not found in native keychain\n"
    );
}
