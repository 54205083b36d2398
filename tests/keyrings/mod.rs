//! Real credential back ends for tests, each private to one test and removed on drop:
//! a `pass` store with its own throwaway GPG key, and gnome-keyring on a private D-Bus session.
//! Self-contained (std only); include it with `mod keyrings;` and use `keyrings::...`.
//! A missing program makes the test fail with the package to install; nothing is skipped.
//!
//! # API (stable)
//!
//! ```text
//! PassFixture::new() -> PassFixture            // GNUPGHOME + passphrase-less key + `pass init KEY`
//! PassFixture::uninitialised() -> PassFixture  // same key, but no `pass init` (no .gpg-id)
//!   .key_id() -> &str                          // the key's fingerprint
//!   .gnupg_home() -> &Path                     // GNUPGHOME (0700)
//!   .store_dir() -> &Path                      // PASSWORD_STORE_DIR (absent when uninitialised)
//!   .bin_dir() -> &Path                        // `pass`, `gpg` and the tools `pass` needs; no
//!                                              // docker-credential-* in it
//!   .env() -> Vec<(String, String)>            // GNUPGHOME, PASSWORD_STORE_DIR
//!   .apply(&mut Command) -> &mut Command       // env() and bin_dir() put first on the command's
//!                                              // PATH (its own PATH if set, else the test's)
//!   .pass(&[args]) -> Command                  // the `pass` program, env applied
//!   .insert(name, secret)                      // `pass insert -f -m NAME`, secret on stdin
//!   .show(name) -> Option<String>              // `pass show NAME`; None when there is no entry
//!   .entry_name(server_url, username) -> String  // "docker-credential-helpers/<b64url>/<user>"
//!   .entry_path(server_url, username) -> PathBuf // STORE/<entry_name>.gpg
//!   .server_dir(server_url) -> PathBuf           // STORE/docker-credential-helpers/<b64url>
//! pass_folder_name(server_url) -> String       // base64url with `=` padding, as docker-credential-pass
//!
//! KeyringFixture::start() -> KeyringFixture    // private dbus-daemon + unlocked gnome-keyring
//!                                              // (secrets component), fresh HOME and
//!                                              // XDG_RUNTIME_DIR; both killed on drop
//!   .address() -> &str                         // DBUS_SESSION_BUS_ADDRESS (unix:path=RUNTIME/bus)
//!   .runtime_dir() -> &Path                    // XDG_RUNTIME_DIR (holds `bus`)
//!   .home() -> &Path                           // the keyring daemon's HOME (not for clients)
//!   .env() -> Vec<(String, String)>            // DBUS_SESSION_BUS_ADDRESS, XDG_RUNTIME_DIR
//!   .apply(&mut Command) -> &mut Command       // sets env()
//!   .secret_tool(&[args]) -> Command           // `secret-tool ARGS` on this bus
//!   .search(&[(attr, value)]) -> Vec<KeyringItem>  // `secret-tool search --all`, parsed
//!   .store(label, &[(attr, value)], secret)    // `secret-tool store`, secret on stdin; note:
//!                                              // gnome-keyring replaces an item whose
//!                                              // attributes include all of these
//!   .lock()                                    // locks the login collection (unlocking it
//!                                              // then needs a prompt, which nothing answers)
//! KeyringItem { path, label, secret, schema, attributes: BTreeMap<String, String> }
//! ```
//!
//! The D-Bus daemon runs with its own config: no service activation, so nothing is started
//! behind the test's back and nothing outlives it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// What `pass` (a bash script) and gpg run; linked into [`PassFixture::bin_dir`] when installed.
const PASS_TOOLS: &[&str] = &[
    "pass",
    "gpg",
    "gpg2",
    "gpg-agent",
    "gpgconf",
    "getopt",
    "bash",
    "sh",
    "env",
    "cat",
    "cp",
    "mv",
    "rm",
    "rmdir",
    "mkdir",
    "mktemp",
    "sed",
    "tr",
    "grep",
    "head",
    "tail",
    "sort",
    "cut",
    "dirname",
    "basename",
    "find",
    "tree",
    "which",
    "printf",
    "echo",
    "base64",
    "shred",
    "tty",
    "readlink",
    "realpath",
    "stat",
    "wc",
    "xargs",
    "git",
];

fn package_of(program: &str) -> &'static str {
    match program {
        "pass" => "pass",
        "gpg" | "gpgconf" | "gpg-agent" => "gnupg",
        "getopt" => "util-linux",
        "tree" => "tree",
        "gnome-keyring-daemon" => "gnome-keyring",
        "dbus-daemon" => "dbus-daemon (dbus)",
        "dbus-send" => "dbus-bin (dbus)",
        "secret-tool" => "libsecret-tools",
        _ => "the package that provides it",
    }
}

fn find_program(name: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&from_env).collect();
    for dir in ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        dirs.push(PathBuf::from(dir));
    }
    dirs.into_iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

fn require_program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed: run .ci/run or apt-get install {}",
            package_of(name)
        )
    })
}

/// A private directory (0700) under the temp dir, removed on drop. Short paths: sockets live here.
struct Scratch(PathBuf);

impl Scratch {
    fn new(kind: &str) -> Scratch {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        loop {
            let path = std::env::temp_dir().join(format!(
                "rl-{kind}-{}-{}-{nanos:x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Scratch(path),
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(err) => panic!("creating {}: {err}", path.display()),
            }
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap_or_else(|err| panic!("creating {}: {err}", path.display()));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn checked(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    let described = format!("{command:?}");
    let output = run(command, stdin);
    if !output.status.success() {
        panic!(
            "{described} failed ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// gpg, pass and gnome-keyring can wait on a prompt nobody answers: bounded, as every test run.
const KEYRING_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

fn run(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    let taken = std::mem::replace(command, Command::new("true"));
    crate::common::sandbox::run_with_timeout(taken, stdin, KEYRING_COMMAND_TIMEOUT)
}

/// The folder name docker-credential-pass gives a server: base64url with `=` padding.
pub fn pass_folder_name(server_url: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = server_url.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A `pass` store encrypted to a throwaway passphrase-less GPG key, in private directories.
pub struct PassFixture {
    gnupg_home: PathBuf,
    store_dir: PathBuf,
    bin_dir: PathBuf,
    key_id: String,
    scratch: Scratch,
}

impl PassFixture {
    /// A GPG key and an initialised store (`pass init KEY`).
    pub fn new() -> PassFixture {
        let fixture = PassFixture::uninitialised();
        checked(&mut fixture.pass(&["init", &fixture.key_id]), None);
        assert!(
            fixture.store_dir.join(".gpg-id").is_file(),
            "pass init wrote no .gpg-id"
        );
        fixture
    }

    /// A GPG key, `pass` on [`PassFixture::bin_dir`], but no `pass init`: every `pass` command
    /// fails, as on a machine where pass is installed and never set up.
    pub fn uninitialised() -> PassFixture {
        for program in ["pass", "gpg", "gpgconf", "getopt"] {
            require_program(program);
        }
        let scratch = Scratch::new("pass");
        let gnupg_home = scratch.dir("gnupg");
        let bin_dir = scratch.dir("bin");
        let store_dir = scratch.0.join("store");
        for tool in PASS_TOOLS {
            if let Some(path) = find_program(tool) {
                std::os::unix::fs::symlink(&path, bin_dir.join(tool))
                    .unwrap_or_else(|err| panic!("linking {tool}: {err}"));
            }
        }
        let mut fixture = PassFixture {
            gnupg_home,
            store_dir,
            bin_dir,
            key_id: String::new(),
            scratch,
        };
        let mut generate = fixture.gpg();
        generate.args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "reglogin test key <test@reglogin.invalid>",
            "future-default",
            "default",
            "never",
        ]);
        checked(&mut generate, None);
        let mut list = fixture.gpg();
        list.args(["--batch", "--with-colons", "--list-secret-keys"]);
        let listing = String::from_utf8_lossy(&checked(&mut list, None).stdout).into_owned();
        fixture.key_id = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|field| !field.is_empty()))
            .unwrap_or_else(|| panic!("no fingerprint in gpg's listing:\n{listing}"))
            .to_owned();
        fixture
    }

    fn gpg(&self) -> Command {
        let mut command = Command::new(require_program("gpg"));
        command
            .env_clear()
            .env("GNUPGHOME", &self.gnupg_home)
            .env("PATH", self.bin_dir.as_os_str())
            .env("LANG", "C");
        command
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn gnupg_home(&self) -> &Path {
        &self.gnupg_home
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "GNUPGHOME".to_owned(),
                self.gnupg_home.to_string_lossy().into_owned(),
            ),
            (
                "PASSWORD_STORE_DIR".to_owned(),
                self.store_dir.to_string_lossy().into_owned(),
            ),
        ]
    }

    /// Sets [`PassFixture::env`] and puts [`PassFixture::bin_dir`] first on the command's `PATH`
    /// (the `PATH` already set on the command, else the test process's).
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        let current = command
            .get_envs()
            .find(|(key, _)| *key == "PATH")
            .and_then(|(_, value)| value.map(OsString::from))
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        let mut path = self.bin_dir.clone().into_os_string();
        if !current.is_empty() {
            path.push(":");
            path.push(current);
        }
        command.envs(self.env()).env("PATH", path)
    }

    /// The `pass` program with this fixture's environment (and nothing else but `LANG=C`).
    pub fn pass(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.bin_dir.join("pass"));
        command
            .env_clear()
            .env("LANG", "C")
            .env("HOME", &self.scratch.0)
            .env("PATH", self.bin_dir.as_os_str())
            .envs(self.env())
            .args(args);
        command
    }

    /// `pass insert -f -m NAME` with `secret` on stdin (stored as given, no newline added).
    pub fn insert(&self, name: &str, secret: &str) {
        checked(
            &mut self.pass(&["insert", "-f", "-m", name]),
            Some(secret.as_bytes()),
        );
    }

    /// The decrypted entry, or `None` when `pass show` fails because there is no such entry.
    pub fn show(&self, name: &str) -> Option<String> {
        let output = run(&mut self.pass(&["show", name]), None);
        if output.status.success() {
            return Some(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("is not in the password store") {
            return None;
        }
        panic!("pass show {name} failed ({}): {stderr}", output.status);
    }

    /// `docker-credential-helpers/<base64url(server_url)>/<username>`, as `pass` names it.
    pub fn entry_name(&self, server_url: &str, username: &str) -> String {
        format!(
            "docker-credential-helpers/{}/{username}",
            pass_folder_name(server_url)
        )
    }

    pub fn entry_path(&self, server_url: &str, username: &str) -> PathBuf {
        self.store_dir
            .join(format!("{}.gpg", self.entry_name(server_url, username)))
    }

    pub fn server_dir(&self, server_url: &str) -> PathBuf {
        self.store_dir
            .join("docker-credential-helpers")
            .join(pass_folder_name(server_url))
    }
}

impl Default for PassFixture {
    fn default() -> Self {
        PassFixture::new()
    }
}

impl Drop for PassFixture {
    fn drop(&mut self) {
        // The agent gpg started for this GNUPGHOME (the fixture's and every client's).
        let _ = Command::new(find_program("gpgconf").unwrap_or_else(|| "gpgconf".into()))
            .env_clear()
            .env("GNUPGHOME", &self.gnupg_home)
            .args(["--kill", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// One item as `secret-tool search --all` shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyringItem {
    pub path: String,
    pub label: String,
    pub secret: String,
    pub schema: String,
    pub attributes: BTreeMap<String, String>,
}

/// A private session bus with gnome-keyring's Secret Service on it, its login collection
/// created and unlocked with an empty password.
pub struct KeyringFixture {
    address: String,
    runtime_dir: PathBuf,
    home: PathBuf,
    bus: Child,
    keyring: Child,
    scratch: Scratch,
}

impl KeyringFixture {
    pub fn start() -> KeyringFixture {
        let dbus_daemon = require_program("dbus-daemon");
        let keyring_daemon = require_program("gnome-keyring-daemon");
        require_program("dbus-send");
        let scratch = Scratch::new("keyring");
        let home = scratch.dir("home");
        let runtime_dir = scratch.dir("run");
        let socket = runtime_dir.join("bus");
        let config = scratch.0.join("bus.conf");
        fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig>\n  <type>session</type>\n  <listen>unix:path={}</listen>\n  \
                 <auth>EXTERNAL</auth>\n  <policy context=\"default\">\n    \
                 <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    \
                 <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
                socket.display()
            ),
        )
        .expect("writing the bus config");

        let mut bus = Command::new(dbus_daemon)
            .env_clear()
            .env("LANG", "C")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting dbus-daemon");
        let mut line = String::new();
        let read =
            BufReader::new(bus.stdout.take().expect("dbus-daemon stdout")).read_line(&mut line);
        let address = line.trim().to_owned();
        if read.is_err() || !address.starts_with("unix:") {
            let _ = bus.kill();
            let _ = bus.wait();
            panic!("dbus-daemon printed no address ({read:?}): {line:?}");
        }

        let mut keyring = Command::new(keyring_daemon)
            .env_clear()
            .env("LANG", "C")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("PATH", "/usr/bin:/bin")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting gnome-keyring-daemon");
        // A newline: the empty password. No input at all makes it want a prompt.
        if let Some(mut stdin) = keyring.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        let mut fixture = KeyringFixture {
            address,
            runtime_dir,
            home,
            bus,
            keyring,
            scratch,
        };
        fixture.wait_for_secret_service();
        fixture
    }

    fn wait_for_secret_service(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut ask = Command::new(require_program("dbus-send"));
            self.apply(&mut ask).env("PATH", "/usr/bin:/bin").args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            let output = run(&mut ask, None);
            if String::from_utf8_lossy(&output.stdout).contains("boolean true") {
                return;
            }
            if let Ok(Some(status)) = self.keyring.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.keyring.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("gnome-keyring-daemon exited ({status}) before serving: {stderr}");
            }
            if Instant::now() > deadline {
                panic!(
                    "gnome-keyring-daemon did not own org.freedesktop.secrets within {START_TIMEOUT:?}; \
                     last dbus-send: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("DBUS_SESSION_BUS_ADDRESS".to_owned(), self.address.clone()),
            (
                "XDG_RUNTIME_DIR".to_owned(),
                self.runtime_dir.to_string_lossy().into_owned(),
            ),
        ]
    }

    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.envs(self.env())
    }

    /// `secret-tool ARGS` on this bus (nothing else in its environment but `LANG=C`).
    pub fn secret_tool(&self, args: &[&str]) -> Command {
        let mut command = Command::new(require_program("secret-tool"));
        command
            .env_clear()
            .env("LANG", "C")
            .env("HOME", &self.home)
            .envs(self.env())
            .args(args);
        command
    }

    /// Every item matching all `attributes`, as `secret-tool search --all` shows them.
    pub fn search(&self, attributes: &[(&str, &str)]) -> Vec<KeyringItem> {
        let mut args = vec!["search", "--all"];
        for (name, value) in attributes {
            args.extend([*name, *value]);
        }
        // secret-tool prints the attributes on stderr and the rest on stdout: one pipe for both
        // keeps them in order.
        let (mut reader, writer) = std::io::pipe().expect("creating a pipe");
        let mut child = {
            let mut command = self.secret_tool(&args);
            command
                .stdin(Stdio::null())
                .stdout(writer.try_clone().expect("cloning the pipe"))
                .stderr(writer);
            command.spawn().expect("starting secret-tool")
        };
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .expect("reading secret-tool");
        let status = child.wait().expect("waiting for secret-tool");
        // No match: exit 1 and no output.
        if !status.success() && !text.trim().is_empty() {
            panic!("secret-tool {args:?} failed ({status}): {text}");
        }
        let mut items = Vec::new();
        let mut current: Option<KeyringItem> = None;
        for line in text.lines() {
            if line.starts_with('[') && line.ends_with(']') {
                items.extend(current.take());
                current = Some(KeyringItem {
                    path: line[1..line.len() - 1].to_owned(),
                    ..KeyringItem::default()
                });
                continue;
            }
            let (Some(item), Some((key, value))) = (current.as_mut(), line.split_once(" = "))
            else {
                continue;
            };
            match key {
                "label" => item.label = value.to_owned(),
                "secret" => item.secret = value.to_owned(),
                "schema" => item.schema = value.to_owned(),
                _ => {
                    if let Some(name) = key.strip_prefix("attribute.") {
                        item.attributes.insert(name.to_owned(), value.to_owned());
                    }
                }
            }
        }
        items.extend(current);
        items
    }

    /// `secret-tool store --label LABEL ATTRS...` with `secret` on stdin (no schema).
    pub fn store(&self, label: &str, attributes: &[(&str, &str)], secret: &str) {
        let label_arg = format!("--label={label}");
        let mut args = vec!["store", label_arg.as_str()];
        for (name, value) in attributes {
            args.extend([*name, *value]);
        }
        checked(&mut self.secret_tool(&args), Some(secret.as_bytes()));
    }
}

impl KeyringFixture {
    /// Locks the login collection through the Secret Service's `Lock`.
    pub fn lock(&self) {
        let mut lock = Command::new(require_program("dbus-send"));
        self.apply(&mut lock).env("PATH", "/usr/bin:/bin").args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ]);
        let output = checked(&mut lock, None);
        let reply = String::from_utf8_lossy(&output.stdout);
        assert!(
            reply.contains("/org/freedesktop/secrets/collection/login"),
            "the login collection was not locked: {reply}"
        );
    }
}

impl Drop for KeyringFixture {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
