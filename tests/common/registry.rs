//! A running `docker-registry serve CONFIG.yml` (Debian's CNCF distribution 2.8) on 127.0.0.1.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::openssl::{self, KeyAndCert};
use super::token_server::TokenServer;
use super::{TempDir, free_port, random_hex, require_program, run_checked};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports to try when the registry exits at start (someone took the port in between).
const START_ATTEMPTS: usize = 5;

/// The registry process, its config, storage and log in a temporary directory. Dropping it kills
/// the process and removes the directory.
pub struct Registry {
    child: Child,
    port: u16,
    tls: Option<KeyAndCert>,
    ca: Option<KeyAndCert>,
    dir: TempDir,
}

impl Registry {
    /// No authentication at all.
    pub fn open() -> Registry {
        let dir = TempDir::new();
        Registry::start(dir, String::new(), None, None)
    }

    /// HTTP Basic against an htpasswd file (bcrypt, from `htpasswd -Bbn`), plain HTTP.
    pub fn htpasswd(users: &[(&str, &str)]) -> Registry {
        let dir = TempDir::new();
        let auth = htpasswd_auth(dir.path(), users);
        Registry::start(dir, auth, None, None)
    }

    /// HTTP Basic over HTTPS, with a server certificate for `localhost` and `127.0.0.1` issued by
    /// a throwaway CA (see [`Registry::ca_cert_path`]).
    pub fn htpasswd_tls(users: &[(&str, &str)]) -> Registry {
        let dir = TempDir::new();
        let auth = htpasswd_auth(dir.path(), users);
        let ca = openssl::make_ca(dir.path(), "ca", "reglogin test CA");
        let server = openssl::make_server_cert(dir.path(), "server", &ca);
        Registry::start(dir, auth, Some(server), Some(ca))
    }

    /// Bearer tokens from `token_server` (its realm, service and issuer; its certificate is the
    /// root bundle the token signatures must chain to).
    pub fn token(token_server: &TokenServer) -> Registry {
        let dir = TempDir::new();
        let bundle = dir.join("token-root.pem");
        fs::copy(token_server.cert_path(), &bundle).expect("copying the token server certificate");
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
            yaml_string(&token_server.realm()),
            yaml_string(token_server.service()),
            yaml_string(token_server.issuer()),
            yaml_string(&bundle.to_string_lossy()),
        );
        Registry::start(dir, auth, None, None)
    }

    fn start(
        dir: TempDir,
        auth: String,
        tls: Option<KeyAndCert>,
        ca: Option<KeyAndCert>,
    ) -> Registry {
        let program = require_program("docker-registry");
        let storage = dir.join("storage");
        fs::create_dir(&storage).expect("creating the registry storage");
        let config = dir.join("config.yml");
        let log_path = dir.join("registry.log");
        let mut failures = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            fs::write(&config, config_text(&storage, port, &auth, tls.as_ref()))
                .expect("writing the registry config");
            let log = fs::File::create(&log_path).expect("creating registry.log");
            let mut child = Command::new(&program)
                .arg("serve")
                .arg(&config)
                .current_dir(dir.path())
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("duplicating the log file"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| panic!("starting {}: {error}", program.display()));
            match wait_ready(&mut child, port, tls.is_some(), &log_path) {
                Ok(()) => {
                    return Registry {
                        child,
                        port,
                        tls,
                        ca,
                        dir,
                    };
                }
                Err(failure) => failures.push_str(&failure),
            }
        }
        panic!("docker-registry did not start in {START_ATTEMPTS} attempts:\n{failures}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`, or `https://localhost:PORT` for the TLS registry.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The CA certificate (PEM) that issued the TLS registry's certificate.
    pub fn ca_cert_path(&self) -> &Path {
        &self
            .ca
            .as_ref()
            .expect("ca_cert_path() is only for Registry::htpasswd_tls")
            .cert
    }

    /// The registry's own certificate (PEM), for the TLS registry.
    pub fn server_cert_path(&self) -> &Path {
        &self
            .tls
            .as_ref()
            .expect("server_cert_path() is only for Registry::htpasswd_tls")
            .cert
    }

    /// The config, storage and log directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the registry wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the registry on `port` answers HTTP. `Err` (with its log) when it exited, which
/// happens when another process took the port; a registry that hangs is a test failure.
fn wait_ready(child: &mut Child, port: u16, tls: bool, log_path: &Path) -> Result<(), String> {
    let addr = format!("127.0.0.1:{port}");
    let log = || fs::read_to_string(log_path).unwrap_or_default();
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("polling docker-registry") {
            return Err(format!(
                "docker-registry on {addr} exited with {status}:\n{}\n",
                log()
            ));
        }
        if answers_as_registry(&addr, tls) {
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "docker-registry did not answer GET /v2/ on {addr} within {READY_TIMEOUT:?}:\n{}",
                log()
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn htpasswd_auth(dir: &Path, users: &[(&str, &str)]) -> String {
    let mut lines = String::new();
    for (user, password) in users {
        let output =
            run_checked(Command::new(require_program("htpasswd")).args(["-Bbn", user, password]));
        lines.push_str(String::from_utf8_lossy(&output.stdout).trim());
        lines.push('\n');
    }
    let path = dir.join("htpasswd");
    fs::write(&path, lines).expect("writing htpasswd");
    format!(
        "auth:\n  htpasswd:\n    realm: reglogin-test\n    path: {}\n",
        yaml_string(&path.to_string_lossy())
    )
}

fn config_text(storage: &Path, port: u16, auth: &str, tls: Option<&KeyAndCert>) -> String {
    let mut text = format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: {}\n",
        yaml_string(&storage.to_string_lossy()),
        random_hex(16),
    );
    if let Some(tls) = tls {
        text.push_str(&format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            yaml_string(&tls.cert.to_string_lossy()),
            yaml_string(&tls.key.to_string_lossy()),
        ));
    }
    text.push_str(auth);
    text
}

/// A double-quoted YAML scalar.
fn yaml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Whether the registry on `addr` answers `GET /v2/`: with distribution's API version header,
/// or, on a TLS port, with the 400 Go gives plain HTTP. Another server that took the port in
/// between (a token server, say) does not count.
pub fn answers_as_registry(addr: &str, tls: bool) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let request = format!("GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = stream.take(8192).read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    if tls {
        response.starts_with("http/1.0 400")
            && response.contains("client sent an http request to an https server")
    } else {
        response.starts_with("http/1.")
            && response.contains("\r\ndocker-distribution-api-version: registry/2.0\r\n")
    }
}
