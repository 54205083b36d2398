//! An isolated environment to run `reglogin` and the real `docker` CLI in: a fresh `HOME`, a
//! `DOCKER_CONFIG` inside it, and a `PATH` that holds only what the test put there.
//!
//! `PATH` is `BIN:TOOLS`. `BIN` starts empty: tests add programs with
//! [`Sandbox::link_program`] (a symlink to the installed one) or [`Sandbox::install_script`].
//! `TOOLS` holds symlinks to basic POSIX utilities (`sh`, `cat`, `sed`, ...) so that scripts
//! work; none of them is a `docker-credential-*` helper or `pass`, so Docker's (and reglogin's)
//! credential store detection finds nothing unless a test links it into `BIN`. `/usr/bin` is
//! never on `PATH`: Debian installs `docker-credential-pass` there.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{TempDir, find_program, require_program};

/// How long [`Sandbox::run`] and [`Sandbox::run_docker`] let a process run before killing it.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The utilities every sandbox has on `PATH` (when installed), for scripts and helpers.
const BASE_TOOLS: &[&str] = &[
    "sh", "bash", "dash", "env", "cat", "echo", "printf", "test", "[", "true", "false", "sed",
    "awk", "grep", "tr", "cut", "head", "tail", "sort", "uniq", "wc", "tee", "od", "base64",
    "sleep", "date", "id", "kill", "ls", "cp", "mv", "rm", "mkdir", "rmdir", "touch", "chmod",
    "ln", "readlink", "dirname", "basename", "mktemp", "stat", "xargs", "which",
];

/// `reglogin` (the binary under test) with an empty environment but `LANG=C`. Most tests want
/// [`Sandbox::cmd`], which also sets `HOME`, `DOCKER_CONFIG` and `PATH`.
pub fn reglogin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reglogin"));
    command.env_clear().env("LANG", "C");
    command
}

/// The sandbox's directories. All of it is removed on drop.
pub struct Sandbox {
    /// `HOME`.
    pub home: PathBuf,
    /// `DOCKER_CONFIG` (`HOME/.docker`), not created until something writes there.
    pub config_dir: PathBuf,
    /// The first `PATH` entry, empty at start.
    pub bin_dir: PathBuf,
    /// The second `PATH` entry: basic utilities only.
    pub tools_dir: PathBuf,
    root: TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = TempDir::new();
        let home = root.join("home");
        let bin_dir = root.join("bin");
        let tools_dir = root.join("tools");
        for dir in [&home, &bin_dir, &tools_dir] {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        for tool in BASE_TOOLS {
            if let Some(path) = find_program(tool) {
                std::os::unix::fs::symlink(path, tools_dir.join(tool))
                    .unwrap_or_else(|e| panic!("linking {tool}: {e}"));
            }
        }
        Sandbox {
            config_dir: home.join(".docker"),
            home,
            bin_dir,
            tools_dir,
            root,
        }
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The sandbox's top directory (parent of `home`, `bin` and `tools`), for scratch files
    /// outside `HOME`.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `DOCKER_CONFIG/config.json`.
    pub fn config_path(&self) -> PathBuf {
        self.config_dir.join("config.json")
    }

    /// Where `XDG_CONFIG_HOME` defaults to (`HOME/.config`). The variable itself is not set.
    pub fn xdg_config_home(&self) -> PathBuf {
        self.home.join(".config")
    }

    /// The `PATH` the sandbox gives its processes.
    pub fn path_env(&self) -> String {
        format!("{}:{}", self.bin_dir.display(), self.tools_dir.display())
    }

    /// The text of `config.json`; panics when it is missing.
    pub fn read_config(&self) -> String {
        let path = self.config_path();
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// Writes `config.json` (creating `DOCKER_CONFIG`) with exactly these bytes.
    pub fn write_config(&self, content: &str) {
        fs::create_dir_all(&self.config_dir).expect("creating DOCKER_CONFIG");
        fs::write(self.config_path(), content).expect("writing config.json");
    }

    /// Symlinks the installed program `name` into the sandbox's `PATH`; panics when it is not
    /// installed. Returns the link.
    pub fn link_program(&self, name: &str) -> PathBuf {
        let target = require_program(name);
        let link = self.bin_dir.join(name);
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(&target, &link)
                .unwrap_or_else(|e| panic!("linking {name}: {e}"));
        }
        link
    }

    /// Writes an executable script (mode 0755) named `name` into the sandbox's `PATH`.
    pub fn install_script(&self, name: &str, content: &str) -> PathBuf {
        let path = self.bin_dir.join(name);
        fs::write(&path, content).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {name}: {e}"));
        path
    }

    /// Clears `command`'s environment and sets the sandbox's: `HOME`, `DOCKER_CONFIG`, `PATH`,
    /// `LANG=C`.
    pub fn apply_env(&self, command: &mut Command) {
        command
            .env_clear()
            .env("HOME", &self.home)
            .env("DOCKER_CONFIG", &self.config_dir)
            .env("PATH", self.path_env())
            .env("LANG", "C")
            .current_dir(&self.home);
    }

    /// `reglogin ARGS` in the sandbox.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut command = reglogin();
        self.apply_env(&mut command);
        command.args(args);
        command
    }

    /// The real `docker ARGS` in the sandbox (same environment as [`Sandbox::cmd`]).
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut command = Command::new(require_program("docker"));
        self.apply_env(&mut command);
        command.args(args);
        command
    }

    /// Runs `reglogin ARGS` with `stdin` (or `/dev/null`), killing it after [`RUN_TIMEOUT`].
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_with_timeout(self.cmd(args), stdin.map(str::as_bytes), RUN_TIMEOUT)
    }

    /// Runs the real `docker ARGS` like [`Sandbox::run`].
    pub fn run_docker(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_with_timeout(self.docker(args), stdin.map(str::as_bytes), RUN_TIMEOUT)
    }
}

/// Runs `command` with `stdin` written to it and closed (`None`: `/dev/null`), capturing stdout
/// and stderr. Panics, with what it printed so far, when it runs longer than `timeout`.
pub fn run_with_timeout(mut command: Command, stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let data = data.to_vec();
        // A process that exits without reading makes this fail: that is fine.
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let grace = Duration::from_secs(1);
            panic!(
                "{program} ran longer than {timeout:?} and was killed\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&stdout.recv_timeout(grace).unwrap_or_default()),
                String::from_utf8_lossy(&stderr.recv_timeout(grace).unwrap_or_default()),
            );
        }
        thread::sleep(Duration::from_millis(2));
    };
    // A grandchild that keeps the pipes open must not hang the test.
    let remaining = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    let collect = |receiver: mpsc::Receiver<Vec<u8>>, name: &str| {
        receiver.recv_timeout(remaining).unwrap_or_else(|_| {
            panic!("{program} exited ({status}) but something kept its {name} open")
        })
    };
    Output {
        status,
        stdout: collect(stdout, "stdout"),
        stderr: collect(stderr, "stderr"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let mut buffer = Vec::new();
        let _ = pipe.read_to_end(&mut buffer);
        let _ = sender.send(buffer);
    });
    receiver
}
