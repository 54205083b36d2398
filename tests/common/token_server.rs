//! A token server for distribution's `auth.token` (Docker's Bearer token flow), on 127.0.0.1 in a
//! background thread: `GET /token` with HTTP Basic, and the OAuth2 `POST /token` with the
//! `password` and `refresh_token` grants. Tokens are JWTs signed RS256 by `openssl dgst`, with
//! the signer's self-signed certificate in `x5c`; that certificate is the registry's
//! `rootcertbundle`. Every request is recorded for the tests to inspect.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Value, json};

use super::http::{base64_decode, base64_std, base64_url, parse_pairs, read_headers};
use super::openssl::{self, KeyAndCert};
use super::{TempDir, random_hex, rfc3339, unix_now};

/// Lifetime of the tokens, in seconds (`expires_in`).
pub const TOKEN_LIFETIME: u64 = 300;
const SERVICE: &str = "reglogin-test-registry";
const ISSUER: &str = "reglogin-test-token-issuer";

/// One request the token server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: path and query, e.g. `/token?account=alice&service=...`.
    pub target: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Whether an `Authorization` header was present.
    pub authorization: bool,
    /// The user of a valid-looking HTTP Basic header (whether or not the password was right).
    pub basic_user: Option<String>,
    /// The keys of an `application/x-www-form-urlencoded` body, in order.
    pub form_keys: Vec<String>,
    /// The decoded form fields, in order (passwords included: these are test credentials).
    pub form: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first query parameter with this name.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        lookup(&self.query, key)
    }

    /// The first form field with this name.
    pub fn form_value(&self, key: &str) -> Option<&str> {
        lookup(&self.form, key)
    }
}

fn lookup<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

struct State {
    users: Vec<(String, String)>,
    issue_refresh_tokens: bool,
    signer: KeyAndCert,
    /// Standard base64 of the signer certificate's DER, the JWT header's `x5c` entry.
    x5c: String,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Refresh tokens in the order issued, with the user each belongs to.
    refresh_tokens: Mutex<Vec<(String, String)>>,
    stop: AtomicBool,
}

/// The running token server. Dropping it stops the accept loop and removes its key files.
pub struct TokenServer {
    state: Arc<State>,
    port: u16,
    accept_thread: Option<JoinHandle<()>>,
    _dir: TempDir,
}

impl TokenServer {
    /// Starts a server that knows `users` (name, password). With `issue_refresh_tokens`, it
    /// returns a `refresh_token` to `GET` requests with `offline_token=true` and to `POST`s with
    /// `access_type=offline`.
    pub fn start(users: &[(&str, &str)], issue_refresh_tokens: bool) -> TokenServer {
        let dir = TempDir::new();
        let signer = openssl::make_rsa_signer(dir.path(), "token-signer", ISSUER);
        let x5c = base64_std(&openssl::cert_der(&signer.cert));
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the token server");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            users: users
                .iter()
                .map(|(user, password)| (user.to_string(), password.to_string()))
                .collect(),
            issue_refresh_tokens,
            signer,
            x5c,
            requests: Mutex::new(Vec::new()),
            refresh_tokens: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accept_state = Arc::clone(&state);
        let accept_thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = Arc::clone(&accept_state);
                thread::spawn(move || handle_connection(&state, stream));
            }
        });
        TokenServer {
            state,
            port,
            accept_thread: Some(accept_thread),
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/token`, the registry's `auth.token.realm`.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The registry's `auth.token.service`, and the tokens' `aud`.
    pub fn service(&self) -> &'static str {
        SERVICE
    }

    /// The registry's `auth.token.issuer`, and the tokens' `iss`.
    pub fn issuer(&self) -> &'static str {
        ISSUER
    }

    /// The signer's self-signed certificate (PEM): the registry's `rootcertbundle`.
    pub fn cert_path(&self) -> &Path {
        &self.state.signer.cert
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Every refresh token issued so far, in order.
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.state
            .refresh_tokens
            .lock()
            .unwrap()
            .iter()
            .map(|(token, _)| token.clone())
            .collect()
    }

    /// A signed token for `user` as this server would issue it, with `access` as given (a JSON
    /// list of `{type, name, actions}`).
    pub fn mint_token(&self, user: &str, access: Value) -> String {
        sign_token(&self.state, user, access)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.accept_thread.take() {
            let _ = handle.join();
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("bad request line {line:?}"),
        ));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let headers = read_headers(&mut reader)?;
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method,
        target,
        headers,
        body,
    })
}

fn handle_connection(state: &State, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(request) = read_request(&stream) else {
        return;
    };
    let (status, body) = respond(state, &request);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let body = body.to_string();
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status == 401 {
        head.push_str("WWW-Authenticate: Basic realm=\"reglogin-test-token-server\"\r\n");
    }
    head.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Write);
}

fn respond(state: &State, request: &Request) -> (u16, Value) {
    let (path, query_text) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let query = parse_pairs(query_text);
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let is_form = header("content-type")
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        parse_pairs(&String::from_utf8_lossy(&request.body))
    } else {
        Vec::new()
    };
    let basic = header("authorization").and_then(parse_basic);
    state.requests.lock().unwrap().push(RecordedRequest {
        method: request.method.clone(),
        target: request.target.clone(),
        query: query.clone(),
        authorization: header("authorization").is_some(),
        basic_user: basic.as_ref().map(|(user, _)| user.clone()),
        form_keys: form.iter().map(|(key, _)| key.clone()).collect(),
        form: form.clone(),
    });

    if path != "/token" {
        return (404, json!({"details": "not found"}));
    }
    match request.method.as_str() {
        "GET" => {
            let Some(user) = basic.filter(|(user, password)| state.knows(user, password)) else {
                return (401, json!({"details": "incorrect username or password"}));
            };
            let scopes: Vec<&str> = query
                .iter()
                .filter(|(key, _)| key == "scope")
                .map(|(_, value)| value.as_str())
                .collect();
            let offline = lookup(&query, "offline_token") == Some("true");
            (200, issue(state, &user.0, &scopes, offline))
        }
        "POST" => {
            let scopes: Vec<&str> = lookup(&form, "scope").into_iter().collect();
            let offline = lookup(&form, "access_type") == Some("offline");
            match lookup(&form, "grant_type") {
                Some("password") => {
                    let user = lookup(&form, "username").unwrap_or("");
                    let password = lookup(&form, "password").unwrap_or("");
                    if !state.knows(user, password) {
                        return (401, json!({"details": "incorrect username or password"}));
                    }
                    (200, issue(state, user, &scopes, offline))
                }
                Some("refresh_token") => {
                    let presented = lookup(&form, "refresh_token").unwrap_or("");
                    let owner = state
                        .refresh_tokens
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|(token, _)| token == presented)
                        .map(|(_, user)| user.clone());
                    let Some(user) = owner else {
                        return (401, json!({"details": "invalid refresh token"}));
                    };
                    (200, issue(state, &user, &scopes, offline))
                }
                _ => (400, json!({"details": "unsupported grant_type"})),
            }
        }
        _ => (405, json!({"details": "method not allowed"})),
    }
}

impl State {
    fn knows(&self, user: &str, password: &str) -> bool {
        self.users
            .iter()
            .any(|(known, secret)| known == user && secret == password)
    }
}

fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// The JSON answer for a successful request: a token for `user` granting every requested scope.
fn issue(state: &State, user: &str, scopes: &[&str], offline: bool) -> Value {
    let access: Vec<Value> = scopes
        .iter()
        .flat_map(|scope| scope.split_whitespace())
        .filter_map(scope_access)
        .collect();
    let token = sign_token(state, user, Value::Array(access));
    let mut answer = json!({
        "token": token,
        "access_token": token,
        "expires_in": TOKEN_LIFETIME,
        "issued_at": rfc3339(unix_now()),
    });
    if offline && state.issue_refresh_tokens {
        let refresh = format!("rt-{}", random_hex(16));
        state
            .refresh_tokens
            .lock()
            .unwrap()
            .push((refresh.clone(), user.to_owned()));
        answer["refresh_token"] = Value::String(refresh);
    }
    answer
}

/// `repository:library/alpine:pull,push` as a claim entry. The name may itself contain `:`.
fn scope_access(scope: &str) -> Option<Value> {
    let (kind, rest) = scope.split_once(':')?;
    let (name, actions) = rest.rsplit_once(':')?;
    let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
    Some(json!({"type": kind, "name": name, "actions": actions}))
}

fn sign_token(state: &State, user: &str, access: Value) -> String {
    let now = unix_now();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [state.x5c]});
    let claims = json!({
        "iss": ISSUER,
        "sub": user,
        "aud": SERVICE,
        "exp": now + TOKEN_LIFETIME,
        "nbf": now,
        "iat": now,
        "jti": random_hex(16),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        base64_url(header.to_string().as_bytes()),
        base64_url(claims.to_string().as_bytes())
    );
    let signature = openssl::sign_rs256(&state.signer.key, signing_input.as_bytes());
    format!("{signing_input}.{}", base64_url(&signature))
}

/// Decodes a JWT's claims (no verification), for tests that inspect tokens.
pub fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&base64_decode(payload)?).ok()
}
