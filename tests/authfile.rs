//! Containers `auth.json` (`--authfile`, `$REGISTRY_AUTH_FILE`, `--containers`) end to end,
//! against Debian's docker-registry, with differential checks against the real `podman` and
//! `skopeo`: the same login gives the same bytes, each reads what the other wrote, lookups pick
//! the same entry, logouts leave the same file.
//!
//! podman runs with its storage in the sandbox (`--root`, `--runroot`, the vfs driver) and always with
//! `XDG_RUNTIME_DIR` set to a sandbox directory: without it, podman as root writes
//! `/run/containers/0/auth.json`. `DOCKER_CONFIG` is never given to podman: podman 4.3 then
//! uses `$DOCKER_CONFIG/config.json` as its auth file.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::sandbox::{RUN_TIMEOUT, run_with_timeout};
use common::{Registry, Sandbox, assert_failure, assert_success, require_program, stderr_of};

const ALICE: (&str, &str) = ("alice", "wonderland");
const BOB: (&str, &str) = ("bob", "builder");
const CAROL: (&str, &str) = ("carol", "singer");

/// A sandbox plus a private `XDG_RUNTIME_DIR` and podman storage.
struct Env {
    sandbox: Sandbox,
    xdg_runtime_dir: PathBuf,
    /// podman refuses a `--runroot` longer than 50 bytes, which a sandbox path under a
    /// 5-digit pid already is: this one is a short directory of its own in /tmp.
    podman_runroot: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.podman_runroot);
    }
}

impl Env {
    fn new() -> Env {
        let sandbox = Sandbox::new();
        let xdg_runtime_dir = sandbox.root().join("xdg-runtime");
        fs::create_dir(&xdg_runtime_dir).unwrap();
        fs::set_permissions(&xdg_runtime_dir, fs::Permissions::from_mode(0o700)).unwrap();
        let podman_runroot = loop {
            let candidate = PathBuf::from(format!("/tmp/rl-{}", common::random_hex(6)));
            match fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => panic!("creating {}: {err}", candidate.display()),
            }
        };
        Env {
            sandbox,
            xdg_runtime_dir,
            podman_runroot,
        }
    }

    /// A path in the sandbox, outside HOME.
    fn file(&self, name: &str) -> PathBuf {
        self.sandbox.root().join(name)
    }

    /// `$XDG_RUNTIME_DIR/containers/auth.json`
    fn default_auth_file(&self) -> PathBuf {
        self.xdg_runtime_dir.join("containers/auth.json")
    }

    fn reglogin(&self, args: &[&str], stdin: Option<&str>, extra_env: &[(&str, &Path)]) -> Output {
        let mut command = self.sandbox.cmd(args);
        command.env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir);
        for (name, value) in extra_env {
            command.env(name, value);
        }
        run_with_timeout(command, stdin.map(str::as_bytes), RUN_TIMEOUT)
    }

    /// The real `podman` (its global storage flags first) or `skopeo`, in the sandbox's HOME,
    /// PATH and XDG_RUNTIME_DIR, without DOCKER_CONFIG.
    fn tool(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = Command::new(require_program(program));
        command
            .env_clear()
            .env("HOME", self.sandbox.home())
            .env("PATH", self.sandbox.path_env())
            .env("LANG", "C")
            .env("XDG_RUNTIME_DIR", &self.xdg_runtime_dir)
            .current_dir(self.sandbox.home());
        if program == "podman" {
            command
                .arg("--root")
                .arg(self.sandbox.root().join("podman-root"))
                .arg("--runroot")
                .arg(&self.podman_runroot)
                // overlay bind-mounts its directory onto itself, and the mount outlives podman:
                // the sandbox could not be removed. vfs mounts nothing.
                .args(["--storage-driver", "vfs"]);
        }
        command.args(args);
        run_with_timeout(command, stdin.map(str::as_bytes), RUN_TIMEOUT)
    }

    fn podman(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.tool("podman", args, stdin)
    }
}

fn stdout(output: &Output) -> String {
    common::stdout_of(output)
}

fn check(output: Output) -> Output {
    assert_success(&output);
    output
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn reglogin_login(env: &Env, authfile: &Path, server: &str, user: (&str, &str)) {
    check(env.reglogin(
        &[
            "login",
            "--authfile",
            path_str(authfile),
            "-u",
            user.0,
            "--password-stdin",
            server,
        ],
        Some(&format!("{}\n", user.1)),
        &[],
    ));
}

/// `podman login` / `skopeo login` (same flags) to a plain-HTTP registry on loopback.
fn tool_login(env: &Env, program: &str, authfile: &Path, server: &str, user: (&str, &str)) {
    check(env.tool(
        program,
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            path_str(authfile),
            "-u",
            user.0,
            "--password-stdin",
            server,
        ],
        Some(&format!("{}\n", user.1)),
    ));
}

/// The user `podman login --get-login` reports for `key`, or None when it says not logged in.
fn podman_user(env: &Env, authfile: Option<&Path>, key: &str) -> Option<String> {
    let mut args = vec!["login", "--get-login"];
    if let Some(path) = authfile {
        args.extend(["--authfile", path_str(path)]);
    }
    args.push(key);
    let output = env.podman(&args, None);
    if output.status.success() {
        Some(stdout(&output).trim().to_owned())
    } else {
        assert!(
            stderr_of(&output).contains(&format!("not logged into {key}")),
            "podman login --get-login {key}: {}",
            stderr_of(&output)
        );
        None
    }
}

/// The user `reglogin get` reports (with `flags` choosing the file), or None when not found.
fn reglogin_user(env: &Env, flags: &[&str], reference: &str) -> Option<String> {
    let mut args = vec!["get"];
    args.extend_from_slice(flags);
    args.push(reference);
    let output = env.reglogin(&args, None, &[]);
    if !output.status.success() {
        assert_eq!(
            stdout(&output),
            "credentials not found in native keychain\n",
            "{}",
            stderr_of(&output)
        );
        return None;
    }
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    Some(json["Username"].as_str().unwrap().to_owned())
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_same_logins_give_the_bytes_podman_and_skopeo_write() {
    let registry = Registry::htpasswd(&[ALICE, BOB]);
    let env = Env::new();
    let addr = registry.addr();
    let team = format!("{addr}/team/app");
    let files = [
        ("reglogin", env.file("reglogin.json")),
        ("podman", env.file("podman.json")),
        ("skopeo", env.file("skopeo.json")),
    ];
    for (tool, path) in &files {
        // The namespace first: the registry key must still sort before it.
        if *tool == "reglogin" {
            reglogin_login(&env, path, &team, BOB);
            reglogin_login(&env, path, &addr, ALICE);
        } else {
            tool_login(&env, tool, path, &team, BOB);
            tool_login(&env, tool, path, &addr, ALICE);
        }
    }
    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{addr}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}},\n\t\t\"{team}\": {{\n\t\t\t\"auth\": \"Ym9iOmJ1aWxkZXI=\"\n\t\t}}\n\t}}\n}}"
    );
    for (tool, path) in &files {
        assert_eq!(read(path), expected, "{tool}");
        assert_eq!(mode(path), 0o600, "{tool}");
    }
    // Nothing went to Docker's file or the default auth.json.
    assert!(!env.sandbox.config_path().exists());
    assert!(!env.default_auth_file().exists());
}

#[test]
fn podman_and_skopeo_read_what_reglogin_wrote() {
    let registry = Registry::htpasswd(&[ALICE, BOB]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let addr = registry.addr();
    reglogin_login(&env, &authfile, &format!("{addr}/team"), BOB);
    reglogin_login(&env, &authfile, &addr, ALICE);

    let team_app = format!("{addr}/team/app");
    let other = format!("{addr}/other");
    assert_eq!(
        podman_user(&env, Some(&authfile), &team_app).as_deref(),
        Some("bob")
    );
    assert_eq!(
        podman_user(&env, Some(&authfile), &other).as_deref(),
        Some("alice")
    );
    let output = check(env.tool(
        "skopeo",
        &[
            "login",
            "--get-login",
            "--authfile",
            path_str(&authfile),
            &team_app,
        ],
        None,
    ));
    assert_eq!(stdout(&output), "bob\n");

    // podman re-verifies reglogin's entry against the registry and accepts it.
    let output = check(env.podman(
        &[
            "login",
            "--tls-verify=false",
            "--authfile",
            path_str(&authfile),
            &addr,
        ],
        None,
    ));
    assert!(
        stdout(&output).contains(&format!("Already logged in to {addr}")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn reglogin_reads_and_reverifies_what_podman_wrote() {
    let registry = Registry::htpasswd(&[ALICE, BOB]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let flags = ["--authfile", path_str(&authfile)];
    let addr = registry.addr();
    tool_login(&env, "podman", &authfile, &format!("{addr}/team"), BOB);
    tool_login(&env, "podman", &authfile, &addr, ALICE);

    assert_eq!(
        reglogin_user(&env, &flags, &format!("{addr}/team/app:1.0")).as_deref(),
        Some("bob")
    );
    assert_eq!(
        reglogin_user(&env, &flags, &format!("{addr}/other")).as_deref(),
        Some("alice")
    );
    let output = check(env.reglogin(
        &["get", "--authfile", path_str(&authfile), &addr],
        None,
        &[],
    ));
    assert_eq!(
        stdout(&output),
        format!("{{\"ServerURL\":\"{addr}\",\"Username\":\"alice\",\"Secret\":\"wonderland\"}}\n")
    );

    let output = check(env.reglogin(&["list", "--authfile", path_str(&authfile)], None, &[]));
    let listed = stdout(&output);
    assert!(
        listed.contains(&format!("{addr}/team")) && listed.contains("bob"),
        "{listed}"
    );

    // Logging in again without credentials reuses podman's entry and verifies it.
    let before = read(&authfile);
    let output = check(env.reglogin(
        &[
            "login",
            "--authfile",
            path_str(&authfile),
            &format!("{addr}/team"),
        ],
        None,
        &[],
    ));
    assert!(
        stderr_of(&output).contains("[Username: bob]"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(
        read(&authfile),
        before,
        "an unchanged login rewrote the file"
    );
}

/// Three users on one registry, at three depths; each lookup must pick the deepest key that
/// is a whole-component prefix, in reglogin and podman alike.
#[test]
fn namespace_lookups_pick_the_same_entry_as_podman() {
    let registry = Registry::htpasswd(&[ALICE, BOB, CAROL]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let addr = registry.addr();
    reglogin_login(&env, &authfile, &addr, ALICE);
    reglogin_login(&env, &authfile, &format!("{addr}/team"), BOB);
    reglogin_login(&env, &authfile, &format!("{addr}/team/app"), CAROL);

    let cases = [
        ("team/app", "carol"),
        ("team/app/sub", "carol"),
        ("team/other", "bob"),
        ("team", "bob"),
        ("teams", "alice"),
        ("team-app", "alice"),
        ("elsewhere/app", "alice"),
    ];
    let flags = ["--authfile", path_str(&authfile)];
    for (path, user) in cases {
        let key = format!("{addr}/{path}");
        assert_eq!(
            podman_user(&env, Some(&authfile), &key).as_deref(),
            Some(user),
            "podman {key}"
        );
        assert_eq!(
            reglogin_user(&env, &flags, &key).as_deref(),
            Some(user),
            "reglogin {key}"
        );
    }
    assert_eq!(
        reglogin_user(&env, &flags, &format!("{addr}/team/app:v1")).as_deref(),
        Some("carol")
    );
    assert_eq!(reglogin_user(&env, &flags, &addr).as_deref(), Some("alice"));
    assert_eq!(reglogin_user(&env, &flags, "127.0.0.2:1/team/app"), None);
}

#[test]
fn without_authfile_both_use_xdg_runtime_dir_and_the_same_bytes() {
    let registry = Registry::htpasswd(&[ALICE]);
    let ours = Env::new();
    let theirs = Env::new();
    check(ours.reglogin(
        &[
            "login",
            "--containers",
            "-u",
            "alice",
            "--password-stdin",
            &registry.addr(),
        ],
        Some("wonderland\n"),
        &[],
    ));
    check(theirs.podman(
        &[
            "login",
            "--tls-verify=false",
            "-u",
            "alice",
            "--password-stdin",
            &registry.addr(),
        ],
        Some("wonderland\n"),
    ));
    assert_eq!(
        read(&ours.default_auth_file()),
        read(&theirs.default_auth_file())
    );
    assert!(!ours.sandbox.config_path().exists());
    // Each reads the other's default file.
    assert_eq!(
        podman_user(&theirs, None, &registry.addr()).as_deref(),
        Some("alice")
    );
    assert_eq!(
        reglogin_user(&theirs, &["--containers"], &registry.addr()).as_deref(),
        Some("alice")
    );

    // REGISTRY_AUTH_FILE alone selects that file, as podman's --authfile default.
    let chosen = ours.file("chosen.json");
    check(ours.reglogin(
        &[
            "login",
            "-u",
            "alice",
            "--password-stdin",
            &format!("{}/ns", registry.addr()),
        ],
        Some("wonderland\n"),
        &[("REGISTRY_AUTH_FILE", &chosen)],
    ));
    assert!(read(&chosen).contains(&format!("\"{}/ns\"", registry.addr())));
    assert!(!ours.sandbox.config_path().exists());
}

#[test]
fn docker_mode_is_unchanged_when_no_auth_file_is_asked_for() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    check(env.reglogin(
        &["login", "-u", "alice", "--password-stdin", &registry.addr()],
        Some("wonderland\n"),
        &[],
    ));
    let expected = format!(
        "{{\n\t\"auths\": {{\n\t\t\"{}\": {{\n\t\t\t\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"\n\t\t}}\n\t}}\n}}",
        registry.addr()
    );
    assert_eq!(env.sandbox.read_config(), expected);
    assert_eq!(fs::read_dir(&env.xdg_runtime_dir).unwrap().count(), 0);

    // And an auth.json login leaves Docker's file alone.
    reglogin_login(&env, &env.file("a.json"), &registry.addr(), ALICE);
    assert_eq!(env.sandbox.read_config(), expected);
    // Namespaces and --all are auth.json features.
    assert_failure(
        &env.reglogin(&["logout", "--all"], None, &[]),
        "--all works on a containers auth.json",
    );
}

/// With the default auth.json, lookups continue through `$XDG_CONFIG_HOME` (here
/// `~/.config`), Docker's config.json and `~/.dockercfg`, as podman's do; an explicit
/// `--authfile` is read alone.
#[test]
fn default_lookups_fall_back_to_docker_files_like_podman() {
    use base64::Engine;
    let b64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let env = Env::new();
    let home = env.sandbox.home();
    fs::create_dir_all(home.join(".config/containers")).unwrap();
    fs::create_dir_all(home.join(".docker")).unwrap();
    fs::create_dir_all(env.default_auth_file().parent().unwrap()).unwrap();
    fs::write(
        env.default_auth_file(),
        format!(
            r#"{{"auths": {{"a.example": {{"auth": "{}"}}}}}}"#,
            b64("runtime:pw")
        ),
    )
    .unwrap();
    fs::write(
        home.join(".config/containers/auth.json"),
        format!(
            r#"{{"auths": {{"a.example": {{"auth": "{}"}}, "b.example/team": {{"auth": "{}"}}}}}}"#,
            b64("shadowed:pw"),
            b64("confighome:pw")
        ),
    )
    .unwrap();
    fs::write(
        home.join(".docker/config.json"),
        format!(
            r#"{{"auths": {{"https://c.example/v1/": {{"auth": "{}"}}, "https://index.docker.io/v1/": {{"auth": "{}"}}, "b.example": {{"auth": "{}"}}}}}}"#,
            b64("docker-url:pw"),
            b64("docker-hub:pw"),
            b64("docker-b:pw")
        ),
    )
    .unwrap();
    fs::write(
        home.join(".dockercfg"),
        format!(
            r#"{{"https://d.example/v1/": {{"auth": "{}", "email": "x@y"}}}}"#,
            b64("legacy:pw")
        ),
    )
    .unwrap();

    let cases = [
        ("a.example/x", Some("runtime")),
        ("b.example/team/app", Some("confighome")),
        ("b.example/other", Some("docker-b")),
        ("c.example/x", Some("docker-url")),
        ("docker.io/library/alpine", Some("docker-hub")),
        ("d.example/x", Some("legacy")),
        ("e.example/x", None),
    ];
    for (key, user) in cases {
        assert_eq!(
            podman_user(&env, None, key).as_deref(),
            user,
            "podman {key}"
        );
        assert_eq!(
            reglogin_user(&env, &["--containers"], key).as_deref(),
            user,
            "reglogin {key}"
        );
    }
    assert_eq!(
        reglogin_user(&env, &["--containers"], "alpine:latest").as_deref(),
        Some("docker-hub")
    );
    // A bare `name:digits` reads as host and port, as in Docker mode.
    assert_eq!(reglogin_user(&env, &["--containers"], "alpine:3"), None);

    // `list` resolves every key of every file the same way: URL keys by host, the Hub as
    // docker.io, a shadowed entry under the user that wins.
    let output = check(env.reglogin(&["list", "--containers", "--format", "json"], None, &[]));
    let listed: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let pairs: Vec<(&str, &str)> = listed
        .iter()
        .map(|entry| {
            (
                entry["registry"].as_str().unwrap(),
                entry["username"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("a.example", "runtime"),
            ("b.example", "docker-b"),
            ("b.example/team", "confighome"),
            ("c.example", "docker-url"),
            ("d.example", "legacy"),
            ("docker.io", "docker-hub"),
        ]
    );

    // An explicit file is read alone (containers/image#1751; podman 4.3 still falls back).
    let only = env.file("only.json");
    fs::write(&only, "{}").unwrap();
    assert_eq!(
        reglogin_user(&env, &["--authfile", path_str(&only)], "c.example/x"),
        None
    );
}

#[test]
fn logout_leaves_the_file_podman_leaves() {
    let registry = Registry::htpasswd(&[ALICE, BOB]);
    let env = Env::new();
    let addr = registry.addr();
    let ours = env.file("ours.json");
    reglogin_login(&env, &ours, &addr, ALICE);
    reglogin_login(&env, &ours, &format!("{addr}/team"), BOB);
    let theirs = env.file("theirs.json");
    fs::copy(&ours, &theirs).unwrap();

    let logout = |path: &Path, tool: &str, args: &[&str]| -> Output {
        let mut full = vec!["logout", "--authfile", path_str(path)];
        full.extend_from_slice(args);
        if tool == "podman" {
            env.podman(&full, None)
        } else {
            env.reglogin(&full, None, &[])
        }
    };
    let team = format!("{addr}/team");
    let output = check(logout(&ours, "reglogin", &[&team]));
    assert_eq!(
        stdout(&output),
        format!("Removed login credentials for {team}\n")
    );
    let output = check(logout(&theirs, "podman", &[&team]));
    assert_eq!(
        stdout(&output),
        format!("Removed login credentials for {team}\n")
    );
    assert_eq!(read(&ours), read(&theirs));
    assert!(
        read(&ours).contains(&format!("\"{addr}\"")),
        "the registry key went too"
    );

    // Not logged in: the same message; exit 1 (as skopeo), podman exits 125.
    assert_failure(
        &logout(&ours, "reglogin", &[&team]),
        &format!("not logged into {team}"),
    );
    let output = logout(&theirs, "podman", &[&team]);
    assert_eq!(output.status.code(), Some(125));
    assert!(stderr_of(&output).contains(&format!("not logged into {team}")));

    let output = check(logout(&ours, "reglogin", &["--all"]));
    assert_eq!(
        stdout(&output),
        "Removed login credentials for all registries\n"
    );
    check(logout(&theirs, "podman", &["--all"]));
    assert_eq!(read(&ours), "{\n\t\"auths\": {}\n}");
    assert_eq!(read(&ours), read(&theirs));
}

#[test]
fn a_registry_logout_also_removes_the_legacy_spellings_lookups_would_find() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let addr = registry.addr();
    fs::write(
        &authfile,
        format!(
            "{{\"auths\": {{\"https://{addr}/v1/\": {{\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"}}, \"{addr}/team\": {{\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"}}, \"https://index.docker.io/v1/\": {{\"auth\": \"YWxpY2U6d29uZGVybGFuZA==\"}}}}}}"
        ),
    )
    .unwrap();
    let flags = ["--authfile", path_str(&authfile)];
    assert_eq!(reglogin_user(&env, &flags, &addr).as_deref(), Some("alice"));
    check(env.reglogin(&["logout", flags[0], flags[1], &addr], None, &[]));
    assert_eq!(reglogin_user(&env, &flags, &format!("{addr}/x")), None);
    // The namespace entry stays: a registry logout is not a namespace logout.
    assert_eq!(
        reglogin_user(&env, &flags, &format!("{addr}/team/app")).as_deref(),
        Some("alice")
    );
    check(env.reglogin(&["logout", flags[0], flags[1], "docker.io"], None, &[]));
    assert_eq!(reglogin_user(&env, &flags, "alpine"), None);
}

#[test]
fn auth_json_gets_the_config_json_guarantees() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let addr = registry.addr();

    // A broken file is refused, named with its line, and left as it was.
    fs::write(&authfile, "{\n\"auths\": {").unwrap();
    let output = env.reglogin(
        &[
            "login",
            "--authfile",
            path_str(&authfile),
            "-u",
            "alice",
            "--password-stdin",
            &addr,
        ],
        Some("wonderland"),
        &[],
    );
    assert_failure(
        &output,
        &format!("{} is not valid JSON", authfile.display()),
    );
    assert!(
        stderr_of(&output).contains("line 2"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(read(&authfile), "{\n\"auths\": {");

    // Fields podman does not know are kept (podman drops them).
    fs::write(
        &authfile,
        "{\"x-tool\": {\"keep\": true}, \"auths\": {\"q.example\": {\"auth\": \"cTpx\", \"email\": \"q@x\"}}}",
    )
    .unwrap();
    reglogin_login(&env, &authfile, &addr, ALICE);
    let text = read(&authfile);
    assert!(
        text.contains("\"x-tool\"") && text.contains("\"email\": \"q@x\""),
        "{text}"
    );
    let lock = authfile.with_file_name("auth.json.lock");
    assert!(lock.exists(), "no lock file beside the auth file");

    // A wrong password saves nothing.
    let fresh = env.file("fresh.json");
    let output = env.reglogin(
        &[
            "login",
            "--authfile",
            path_str(&fresh),
            "-u",
            "alice",
            "--password-stdin",
            &addr,
        ],
        Some("wrong"),
        &[],
    );
    assert_failure(&output, "401 Unauthorized");
    assert!(!fresh.exists());
    assert!(!stderr_of(&output).contains("wrong"));

    // A missing XDG_RUNTIME_DIR is named, as containers/image names it.
    let output = env.reglogin(
        &[
            "login",
            "--containers",
            "-u",
            "alice",
            "--password-stdin",
            &addr,
        ],
        Some("wonderland"),
        &[("XDG_RUNTIME_DIR", Path::new("/nonexistent/reglogin-xdg"))],
    );
    assert_failure(
        &output,
        "\"/nonexistent/reglogin-xdg\" directory set by $XDG_RUNTIME_DIR does not exist",
    );
}

/// `credHelpers` in auth.json sends a registry's credentials to its helper, for podman and
/// reglogin alike; the file gets no `{}` marker (unlike Docker's config.json).
#[test]
fn cred_helpers_in_auth_json_hold_the_registry_credentials() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    let addr = registry.addr();
    let state = env.sandbox.root().join("helper-state");
    fs::create_dir(&state).unwrap();
    env.sandbox.install_script(
        "docker-credential-stub",
        &format!(
            r#"#!/bin/sh
state='{state}'
input=$(cat)
case "$1" in
  store) printf '%s' "$input" > "$state/entry"; echo store >> "$state/calls" ;;
  get) if [ -f "$state/entry" ]; then cat "$state/entry"; else echo 'credentials not found in native keychain'; exit 1; fi ;;
  erase) if [ -f "$state/entry" ]; then rm "$state/entry"; else echo 'credentials not found in native keychain'; exit 1; fi ;;
esac
"#,
            state = state.display()
        ),
    );
    let authfile = env.file("auth.json");
    let config = format!(
        "{{\n\t\"auths\": {{}},\n\t\"credHelpers\": {{\n\t\t\"{addr}\": \"stub\"\n\t}}\n}}"
    );
    fs::write(&authfile, &config).unwrap();

    reglogin_login(&env, &authfile, &addr, ALICE);
    assert_eq!(read(&authfile), config, "the file changed");
    assert!(read(&state.join("entry")).contains("\"Username\":\"alice\""));
    assert_eq!(
        podman_user(&env, Some(&authfile), &format!("{addr}/any/repo")).as_deref(),
        Some("alice")
    );
    let flags = ["--authfile", path_str(&authfile)];
    assert_eq!(
        reglogin_user(&env, &flags, &format!("{addr}/any/repo")).as_deref(),
        Some("alice")
    );

    // A namespace cannot go to a helper: refused, not written where no lookup would read it.
    let output = env.reglogin(
        &[
            "login",
            flags[0],
            flags[1],
            "-u",
            "alice",
            "--password-stdin",
            &format!("{addr}/team"),
        ],
        Some("wonderland"),
        &[],
    );
    assert_failure(&output, "namespaced key");
    assert_eq!(read(&authfile), config);

    check(env.reglogin(&["logout", flags[0], flags[1], &addr], None, &[]));
    assert!(!state.join("entry").exists());
}

/// A token server that issues refresh tokens: the entry keeps the identity token as Docker's
/// file would, and podman still reads the user from it.
#[test]
fn identity_token_logins_are_saved_where_podman_reads_them() {
    let tokens = common::TokenServer::start(&[ALICE], true);
    let registry = Registry::token(&tokens);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let key = format!("{}/team", registry.addr());
    reglogin_login(&env, &authfile, &key, ALICE);
    let issued = tokens.issued_refresh_tokens();
    assert_eq!(issued.len(), 1);
    assert_eq!(
        read(&authfile),
        format!(
            "{{\n\t\"auths\": {{\n\t\t\"{key}\": {{\n\t\t\t\"auth\": \"YWxpY2U6\",\n\t\t\t\"identitytoken\": \"{}\"\n\t\t}}\n\t}}\n}}",
            issued[0]
        )
    );
    assert_eq!(
        podman_user(&env, Some(&authfile), &format!("{key}/app")).as_deref(),
        Some("alice")
    );
    let output = check(env.reglogin(
        &[
            "get",
            "--authfile",
            path_str(&authfile),
            &format!("{key}/app"),
        ],
        None,
        &[],
    ));
    assert!(stdout(&output).contains(&issued[0]), "{}", stdout(&output));
}

/// `--debug` says which auth.json file and entry answered, and never the secret.
#[test]
fn debug_output_names_files_and_keys_but_no_secret() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let team = format!("{}/team", registry.addr());
    let output = check(env.reglogin(
        &[
            "login",
            "--debug",
            "--authfile",
            path_str(&authfile),
            "-u",
            "alice",
            "--password-stdin",
            &team,
        ],
        Some("wonderland"),
        &[],
    ));
    let login_debug = stderr_of(&output);
    let output = check(env.reglogin(
        &[
            "get",
            "--debug",
            "--authfile",
            path_str(&authfile),
            &format!("{team}/app"),
        ],
        None,
        &[],
    ));
    let get_debug = stderr_of(&output);
    assert!(
        get_debug.contains(&format!(
            "auth.json lookup {team}/app: found under {team} in {}",
            authfile.display()
        )),
        "{get_debug}"
    );
    for text in [&login_debug, &get_debug] {
        assert!(text.contains("containers auth.json mode"), "{text}");
        assert!(
            !text.contains("wonderland") && !text.contains("YWxpY2U6d29uZGVybGFuZA=="),
            "{text}"
        );
    }
}

/// Concurrent logins to one auth.json each keep their entry (the lock and re-read of
/// config.json; podman has neither).
#[test]
fn concurrent_logins_keep_every_entry() {
    let registry = Registry::htpasswd(&[ALICE]);
    let env = Env::new();
    let authfile = env.file("auth.json");
    let keys: Vec<String> = (0..12)
        .map(|n| format!("{}/team{n}", registry.addr()))
        .collect();
    std::thread::scope(|scope| {
        for key in &keys {
            let (env, authfile) = (&env, &authfile);
            scope.spawn(move || reglogin_login(env, authfile, key, ALICE));
        }
    });
    let document: serde_json::Value = serde_json::from_str(&read(&authfile)).unwrap();
    let stored: Vec<&String> = document["auths"].as_object().unwrap().keys().collect();
    let mut expected: Vec<&String> = keys.iter().collect();
    expected.sort();
    assert_eq!(stored, expected);
}
