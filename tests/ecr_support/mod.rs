//! Real parts for the ECR tests: one shared `moto_server`, a scriptable stub of the ECR APIs
//! that counts and records requests, temp directories, and the binary in a clean environment.
#![allow(dead_code)]

pub mod mitm;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_reglogin");
pub const DUMMY_KEY_ID: &str = "AKIDREGLOGINTEST";
pub const DUMMY_SECRET: &str = "dummy-secret-do-not-print";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "reglogin-ecr-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The program's path on the test process's PATH; panics (never skips) when it is missing.
pub fn require_program(name: &str, install_hint: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH; install it ({install_hint}), as scripts/install-test-deps does"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `moto_server` on loopback. The process dies with the test binary: it runs under a shell
/// that kills it when its stdin (held by this process) closes.
pub struct Moto {
    pub port: u16,
    _guard: Mutex<Child>,
}

impl Moto {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The moto shared by every test of this binary.
    pub fn shared() -> &'static Moto {
        static MOTO: OnceLock<Moto> = OnceLock::new();
        MOTO.get_or_init(|| Moto::start(&[]))
    }

    pub fn start(extra_env: &[(&str, &str)]) -> Moto {
        let moto = require_program("moto_server", "pip install 'moto[server]'");
        let port = free_port();
        let log =
            std::env::temp_dir().join(format!("reglogin-moto-{}-{port}.log", std::process::id()));
        let script = format!(
            "'{}' -H 127.0.0.1 -p {port} >'{}' 2>&1 & pid=$!; read -r _; kill $pid",
            moto.display(),
            log.display()
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        command.envs(extra_env.iter().copied());
        let mut child = command.spawn().expect("cannot start moto_server");
        let started = Instant::now();
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "moto_server exited ({status}): {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not listen on port {port} within 30 s: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            port,
            _guard: Mutex::new(child),
        }
    }
}

/// One request the stub received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// `(access key id, region, service)` of the SigV4 credential scope.
    pub fn credential_scope(&self) -> (String, String, String) {
        let auth = self.header("authorization").expect("the request is signed");
        let credential = auth
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .expect("a Credential= part");
        let parts: Vec<&str> = credential.split('/').collect();
        (
            parts[0].to_owned(),
            parts[2].to_owned(),
            parts[3].to_owned(),
        )
    }
}

type Handler = dyn Fn(&Request) -> (u16, String) + Send + Sync;

/// An HTTP/1.1 server on loopback that answers with `handler` and records every request.
pub struct Stub {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    pub fn start(handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let recorded = Arc::clone(&recorded);
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || serve_connection(stream, &recorded, &*handler));
            }
        });
        Stub { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Request {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request reached the stub")
    }
}

fn serve_connection(stream: TcpStream, recorded: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 {
            return;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((key, value)) = header.split_once(':') {
            headers.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let request = Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, answer) = handler(&request);
    recorded.lock().unwrap().push(request);
    // A 401 challenges for Basic auth, as a registry with htpasswd does.
    let challenge = if status == 401 {
        "WWW-Authenticate: Basic realm=\"stub\"\r\n"
    } else {
        ""
    };
    let _ = write!(
        writer,
        "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\n{challenge}Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = writer.flush();
}

/// base64 of `AWS:password`, as ECR sends the token.
pub fn ecr_token(password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"))
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A stub of both ECR APIs that answers tokens valid for 12 hours from now.
pub fn ecr_stub() -> Stub {
    Stub::start(|request| {
        let expires = unix_now() + 12 * 3600;
        match request.header("x-amz-target").unwrap_or_default() {
            "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" => {
                let (_, region, _) = request.credential_scope();
                let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
                let ids: Vec<String> = match body.get("registryIds").and_then(|ids| ids.as_array()) {
                    Some(ids) => ids.iter().map(|id| id.as_str().unwrap().to_owned()).collect(),
                    None => vec!["210987654321".to_owned()],
                };
                let entries: Vec<serde_json::Value> = ids
                    .iter()
                    .map(|id| {
                        serde_json::json!({
                            "authorizationToken": ecr_token(&format!("stub-{id}-{region}")),
                            "expiresAt": expires as f64 + 0.25,
                            "proxyEndpoint": format!("https://{id}.dkr.ecr.{region}.amazonaws.com"),
                        })
                    })
                    .collect();
                (200, serde_json::json!({ "authorizationData": entries }).to_string())
            }
            "SpencerFrontendService.GetAuthorizationToken" => (
                200,
                serde_json::json!({
                    "authorizationData": {"authorizationToken": ecr_token("stub-public"), "expiresAt": expires}
                })
                .to_string(),
            ),
            other => (
                400,
                serde_json::json!({"__type": "UnknownOperationException", "message": format!("no {other}")}).to_string(),
            ),
        }
    })
}

/// A clean environment for the binary: a temp HOME, a PATH of only `sh` (for
/// credential_process), no instance metadata, and the given variables.
pub struct Sandbox {
    pub home: TempDir,
    pub bin: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let home = TempDir::new(name);
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        for program in ["sh", "cat", "echo"] {
            let target = require_program(program, "coreutils");
            std::os::unix::fs::symlink(target, bin.join(program)).unwrap();
        }
        std::os::unix::fs::symlink(BIN, bin.join("docker-credential-ecr-login")).unwrap();
        Sandbox {
            home,
            bin,
            env: Vec::new(),
        }
    }

    /// With the dummy keys in the environment.
    pub fn with_keys(name: &str) -> Sandbox {
        let mut sandbox = Sandbox::new(name);
        sandbox.set("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID);
        sandbox.set("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET);
        sandbox
    }

    pub fn set(&mut self, key: &str, value: &str) -> &mut Sandbox {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn unset(&mut self, key: &str) -> &mut Sandbox {
        self.env.retain(|(k, _)| k != key);
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.home().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn config_dir(&self) -> PathBuf {
        self.home().join(".docker")
    }

    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", &self.bin)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn run_program(&self, program: &Path, args: &[&str], stdin: &str) -> Output {
        let mut child = self.command(program).args(args).spawn().unwrap();
        // A program that answers and exits before reading all of stdin makes this write fail
        // (EPIPE); its output and status are what the tests check.
        let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
        child.wait_with_output().unwrap()
    }

    pub fn reglogin(&self, args: &[&str]) -> Output {
        self.run_program(Path::new(BIN), args, "")
    }

    /// `docker-credential-ecr-login ACTION` through the argv[0] link.
    pub fn ecr_helper(&self, action: &str, stdin: &str) -> Output {
        self.run_program(
            &self.bin.join("docker-credential-ecr-login"),
            &[action],
            stdin,
        )
    }

    /// The real AWS CLI with this sandbox's HOME and AWS variables, on the test's PATH.
    pub fn aws(&self, args: &[&str]) -> Output {
        let aws = require_program("aws", "pip install awscli");
        let mut command = Command::new(aws);
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") {
                command.env_remove(key);
            }
        }
        command
            .env("HOME", self.home())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(Stdio::null());
        command.output().unwrap()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with everything the command said unless it succeeded.
pub fn success(output: &Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

pub fn failure(output: &Output, what: &str) -> String {
    assert!(
        !output.status.success(),
        "{what} unexpectedly succeeded:\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stderr)
}
