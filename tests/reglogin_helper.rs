//! reglogin as a credential helper (`docker-credential-reglogin`, `reglogin helper ACTION`):
//! the protocol as the Go helpers speak it, each backend, interop with the real Debian helpers
//! (`docker-credential-pass`, `docker-credential-secretservice`) in both directions, and the
//! real `docker` CLI using `"credsStore": "reglogin"` against a registry.
//!
//! Every keyring and password store is private to its test (see `keyrings/mod.rs`); a missing
//! program fails the test.

mod common;
mod keyrings;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sandbox::{RUN_TIMEOUT, run_with_timeout};
use common::{Registry, Sandbox, stderr_of, stdout_of};
use keyrings::{KeyringFixture, PassFixture};

const NOT_FOUND: &str = "credentials not found in native keychain\n";

/// An environment for the helper processes of one test: the sandbox plus extra variables
/// (a backend choice, a fixture's variables) and extra `PATH` entries in front.
struct HelperEnv<'a> {
    sandbox: &'a Sandbox,
    vars: Vec<(String, String)>,
    pass: Option<&'a PassFixture>,
}

impl<'a> HelperEnv<'a> {
    fn new(sandbox: &'a Sandbox) -> HelperEnv<'a> {
        HelperEnv {
            sandbox,
            vars: Vec::new(),
            pass: None,
        }
    }

    fn backend(mut self, name: &str) -> Self {
        self.vars
            .push(("REGLOGIN_HELPER_BACKEND".into(), name.into()));
        self
    }

    fn with_pass(mut self, pass: &'a PassFixture) -> Self {
        self.pass = Some(pass);
        self
    }

    fn with_keyring(mut self, keyring: &KeyringFixture) -> Self {
        self.vars.extend(keyring.env());
        self
    }

    fn prepare(&self, command: &mut Command) {
        self.sandbox.apply_env(command);
        command.envs(self.vars.iter().map(|(k, v)| (k, v)));
        if let Some(pass) = self.pass {
            pass.apply(command);
        }
    }

    /// `PROGRAM ARGS` (a path) with `stdin`.
    fn run(&self, program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(program);
        command.args(args);
        self.prepare(&mut command);
        run_with_timeout(command, stdin.map(str::as_bytes), RUN_TIMEOUT)
    }

    /// `docker-credential-reglogin ACTION`, through a link named so (argv[0] dispatch).
    fn reglogin(&self, action: &str, stdin: &str) -> Output {
        self.run(&link_reglogin(self.sandbox), &[action], Some(stdin))
    }

    /// `reglogin helper ACTION`.
    fn reglogin_sub(&self, action: &str, stdin: &str) -> Output {
        self.run(
            Path::new(env!("CARGO_BIN_EXE_reglogin")),
            &["helper", action],
            Some(stdin),
        )
    }

    /// A real Debian helper, `docker-credential-NAME ACTION`.
    fn go_helper(&self, name: &str, action: &str, stdin: &str) -> Output {
        let program = self
            .sandbox
            .link_program(&format!("docker-credential-{name}"));
        self.run(&program, &[action], Some(stdin))
    }

    fn docker(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = self.sandbox.docker(args);
        self.prepare(&mut command);
        run_with_timeout(command, stdin.map(str::as_bytes), RUN_TIMEOUT)
    }
}

/// `BIN/docker-credential-reglogin` -> the binary under test.
fn link_reglogin(sandbox: &Sandbox) -> PathBuf {
    let link = sandbox.bin_dir().join("docker-credential-reglogin");
    match std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_reglogin"), &link) {
        Ok(()) => link,
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => link,
        Err(err) => panic!("linking {}: {err}", link.display()),
    }
}

fn creds_json(server: &str, user: &str, secret: &str) -> String {
    format!(r#"{{"ServerURL":"{server}","Username":"{user}","Secret":"{secret}"}}"#)
}

#[track_caller]
fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout_of(output),
        stderr_of(output)
    );
    stdout_of(output)
}

/// Exit 1 with exactly `message` (and a newline) on stdout, as the Go helpers fail.
#[track_caller]
fn fails_with(output: &Output, message: &str) {
    assert_eq!(
        (output.status.code(), stdout_of(output).as_str()),
        (Some(1), message),
        "stderr: {}",
        stderr_of(output)
    );
}

fn file_store(sandbox: &Sandbox) -> PathBuf {
    sandbox
        .home()
        .join(".local/share/reglogin/credentials.json")
}

#[test]
fn the_protocol_as_the_go_helpers_speak_it() {
    let sandbox = Sandbox::new();
    let env = HelperEnv::new(&sandbox).backend("file");
    let server = "https://index.docker.io/v1/";

    assert_eq!(
        ok(&env.reglogin("store", &creds_json(server, "alice", "s3cr3t<&>"))),
        ""
    );
    // Go's encoder: compact, HTML characters escaped, a newline.
    let expected = "{\"ServerURL\":\"https://index.docker.io/v1/\",\"Username\":\"alice\",\"Secret\":\"s3cr3t\\u003c\\u0026\\u003e\"}\n";
    assert_eq!(ok(&env.reglogin("get", &format!("{server}\n"))), expected);
    assert_eq!(ok(&env.reglogin_sub("get", server)), expected);

    // An identity token is the secret of the user `<token>`.
    let token_server = "127.0.0.1:5999";
    ok(&env.reglogin(
        "store",
        &creds_json(token_server, "\\u003ctoken\\u003e", "refresh-token"),
    ));
    assert_eq!(
        ok(&env.reglogin("get", token_server)),
        "{\"ServerURL\":\"127.0.0.1:5999\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"refresh-token\"}\n"
    );
    // `list` ignores stdin (Docker sends "unused").
    assert_eq!(
        ok(&env.reglogin("list", "unused")),
        "{\"127.0.0.1:5999\":\"\\u003ctoken\\u003e\",\"https://index.docker.io/v1/\":\"alice\"}\n"
    );

    // Erase, then not found; erasing again succeeds (docker logout must not warn).
    assert_eq!(ok(&env.reglogin("erase", server)), "");
    assert_eq!(ok(&env.reglogin("erase", server)), "");
    fails_with(&env.reglogin("get", server), NOT_FOUND);
    fails_with(&env.reglogin_sub("get", server), NOT_FOUND);

    // Errors as the Go helpers print them: stdout, exit 1.
    fails_with(&env.reglogin("get", "  \n"), "no credentials server URL\n");
    fails_with(
        &env.reglogin("store", r#"{"ServerURL":"x","Secret":"s"}"#),
        "no credentials username\n",
    );
    fails_with(
        &env.reglogin("frobnicate", ""),
        "Unknown credential action `frobnicate`\n",
    );
    let usage = "Usage: docker-credential-reglogin <store|get|erase|list|version>\n";
    fails_with(&env.run(&link_reglogin(&sandbox), &[], None), usage);
    fails_with(
        &env.run(&link_reglogin(&sandbox), &["get", "x"], None),
        usage,
    );
    let version = format!(
        "docker-credential-reglogin (reglogin) {}\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(ok(&env.reglogin("version", "")), version);
    assert_eq!(ok(&env.reglogin_sub("version", "")), version);

    // Nothing reached config.json, or the environment of anything.
    assert!(!sandbox.config_path().exists());
}

#[test]
fn the_file_backend_is_private_and_chosen_when_nothing_else_is_there() {
    let sandbox = Sandbox::new();
    // No REGLOGIN_HELPER_BACKEND, no session bus, no pass on PATH: the embedded file.
    let env = HelperEnv::new(&sandbox);
    ok(&env.reglogin("store", &creds_json("r.example", "alice", "pw1")));
    let path = file_store(&sandbox);
    let meta = fs::metadata(&path).expect("the credentials file");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
    let text = fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"r.example\"") && text.contains("pw1"),
        "{text}"
    );

    // XDG_DATA_HOME moves it.
    let data_home = sandbox.root().join("data");
    let mut moved = HelperEnv::new(&sandbox);
    moved
        .vars
        .push(("XDG_DATA_HOME".into(), data_home.display().to_string()));
    ok(&moved.reglogin("store", &creds_json("r.example", "bob", "pw2")));
    assert!(data_home.join("reglogin/credentials.json").is_file());
    assert!(ok(&env.reglogin("get", "r.example")).contains("\"alice\""));

    // A damaged file is an error and is not overwritten.
    fs::write(&path, "{damaged").unwrap();
    let failed = env.reglogin("store", &creds_json("r.example", "alice", "pw3"));
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stdout_of(&failed).contains("damaged"),
        "{}",
        stdout_of(&failed)
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), "{damaged");

    // An unknown backend name is an error, not a silent fallback.
    let wrong = HelperEnv::new(&sandbox).backend("keychain");
    let failed = wrong.reglogin("get", "r.example");
    assert_eq!(failed.status.code(), Some(1));
    assert!(stdout_of(&failed).contains("REGLOGIN_HELPER_BACKEND=keychain"));
}

#[test]
fn concurrent_stores_to_the_file_backend_lose_nothing() {
    let sandbox = Sandbox::new();
    let env = HelperEnv::new(&sandbox).backend("file");
    std::thread::scope(|scope| {
        for index in 0..8 {
            let env = &env;
            scope.spawn(move || {
                ok(&env.reglogin("store", &creds_json(&format!("r{index}.example"), "u", "p")))
            });
        }
    });
    let listing: serde_json::Value = serde_json::from_str(&ok(&env.reglogin("list", ""))).unwrap();
    assert_eq!(listing.as_object().unwrap().len(), 8, "{listing}");
}

#[test]
fn selection_prefers_secretservice_then_pass_then_file() {
    let pass = PassFixture::new();
    let keyring = KeyringFixture::start();
    let sandbox = Sandbox::new();

    let both = HelperEnv::new(&sandbox)
        .with_pass(&pass)
        .with_keyring(&keyring);
    ok(&both.reglogin("store", &creds_json("both.example", "u", "p1")));
    assert_eq!(keyring.search(&[("server", "both.example")]).len(), 1);
    assert!(!pass.server_dir("both.example").exists());

    let pass_only = HelperEnv::new(&sandbox).with_pass(&pass);
    ok(&pass_only.reglogin("store", &creds_json("pass.example", "u", "p2")));
    assert_eq!(
        pass.show(&pass.entry_name("pass.example", "u")).as_deref(),
        Some("p2")
    );
    assert!(!file_store(&sandbox).exists());

    // pass installed but never initialised: reglogin moves on (Docker would fail every login).
    let uninitialised = PassFixture::uninitialised();
    let bare = HelperEnv::new(&sandbox).with_pass(&uninitialised);
    ok(&bare.reglogin("store", &creds_json("file.example", "u", "p3")));
    assert!(file_store(&sandbox).is_file());
    assert!(!uninitialised.store_dir().exists());

    // Forcing a backend that is not there fails with its reason.
    let forced = HelperEnv::new(&sandbox)
        .with_pass(&uninitialised)
        .backend("pass");
    let failed = forced.reglogin("get", "x");
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stdout_of(&failed).contains("pass not initialized"),
        "{}",
        stdout_of(&failed)
    );
    let no_bus = HelperEnv::new(&sandbox).backend("secretservice");
    let failed = no_bus.reglogin("get", "x");
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stdout_of(&failed).contains("secretservice"),
        "{}",
        stdout_of(&failed)
    );
}

#[test]
fn pass_entries_interoperate_with_docker_credential_pass_both_ways() {
    let pass = PassFixture::new();
    let sandbox = Sandbox::new();
    let env = HelperEnv::new(&sandbox).with_pass(&pass).backend("pass");
    let ours = "https://ours.example:5000/v2/";
    let theirs = "theirs.example";

    // reglogin writes → the layout, pass and docker-credential-pass read it.
    ok(&env.reglogin("store", &creds_json(ours, "alice", "s3cret with spaces")));
    assert!(pass.entry_path(ours, "alice").is_file());
    assert_eq!(
        pass.show(&pass.entry_name(ours, "alice")).as_deref(),
        Some("s3cret with spaces"),
        "the entry holds the secret alone, no newline"
    );
    assert_eq!(
        ok(&env.go_helper("pass", "get", ours)),
        format!("{}\n", creds_json(ours, "alice", "s3cret with spaces"))
    );

    // docker-credential-pass writes → reglogin reads.
    ok(&env.go_helper("pass", "store", &creds_json(theirs, "bob", "builder")));
    assert_eq!(
        ok(&env.reglogin("get", theirs)),
        format!("{}\n", creds_json(theirs, "bob", "builder"))
    );
    // Identity tokens, both ways.
    ok(&env.go_helper(
        "pass",
        "store",
        &creds_json("token.example", "<token>", "rt-1"),
    ));
    assert!(ok(&env.reglogin("get", "token.example")).contains("\"\\u003ctoken\\u003e\""));

    // Both list both.
    let listing = ok(&env.reglogin("list", ""));
    for needle in [ours, theirs, "\"alice\"", "\"bob\""] {
        assert!(listing.contains(needle), "{listing}");
    }
    let go_listing = ok(&env.go_helper("pass", "list", ""));
    assert!(
        go_listing.contains("\"https://ours.example:5000/v2/\":\"alice\""),
        "{go_listing}"
    );

    // A new username replaces the old one, so every reader agrees on it.
    ok(&env.reglogin("store", &creds_json(ours, "aaron", "new")));
    assert!(!pass.entry_path(ours, "alice").exists());
    assert!(ok(&env.go_helper("pass", "get", ours)).contains("\"aaron\""));

    // Erase by reglogin of what the Go helper wrote, and the other way round.
    ok(&env.reglogin("erase", theirs));
    assert!(!pass.server_dir(theirs).exists());
    let gone = env.go_helper("pass", "get", theirs);
    assert!(
        !stdout_of(&gone).contains("builder"),
        "docker-credential-pass still finds it: {}",
        stdout_of(&gone)
    );
    ok(&env.go_helper("pass", "erase", ours));
    fails_with(&env.reglogin("get", ours), NOT_FOUND);
}

#[test]
fn secretservice_items_interoperate_with_docker_credential_secretservice_both_ways() {
    let keyring = KeyringFixture::start();
    let sandbox = Sandbox::new();
    let env = HelperEnv::new(&sandbox)
        .with_keyring(&keyring)
        .backend("secretservice");
    let ours = "https://ours.example/v1/";
    let theirs = "theirs.example:5000";

    // reglogin writes → the item is the one libsecret would write.
    ok(&env.reglogin("store", &creds_json(ours, "alice", "s3cret")));
    let items = keyring.search(&[("server", ours)]);
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(
        (
            item.label.as_str(),
            item.secret.as_str(),
            item.schema.as_str()
        ),
        (ours, "s3cret", "io.docker.Credentials")
    );
    for (name, value) in [
        ("server", ours),
        ("username", "alice"),
        ("docker_cli", "1"),
        ("label", "Docker Credentials"),
    ] {
        assert_eq!(
            item.attributes.get(name).map(String::as_str),
            Some(value),
            "{item:?}"
        );
    }
    assert_eq!(
        ok(&env.go_helper("secretservice", "get", ours)),
        format!("{}\n", creds_json(ours, "alice", "s3cret"))
    );

    // docker-credential-secretservice writes → reglogin reads.
    ok(&env.go_helper(
        "secretservice",
        "store",
        &creds_json(theirs, "bob", "builder"),
    ));
    assert_eq!(
        ok(&env.reglogin("get", theirs)),
        format!("{}\n", creds_json(theirs, "bob", "builder"))
    );
    // Storing again replaces the item instead of adding one.
    ok(&env.reglogin("store", &creds_json(theirs, "bob", "builder2")));
    assert_eq!(keyring.search(&[("server", theirs)]).len(), 1);
    // Another username for the server replaces the old one.
    ok(&env.reglogin("store", &creds_json(theirs, "carol", "c")));
    let items = keyring.search(&[("server", theirs)]);
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(ok(&env.go_helper("secretservice", "get", theirs)).contains("\"carol\""));

    // Items of other programs are not Docker's: not listed, not erased. (gnome-keyring would
    // replace our item with one whose attributes are a subset of its own: hence `application`.)
    keyring.store(
        "an unrelated password",
        &[("server", ours), ("application", "other")],
        "other",
    );

    let listing = ok(&env.reglogin("list", ""));
    assert_eq!(
        listing,
        format!("{{\"{ours}\":\"alice\",\"{theirs}\":\"carol\"}}\n")
    );
    let go_listing = ok(&env.go_helper("secretservice", "list", ""));
    assert!(
        go_listing.contains("\"https://ours.example/v1/\":\"alice\""),
        "{go_listing}"
    );

    // Erase both ways.
    ok(&env.reglogin("erase", theirs));
    fails_with(&env.go_helper("secretservice", "get", theirs), NOT_FOUND);
    ok(&env.go_helper("secretservice", "erase", ours));
    fails_with(&env.reglogin("get", ours), NOT_FOUND);
    let left = keyring.search(&[("server", ours)]);
    assert_eq!(left.len(), 1, "the unrelated item must survive: {left:?}");
    assert_eq!(left[0].secret, "other");
}

#[test]
fn docker_logs_in_reuses_and_logs_out_through_reglogin() {
    let registry = Registry::htpasswd(&[("alice", "wonderland")]);
    let sandbox = Sandbox::new();
    link_reglogin(&sandbox);
    sandbox.write_config("{\n\t\"credsStore\": \"reglogin\"\n}");
    let env = HelperEnv::new(&sandbox).backend("file");
    let addr = registry.addr();

    let login = env.docker(
        &["login", "-u", "alice", "--password-stdin", &addr],
        Some("wonderland\n"),
    );
    assert!(ok(&login).contains("Login Succeeded"));
    assert!(
        !stderr_of(&login).contains("unencrypted"),
        "{}",
        stderr_of(&login)
    );
    let config = sandbox.read_config();
    assert!(!config.contains("\"auth\""), "{config}");
    assert!(!config.contains("wonderland"), "{config}");
    assert_eq!(
        ok(&env.reglogin("get", &addr)),
        format!("{}\n", creds_json(&addr, "alice", "wonderland"))
    );

    // Reuse: no credentials given, Docker reads them back through reglogin. (Without a daemon
    // Docker cannot verify stored credentials and then wants a TTY: only the read is checked.)
    let again = env.docker(&["login", &addr], None);
    assert!(
        stderr_of(&again).contains("Authenticating with existing credentials... [Username: alice]"),
        "{}",
        stderr_of(&again)
    );
    // reglogin's own client reuses them through the same helper and verifies them.
    let mut reuse = sandbox.cmd(&["login", &addr]);
    env.prepare(&mut reuse);
    let reused = run_with_timeout(reuse, None, RUN_TIMEOUT);
    ok(&reused);
    assert!(
        stderr_of(&reused).contains("existing credentials"),
        "{}",
        stderr_of(&reused)
    );

    // Logout erases through reglogin.
    let logout = env.docker(&["logout", &addr], None);
    assert!(ok(&logout).contains(&format!("Removing login credentials for {addr}")));
    fails_with(&env.reglogin("get", &addr), NOT_FOUND);
    assert!(!sandbox.read_config().contains(&addr));

    // A wrong password stores nothing.
    let wrong = env.docker(
        &["login", "-u", "alice", "--password-stdin", &addr],
        Some("nope\n"),
    );
    assert_eq!(wrong.status.code(), Some(1));
    fails_with(&env.reglogin("get", &addr), NOT_FOUND);
}

#[test]
fn docker_through_reglogin_lands_in_the_keyring_for_docker_credential_secretservice() {
    let registry = Registry::htpasswd(&[("alice", "wonderland")]);
    let keyring = KeyringFixture::start();
    let sandbox = Sandbox::new();
    link_reglogin(&sandbox);
    sandbox.write_config("{\n\t\"credsStore\": \"reglogin\"\n}");
    // No backend named: a Secret Service answers, so reglogin uses it.
    let env = HelperEnv::new(&sandbox).with_keyring(&keyring);
    let addr = registry.addr();
    let login = env.docker(
        &["login", "-u", "alice", "--password-stdin", &addr],
        Some("wonderland\n"),
    );
    assert!(ok(&login).contains("Login Succeeded"));
    assert_eq!(
        ok(&env.go_helper("secretservice", "get", &addr)),
        format!("{}\n", creds_json(&addr, "alice", "wonderland"))
    );
    ok(&env.docker(&["logout", &addr], None));
    assert!(keyring.search(&[("server", &addr)]).is_empty());
}

#[test]
fn install_links_the_helper_and_can_set_the_default_store() {
    let sandbox = Sandbox::new();
    sandbox
        .write_config("{\n\t\"auths\": {},\n\t\"credsStore\": \"pass\",\n\t\"psFormat\": \"x\"\n}");
    let dir = sandbox.root().join("links");
    let dir_arg = dir.display().to_string();
    let output = sandbox.run(&["helper", "install", &dir_arg, "--set-default"], None);
    ok(&output);
    let link = dir.join("docker-credential-reglogin");
    let exe = fs::canonicalize(env!("CARGO_BIN_EXE_reglogin")).unwrap();
    assert_eq!(fs::read_link(&link).unwrap(), exe);
    assert!(
        stderr_of(&output).contains("is not on PATH"),
        "{}",
        stderr_of(&output)
    );
    assert!(
        stderr_of(&output).contains("it was \"pass\""),
        "{}",
        stderr_of(&output)
    );
    let config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    assert_eq!(config["credsStore"], "reglogin");
    assert_eq!(config["psFormat"], "x", "other keys are kept");

    // The link serves the protocol.
    let version = run_with_timeout(Command::new(&link), None, RUN_TIMEOUT);
    fails_with(
        &version,
        "Usage: docker-credential-reglogin <store|get|erase|list|version>\n",
    );

    // Again: nothing to do. A stale link is replaced; a real file is left alone.
    ok(&sandbox.run(&["helper", "install", &dir_arg], None));
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/nonexistent/reglogin", &link).unwrap();
    ok(&sandbox.run(&["helper", "install", &dir_arg], None));
    assert_eq!(fs::read_link(&link).unwrap(), exe);
    fs::remove_file(&link).unwrap();
    fs::write(&link, "#!/bin/sh\n").unwrap();
    let refused = sandbox.run(&["helper", "install", &dir_arg], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr_of(&refused).contains("not a link"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(fs::read_to_string(&link).unwrap(), "#!/bin/sh\n");
}

#[test]
fn a_locked_keyring_is_reported_at_once_not_prompted_for() {
    let keyring = KeyringFixture::start();
    let sandbox = Sandbox::new();
    let env = HelperEnv::new(&sandbox)
        .with_keyring(&keyring)
        .backend("secretservice");
    ok(&env.reglogin("store", &creds_json("a.example", "u", "p")));
    keyring.lock();
    let locked = "reglogin (secretservice): the keyring is locked";
    for output in [
        env.reglogin("get", "a.example"),
        env.reglogin("store", &creds_json("b.example", "u", "p")),
    ] {
        assert_eq!(output.status.code(), Some(1), "{}", stdout_of(&output));
        assert!(
            stdout_of(&output).starts_with(locked),
            "{}",
            stdout_of(&output)
        );
    }
}
