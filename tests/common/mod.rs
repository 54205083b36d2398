//! Test fixtures shared by the integration tests: real registries (Debian's `docker-registry`,
//! CNCF distribution 2.8), a token server for its Bearer auth, and sandboxes that run `reglogin`
//! and the real `docker` CLI with an isolated `HOME`, `DOCKER_CONFIG` and `PATH`.
//!
//! Use it from any `tests/*.rs` with `mod common;`. Each test binary uses only part of it.
//! Nothing is cached across processes: every fixture makes its own keys and directories and
//! removes them on drop. A missing program makes the test fail (see [`require_program`]).

// Each test binary uses a different part of this module, re-exports included.
#![allow(dead_code, unused_imports)]

pub mod http;
pub mod openssl;
pub mod registry;
pub mod sandbox;
pub mod token_server;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use registry::Registry;
pub use sandbox::{Sandbox, reglogin};
pub use token_server::{RecordedRequest, TokenServer};

/// A port on 127.0.0.1 that was free a moment ago (the OS picked it). Servers started on it
/// still check that they got it: another test may have taken it in between.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A fresh directory under `std::env::temp_dir()`, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let name = format!(
                "reglogin-test-{}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed),
                random_hex(4)
            );
            let path = base.join(name);
            match fs::create_dir(&path) {
                Ok(()) => return TempDir { path },
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => panic!("creating {}: {error}", path.display()),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// `2 * bytes` lowercase hex digits from `/dev/urandom`.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut buffer))
        .expect("reading /dev/urandom");
    buffer.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The Debian package (or other source) that provides a program the tests drive.
fn package_of(program: &str) -> &'static str {
    match program {
        "docker-registry" => "docker-registry",
        "htpasswd" => "apache2-utils",
        "openssl" => "openssl",
        "curl" => "curl",
        "docker" => "docker.io (or docker-ce-cli)",
        "docker-credential-pass" | "docker-credential-secretservice" => {
            "golang-docker-credential-helpers"
        }
        "docker-credential-ecr-login" => "amazon-ecr-credential-helper",
        "pass" => "pass",
        "gpg" | "gpg-agent" => "gnupg",
        "gnome-keyring-daemon" => "gnome-keyring",
        "secret-tool" => "libsecret-tools",
        "dbus-run-session" | "dbus-daemon" => "dbus",
        "dbus-launch" => "dbus-x11",
        "skopeo" => "skopeo",
        "podman" => "podman",
        "hyperfine" => "hyperfine",
        "moto_server" => "moto[server] (pip install 'moto[server]')",
        "aws" => "awscli (pip install awscli)",
        _ => "the package that provides it",
    }
}

/// Where `name` is installed: the first hit on the test process's `PATH`, then the usual system
/// directories. `None` when it is not installed.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&from_env).collect();
    for dir in [
        "/usr/local/bin",
        "/usr/bin",
        "/bin",
        "/usr/local/sbin",
        "/usr/sbin",
        "/sbin",
    ] {
        dirs.push(PathBuf::from(dir));
    }
    dirs.into_iter()
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The path of an installed program; panics (the test fails, it is not skipped) when missing.
pub fn require_program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| {
        panic!(
            "{name} is not installed: run .ci/run or apt-get install {}",
            package_of(name)
        )
    })
}

/// Runs a short-lived tool to completion; panics with its output when it fails.
pub fn run_checked(command: &mut Command) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    if !program.contains('/') {
        require_program(&program);
    }
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("running {program}: {error}"));
    if !output.status.success() {
        let args: Vec<_> = command.get_args().map(OsStr::to_string_lossy).collect();
        panic!(
            "{program} {} failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_secs()
}

/// `2006-01-02T15:04:05Z` for a Unix time (UTC, what Go's RFC 3339 formatting gives).
pub fn rfc3339(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let second_of_day = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Panics with both streams unless the command exited 0.
#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout_of(output),
        stderr_of(output)
    );
}

/// Panics unless the command exited 1 with `expected_stderr` somewhere on stderr.
#[track_caller]
pub fn assert_failure(output: &Output, expected_stderr: &str) {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        stdout_of(output),
        stderr_of(output)
    );
    assert!(
        stderr_of(output).contains(expected_stderr),
        "stderr {:?} lacks {expected_stderr:?}",
        stderr_of(output)
    );
}
