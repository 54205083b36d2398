//! Azure Container Registry end to end: `reglogin acr login` against a local fake of Entra ID's
//! token endpoint and the registry's `/oauth2/exchange` (neither runs locally), which check
//! every form field; the refresh token lands in config.json as Docker stores identity tokens.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::http::{parse_pairs, read_headers};
use common::{Sandbox, assert_success, stderr_of};

const TENANT: &str = "tenant-1";
const CLIENT_ID: &str = "client-1";
const CLIENT_SECRET: &str = "s3cret-value~1";

/// Answers `POST /TENANT/oauth2/v2.0/token` (Entra ID) and `POST /oauth2/exchange` (ACR);
/// records each path with whether it was accepted.
/// Each request's path, and whether the fake accepted it.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

fn start_fake() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let service = addr.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let headers = read_headers(&mut reader).unwrap();
            let length: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let form: std::collections::HashMap<String, String> =
                parse_pairs(&String::from_utf8_lossy(&body))
                    .into_iter()
                    .collect();
            let field = |name: &str| form.get(name).map(String::as_str);
            let (ok, answer) = if path == format!("/{TENANT}/oauth2/v2.0/token") {
                let ok = field("grant_type") == Some("client_credentials")
                    && field("client_id") == Some(CLIENT_ID)
                    && field("client_secret") == Some(CLIENT_SECRET)
                    && field("scope") == Some("https://management.azure.com/.default");
                (
                    ok,
                    r#"{"token_type":"Bearer","expires_in":3599,"access_token":"aad-token-1"}"#,
                )
            } else if path == "/oauth2/exchange" {
                let ok = field("grant_type") == Some("access_token")
                    && field("service") == Some(service.as_str())
                    && field("tenant") == Some(TENANT)
                    && field("access_token") == Some("aad-token-1");
                (ok, r#"{"refresh_token":"acr-refresh-1"}"#)
            } else {
                (false, "")
            };
            let (status, answer) = if ok {
                ("200 OK", answer)
            } else {
                (
                    "401 Unauthorized",
                    r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
                )
            };
            log.lock().unwrap().push((path, ok));
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (addr, seen)
}

fn login(sandbox: &Sandbox, addr: &str, secret: &str) -> std::process::Output {
    let mut command = sandbox.cmd(&["acr", "login", addr]);
    command
        .env("AZURE_AUTHORITY_HOST", format!("http://{addr}"))
        .env("AZURE_TENANT_ID", TENANT)
        .env("AZURE_CLIENT_ID", CLIENT_ID)
        .env("AZURE_CLIENT_SECRET", secret);
    common::sandbox::run_with_timeout(command, None, std::time::Duration::from_secs(30))
}

#[test]
fn acr_login_stores_the_refresh_token_as_identity_token() {
    let (addr, seen) = start_fake();
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &addr, CLIENT_SECRET);
    assert_success(&output);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (format!("/{TENANT}/oauth2/v2.0/token"), true),
            ("/oauth2/exchange".to_owned(), true)
        ]
    );
    let config: serde_json::Value = serde_json::from_str(&sandbox.read_config()).unwrap();
    let entry = &config["auths"][&addr];
    assert_eq!(entry["identitytoken"], "acr-refresh-1", "{config}");
    let auth = common::http::base64_decode(entry["auth"].as_str().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(auth).unwrap(),
        "00000000-0000-0000-0000-000000000000:"
    );
}

#[test]
fn a_refused_secret_is_reported_without_the_secret_and_nothing_is_stored() {
    let (addr, _seen) = start_fake();
    let sandbox = Sandbox::new();
    let output = login(&sandbox, &addr, "wrong-secret-xyz");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr_of(&output);
    assert!(
        err.contains("invalid_client") && err.contains("oauth2/v2.0/token"),
        "{err}"
    );
    assert!(!err.contains("wrong-secret-xyz"), "{err}");
    assert!(!sandbox.config_path().exists());

    let output = sandbox.run(&["acr", "login", "ghcr.io"], None);
    common::assert_failure(&output, "not an Azure Container Registry");
}
