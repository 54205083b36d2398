//! reglogin as a credential helper: the server side of the `docker-credential-*` protocol, so
//! Docker, BuildKit, Podman and skopeo can keep their credentials through reglogin with
//! `"credsStore": "reglogin"` in config.json.
//!
//! The protocol is the Go helpers' (docker/docker-credential-helpers `credentials.go`): the action
//! is the only argument; `store` reads `{"ServerURL","Username","Secret"}` on stdin, `get` and
//! `erase` read a server URL (whitespace-trimmed), `list` ignores stdin and prints
//! `{"<server>": "<username>"}`, `version` prints a line. Errors go to stdout with exit status 1,
//! and a missing entry is `credentials not found in native keychain`. An identity token is kept
//! as the secret of the user `<token>`, as Docker sends it; nothing here interprets it.
//!
//! Where the secrets go is a [`Backend`]:
//! - [`secretservice`]: the desktop keyring over D-Bus, item for item what
//!   `docker-credential-secretservice` writes;
//! - [`pass`]: the `pass` layout of `docker-credential-pass`, through the `pass` program;
//! - [`file`]: a private file outside config.json for machines with neither (see its threat
//!   model).
//!
//! `REGLOGIN_HELPER_BACKEND=secretservice|pass|file` chooses; otherwise the first that works of
//! secretservice (a Secret Service answers on the session bus), pass (the program is installed
//! and the store is initialised) and file.

pub mod file;
pub mod pass;
pub mod secretservice;

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};
use crate::secret::Secret;

/// The name Docker finds reglogin under: `"credsStore": "reglogin"` runs this program.
pub const HELPER_PROGRAM: &str = "docker-credential-reglogin";

/// The value of `credsStore` / `credHelpers` that names reglogin.
pub const HELPER_NAME: &str = "reglogin";

/// Chooses the backend: `secretservice`, `pass` or `file`.
pub const BACKEND_ENV: &str = "REGLOGIN_HELPER_BACKEND";

/// Stdin larger than this is not a credential.
const MAX_INPUT: u64 = 1 << 20;

/// A failure of a helper action, phrased as the helper prints it on stdout.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    #[error("{NOT_FOUND_MESSAGE}")]
    NotFound,
    #[error("no credentials server URL")]
    MissingServerUrl,
    #[error("no credentials username")]
    MissingUsername,
    #[error("Unknown credential action `{0}`")]
    UnknownAction(String),
    #[error("{0}")]
    BadInput(String),
    /// The backend failed; `backend` is its name.
    #[error("reglogin ({backend}): {message}")]
    Backend {
        backend: &'static str,
        message: String,
    },
    #[error("reglogin: {0}")]
    Selection(String),
}

impl HelperError {
    pub fn backend(backend: &'static str, message: impl std::fmt::Display) -> HelperError {
        HelperError::Backend {
            backend,
            message: message.to_string(),
        }
    }
}

/// Where the reglogin helper keeps secrets. Keys are server URLs exactly as the client sent
/// them (Docker sends `https://index.docker.io/v1/` or a bare `host[:port]`).
pub trait Backend {
    /// `secretservice`, `pass` or `file`.
    fn name(&self) -> &'static str;
    /// The username and secret kept for `server_url`, if any.
    fn get(&self, server_url: &str) -> Result<Option<(String, Secret)>, HelperError>;
    /// Keeps `username`/`secret` for `server_url`, replacing what was there.
    fn store(&self, server_url: &str, username: &str, secret: &Secret) -> Result<(), HelperError>;
    /// Removes everything kept for `server_url`; `false` when there was nothing.
    fn erase(&self, server_url: &str) -> Result<bool, HelperError>;
    /// Every server URL with its username.
    fn list(&self) -> Result<BTreeMap<String, String>, HelperError>;
}

/// The backends by name, in the order automatic selection tries them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    SecretService,
    Pass,
    File,
}

impl BackendKind {
    pub const ALL: [BackendKind; 3] = [
        BackendKind::SecretService,
        BackendKind::Pass,
        BackendKind::File,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BackendKind::SecretService => "secretservice",
            BackendKind::Pass => "pass",
            BackendKind::File => "file",
        }
    }

    pub fn parse(name: &str) -> Option<BackendKind> {
        BackendKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name.trim())
    }

    /// Opens this backend, failing when it cannot be used here.
    pub fn open(self) -> Result<Box<dyn Backend>, HelperError> {
        Ok(match self {
            BackendKind::SecretService => Box::new(secretservice::SecretService::connect()?),
            BackendKind::Pass => Box::new(pass::PassStore::open()?),
            BackendKind::File => Box::new(file::FileStore::open()?),
        })
    }
}

/// The backend for this environment: `REGLOGIN_HELPER_BACKEND`, else the first that works.
pub fn select_backend() -> Result<Box<dyn Backend>, HelperError> {
    if let Some(value) = std::env::var_os(BACKEND_ENV).filter(|value| !value.is_empty()) {
        let value = value.to_string_lossy();
        let kind = BackendKind::parse(&value).ok_or_else(|| {
            HelperError::Selection(format!(
                "{BACKEND_ENV}={value}: expected secretservice, pass or file"
            ))
        })?;
        return kind.open();
    }
    if secretservice::SecretService::available()
        && let Ok(backend) = secretservice::SecretService::connect()
    {
        return Ok(Box::new(backend));
    }
    if pass::PassStore::available() {
        return Ok(Box::new(pass::PassStore::open()?));
    }
    Ok(Box::new(file::FileStore::open()?))
}

/// `docker-credential-reglogin (reglogin) VERSION`, as the Go helpers print theirs.
pub fn version_line() -> String {
    format!(
        "{HELPER_PROGRAM} ({HELPER_NAME}) {}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Runs one protocol action against the backend `select_backend` picks (not opened at all for
/// `version`). The caller prints an error on stdout and exits 1.
pub fn serve(
    action: &str,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<(), HelperError> {
    match action {
        "version" => write_out(output, version_line().as_bytes()),
        "store" | "get" | "erase" | "list" => {
            // Read before choosing: a bad request is reported as such whatever the backend.
            let request = read_request(action, input)?;
            let backend = select_backend()?;
            serve_request(backend.as_ref(), action, &request, output)
        }
        other => Err(HelperError::UnknownAction(other.to_owned())),
    }
}

/// Runs one protocol action against `backend`, `input` being everything read from stdin.
pub fn serve_with(
    backend: &dyn Backend,
    action: &str,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<(), HelperError> {
    match action {
        "version" => write_out(output, version_line().as_bytes()),
        "store" | "get" | "erase" | "list" => {
            let request = read_request(action, input)?;
            serve_request(backend, action, &request, output)
        }
        other => Err(HelperError::UnknownAction(other.to_owned())),
    }
}

fn serve_request(
    backend: &dyn Backend,
    action: &str,
    request: &Secret,
    output: &mut dyn Write,
) -> Result<(), HelperError> {
    match action {
        "store" => {
            let wire = crate::helper_protocol::parse_store_request(request.expose())
                .map_err(HelperError::BadInput)?;
            if wire.server_url.is_empty() {
                return Err(HelperError::MissingServerUrl);
            }
            if wire.username.is_empty() {
                return Err(HelperError::MissingUsername);
            }
            let secret = Secret::new(wire.secret.as_str());
            backend.store(&wire.server_url, &wire.username, &secret)
        }
        "get" => {
            let server_url = server_url_of(request)?;
            let found = match fresh_ecr_token(server_url).or_else(|| fresh_gcr_token(server_url)) {
                Some(found) => Some(found),
                None => backend.get(server_url)?,
            };
            let (username, secret) = found.ok_or(HelperError::NotFound)?;
            let wire = WireCredentials {
                server_url: server_url.to_owned(),
                username,
                secret: secret.expose().to_owned(),
            };
            write_out(output, wire.to_go_json_line().expose().as_bytes())
        }
        "erase" => {
            // Erasing what is not there succeeds, as docker-credential-secretservice does:
            // `docker logout` must not warn about a host it was never logged in to.
            backend.erase(server_url_of(request)?).map(drop)
        }
        "list" => {
            let listing = backend.list()?;
            let json = serde_json::to_string(&listing).expect("a map of strings serialises");
            let mut line = crate::gojson::escape_like_go(json);
            line.push('\n');
            write_out(output, line.as_bytes())
        }
        other => Err(HelperError::UnknownAction(other.to_owned())),
    }
}

/// For an Amazon ECR host, a current token from AWS (through the ecr-login token cache), so one
/// `"credsStore": "reglogin"` serves ECR as `docker-credential-ecr-login` would. A stored ECR
/// token expires after 12 hours; it is only the fallback when AWS cannot be asked.
fn fresh_ecr_token(server_url: &str) -> Option<(String, Secret)> {
    crate::cloud::ecr::parse_registry(server_url)?;
    let env = crate::cloud::aws::Env::from_process();
    match crate::cloud::ecr::token_for_registry(server_url, env) {
        Ok(fetched) => {
            if let Some(warning) = fetched.warning {
                eprintln!("reglogin: {warning}");
            }
            Some((
                fetched.token.username.clone(),
                fetched.token.password.clone(),
            ))
        }
        Err(err) => {
            eprintln!(
                "reglogin: no ECR token for {server_url}, using the stored credentials if any: {err}"
            );
            None
        }
    }
}

/// For a Google registry host (gcr.io, *.gcr.io, *-docker.pkg.dev), a current access token from
/// Application Default Credentials, as for ECR: stored credentials are only the fallback.
fn fresh_gcr_token(server_url: &str) -> Option<(String, Secret)> {
    if !crate::cloud::gcp::is_google_registry(server_url) {
        return None;
    }
    let env = crate::cloud::aws::Env::from_process();
    match crate::cloud::gcp::token_for_registry(server_url, &env) {
        Ok(fetched) => {
            if let Some(warning) = fetched.warning {
                eprintln!("reglogin: {warning}");
            }
            Some((crate::cloud::gcp::USERNAME.to_owned(), fetched.token.token))
        }
        Err(err) => {
            eprintln!(
                "reglogin: no Google token for {server_url}, using the stored credentials if any: {err}"
            );
            None
        }
    }
}

/// Stdin for `store`, `get` and `erase`; `list` never reads it (Docker sends `unused`, and a
/// terminal must not block it).
fn read_request(action: &str, input: &mut dyn Read) -> Result<Secret, HelperError> {
    if action == "list" {
        Ok(Secret::default())
    } else {
        read_input(input)
    }
}

/// Stdin as Go's `bufio.Scanner` loop sees it: the lines joined without their line ends.
fn read_input(input: &mut dyn Read) -> Result<Secret, HelperError> {
    let text = crate::secret::read_secret(input, MAX_INPUT).map_err(|err| {
        HelperError::BadInput(if err.kind() == std::io::ErrorKind::InvalidData {
            "stdin is not UTF-8".to_owned()
        } else {
            format!("reading stdin: {err}")
        })
    })?;
    let mut joined = String::with_capacity(text.expose().len());
    for line in text.expose().split('\n') {
        joined.push_str(line.strip_suffix('\r').unwrap_or(line));
    }
    Ok(Secret::new(joined))
}

fn server_url_of(request: &Secret) -> Result<&str, HelperError> {
    let server_url = request.expose().trim();
    if server_url.is_empty() {
        Err(HelperError::MissingServerUrl)
    } else {
        Ok(server_url)
    }
}

fn write_out(output: &mut dyn Write, bytes: &[u8]) -> Result<(), HelperError> {
    output
        .write_all(bytes)
        .and_then(|()| output.flush())
        .map_err(|err| HelperError::BadInput(format!("writing stdout: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Memory(RefCell<BTreeMap<String, (String, String)>>);

    impl Backend for Memory {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn get(&self, server_url: &str) -> Result<Option<(String, Secret)>, HelperError> {
            Ok(self
                .0
                .borrow()
                .get(server_url)
                .map(|(user, secret)| (user.clone(), Secret::new(secret.as_str()))))
        }
        fn store(
            &self,
            server_url: &str,
            username: &str,
            secret: &Secret,
        ) -> Result<(), HelperError> {
            self.0.borrow_mut().insert(
                server_url.to_owned(),
                (username.to_owned(), secret.expose().to_owned()),
            );
            Ok(())
        }
        fn erase(&self, server_url: &str) -> Result<bool, HelperError> {
            Ok(self.0.borrow_mut().remove(server_url).is_some())
        }
        fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
            Ok(self
                .0
                .borrow()
                .iter()
                .map(|(server, (user, _))| (server.clone(), user.clone()))
                .collect())
        }
    }

    fn call(backend: &Memory, action: &str, input: &str) -> Result<String, String> {
        let mut out = Vec::new();
        serve_with(backend, action, &mut input.as_bytes(), &mut out)
            .map(|()| String::from_utf8(out).unwrap())
            .map_err(|err| err.to_string())
    }

    #[test]
    fn the_protocol_round_trip() {
        let backend = Memory::default();
        let stored =
            "{\"ServerURL\":\"https://r.example\",\n\"Username\":\"<token>\",\"Secret\":\"a&b\"}\n";
        assert_eq!(call(&backend, "store", stored), Ok(String::new()));
        assert_eq!(
            call(&backend, "get", "  https://r.example\n"),
            Ok("{\"ServerURL\":\"https://r.example\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"a\\u0026b\"}\n".to_owned())
        );
        assert_eq!(
            call(&backend, "list", "unused"),
            Ok("{\"https://r.example\":\"\\u003ctoken\\u003e\"}\n".to_owned())
        );
        assert_eq!(
            call(&backend, "erase", "https://r.example"),
            Ok(String::new())
        );
        assert_eq!(
            call(&backend, "erase", "https://r.example"),
            Ok(String::new())
        );
        assert_eq!(
            call(&backend, "get", "https://r.example"),
            Err(NOT_FOUND_MESSAGE.to_owned())
        );
        assert_eq!(call(&backend, "list", ""), Ok("{}\n".to_owned()));
    }

    #[test]
    fn bad_requests_have_the_go_texts() {
        let backend = Memory::default();
        assert_eq!(
            call(&backend, "get", " \n"),
            Err("no credentials server URL".into())
        );
        assert_eq!(
            call(&backend, "store", r#"{"ServerURL":"x","Secret":"s"}"#),
            Err("no credentials username".into())
        );
        assert_eq!(
            call(&backend, "store", r#"{"Username":"u","Secret":"s"}"#),
            Err("no credentials server URL".into())
        );
        assert_eq!(
            call(&backend, "frob", ""),
            Err("Unknown credential action `frob`".into())
        );
        assert!(
            call(&backend, "store", "{")
                .unwrap_err()
                .contains("invalid credentials JSON")
        );
        assert_eq!(
            call(&backend, "version", ""),
            Ok(format!(
                "docker-credential-reglogin (reglogin) {}\n",
                env!("CARGO_PKG_VERSION")
            ))
        );
    }

    #[test]
    fn backend_names_parse() {
        for kind in BackendKind::ALL {
            assert_eq!(BackendKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(BackendKind::parse("keychain"), None);
    }
}
