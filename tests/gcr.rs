//! Google Container Registry / Artifact Registry end to end: the binary as
//! `docker-credential-gcr`, `docker-credential-reglogin` and `reglogin get`, against a local
//! OAuth2 token endpoint (Google's does not run locally) that verifies the JWT's RS256
//! signature with `openssl` and checks its claims, and a local GCE metadata server. `gcr
//! configure` is compared with the real `gcloud auth configure-docker`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::http::{base64_decode, parse_pairs, read_headers};
use common::sandbox::run_with_timeout;
use common::{Sandbox, assert_success, stderr_of, stdout_of};

const CLIENT_EMAIL: &str = "pusher@proj.iam.gserviceaccount.com";
const NOT_FOUND: &str = "credentials not found in native keychain\n";

/// A request the fake endpoint saw: method, path, and why it refused (None when it answered).
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    refused: Option<String>,
}

/// A fake of Google's OAuth2 token endpoint (`POST /token`) and the GCE metadata server.
struct Google {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct Expect {
    public_key: PathBuf,
    token_uri: String,
}

impl Google {
    fn start(public_key: &Path) -> Google {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expect = Arc::new(Expect {
            public_key: public_key.to_path_buf(),
            token_uri: format!("http://{addr}/token"),
        });
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                let expect = expect.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &expect, &log);
                });
            }
        });
        Google { addr, seen }
    }

    fn token_uri(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(
    stream: std::net::TcpStream,
    expect: &Expect,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers = read_headers(&mut reader)?;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let result = {
        let number = log.lock().unwrap().len() + 1;
        match (method.as_str(), path.as_str()) {
            ("POST", "/token") => check_token_request(&String::from_utf8_lossy(&body), expect),
            ("GET", "/computeMetadata/v1/instance/service-accounts/default/token") => {
                if header("metadata-flavor").as_deref() == Some("Google") {
                    Ok(())
                } else {
                    Err("no Metadata-Flavor: Google header".to_owned())
                }
            }
            _ => Err(format!("unexpected {method} {path}")),
        }
        .map(|()| number)
    };
    let (status, answer) = match &result {
        Ok(number) => (
            "200 OK",
            format!(
                r#"{{"access_token":"ya29.test-{number}","expires_in":3599,"token_type":"Bearer"}}"#
            ),
        ),
        Err(_) => (
            "400 Bad Request",
            r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#.to_owned(),
        ),
    };
    log.lock().unwrap().push(Seen {
        method,
        path,
        refused: result.err(),
    });
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// Checks a token request as Google would: a JWT-bearer grant whose RS256 signature verifies
/// with the test's public key and whose claims are right, or a refresh-token grant.
fn check_token_request(body: &str, expect: &Expect) -> Result<(), String> {
    let form: std::collections::HashMap<String, String> = parse_pairs(body).into_iter().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {}
        Some("refresh_token") => {
            return if form.get("client_id").map(String::as_str)
                == Some("cid.apps.googleusercontent.com")
                && form.get("client_secret").map(String::as_str) == Some("csecret-123")
                && form.get("refresh_token").map(String::as_str) == Some("1//refresh-456")
            {
                Ok(())
            } else {
                Err(format!("bad refresh grant {form:?}"))
            };
        }
        other => return Err(format!("grant_type {other:?}")),
    }
    let jwt = form.get("assertion").ok_or("no assertion")?;
    let pieces: Vec<&str> = jwt.split('.').collect();
    if pieces.len() != 3 {
        return Err("not a JWT".into());
    }
    let signing_input = format!("{}.{}", pieces[0], pieces[1]);
    let signature = base64_decode(pieces[2]).ok_or("signature not base64url")?;
    if !verify_rs256(&expect.public_key, signing_input.as_bytes(), &signature) {
        return Err("signature does not verify".into());
    }
    let header: serde_json::Value =
        serde_json::from_slice(&base64_decode(pieces[0]).ok_or("header")?)
            .map_err(|e| e.to_string())?;
    let claims: serde_json::Value =
        serde_json::from_slice(&base64_decode(pieces[1]).ok_or("claims")?)
            .map_err(|e| e.to_string())?;
    let ok = header["alg"] == "RS256"
        && header["typ"] == "JWT"
        && header["kid"] == "key-id-1"
        && claims["iss"] == CLIENT_EMAIL
        && claims["aud"] == expect.token_uri.as_str()
        && claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
        && claims["exp"]
            .as_u64()
            .zip(claims["iat"].as_u64())
            .map(|(e, i)| e - i)
            == Some(3600);
    if ok {
        Ok(())
    } else {
        Err(format!("bad JWT header {header} or claims {claims}"))
    }
}

fn verify_rs256(public_key: &Path, data: &[u8], signature: &[u8]) -> bool {
    let dir = tempfile_dir();
    let sig = dir.join("sig");
    std::fs::write(&sig, signature).unwrap();
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public_key)
        .arg("-signature")
        .arg(&sig)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running openssl");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let ok = child.wait().unwrap().success();
    let _ = std::fs::remove_dir_all(&dir);
    ok
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reglogin-gcr-{}", common::random_hex(8)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A 2048-bit RSA key pair made with openssl: (private PKCS#8 PEM path, public PEM path).
fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub.pem"));
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let status = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .status()
        .unwrap();
    assert!(status.success());
    (private, public)
}

fn service_account_file(dir: &Path, private_key: &Path, token_uri: &str) -> PathBuf {
    let path = dir.join("key.json");
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "proj",
        "private_key_id": "key-id-1",
        "private_key": std::fs::read_to_string(private_key).unwrap(),
        "client_email": CLIENT_EMAIL,
        "client_id": "1234",
        "token_uri": token_uri,
    });
    std::fs::write(&path, serde_json::to_string_pretty(&key).unwrap()).unwrap();
    path
}

/// `docker-credential-gcr` in the sandbox's PATH, linked to the binary under test.
fn link_as(sandbox: &Sandbox, name: &str) -> PathBuf {
    let link = sandbox.bin_dir().join(name);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_reglogin"), &link).unwrap();
    }
    link
}

fn helper(
    sandbox: &Sandbox,
    name: &str,
    env: &[(&str, &str)],
    action: &str,
    input: &str,
) -> Output {
    let mut command = Command::new(link_as(sandbox, name));
    sandbox.apply_env(&mut command);
    command.arg(action);
    for (key, value) in env {
        command.env(key, value);
    }
    run_with_timeout(command, Some(input.as_bytes()), Duration::from_secs(30))
}

fn answer(output: &Output) -> serde_json::Value {
    assert_success(output);
    serde_json::from_str(&stdout_of(output)).unwrap()
}

struct Fixture {
    sandbox: Sandbox,
    google: Google,
    key_file: PathBuf,
    private_key: PathBuf,
}

fn fixture() -> Fixture {
    let sandbox = Sandbox::new();
    let (private_key, public_key) = key_pair(sandbox.root(), "sa");
    let google = Google::start(&public_key);
    let key_file = service_account_file(sandbox.root(), &private_key, &google.token_uri());
    Fixture {
        sandbox,
        google,
        key_file,
        private_key,
    }
}

#[test]
fn service_account_tokens_for_gcr_and_artifact_registry_then_from_the_cache() {
    let f = fixture();
    let key = f.key_file.to_str().unwrap();
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", key)];
    let first = answer(&helper(
        &f.sandbox,
        "docker-credential-gcr",
        &env,
        "get",
        "gcr.io\n",
    ));
    assert_eq!(
        first,
        serde_json::json!({"ServerURL": "gcr.io", "Username": "oauth2accesstoken", "Secret": "ya29.test-1"})
    );
    let seen = f.google.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].refused.is_none(), "{seen:?}");

    // A second get, for an Artifact Registry host: served from the cache, no request.
    let host = "us-central1-docker.pkg.dev";
    let second = answer(&helper(
        &f.sandbox,
        "docker-credential-gcr",
        &env,
        "get",
        host,
    ));
    assert_eq!(second["ServerURL"], host);
    assert_eq!(second["Secret"], "ya29.test-1");
    assert_eq!(f.google.seen().len(), 1);

    // The cache is private and holds the access token, never the key.
    use std::os::unix::fs::PermissionsExt;
    let cache = f.sandbox.home().join(".cache/reglogin/gcr/tokens.json");
    let meta = std::fs::metadata(&cache).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains("ya29.test-1")
            && !text.contains("PRIVATE KEY")
            && !text.contains(CLIENT_EMAIL),
        "{text}"
    );

    // Without the cache, each get asks the endpoint again.
    let env_off = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key),
        ("REGLOGIN_GCR_CACHE", "off"),
    ];
    let third = answer(&helper(
        &f.sandbox,
        "docker-credential-gcloud",
        &env_off,
        "get",
        "https://eu.gcr.io",
    ));
    assert_eq!(third["Secret"], "ya29.test-2");
    assert_eq!(third["ServerURL"], "https://eu.gcr.io");
    assert_eq!(f.google.seen().len(), 2);
}

#[test]
fn a_wrong_key_is_refused_and_the_error_names_the_key_file_without_secrets() {
    let f = fixture();
    // Signed with another key than the one the endpoint knows.
    let (other, _) = key_pair(f.sandbox.root(), "other");
    let wrong = f.sandbox.root().join("wrong");
    std::fs::create_dir(&wrong).unwrap();
    let key_file = service_account_file(&wrong, &other, &f.google.token_uri());
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", key_file.to_str().unwrap())];
    let output = helper(&f.sandbox, "docker-credential-gcr", &env, "get", "gcr.io");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout_of(&output), NOT_FOUND);
    let err = stderr_of(&output);
    assert!(err.contains(key_file.to_str().unwrap()), "{err}");
    assert!(err.contains("invalid_grant"), "{err}");
    let pem = std::fs::read_to_string(&other).unwrap();
    let body_line = pem.lines().nth(1).unwrap();
    assert!(!err.contains(body_line) && !err.contains("eyJ"), "{err}");
    let seen = f.google.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].refused.as_deref(),
        Some("signature does not verify")
    );

    // A key file whose private_key is not a key: named by file and field, before any request.
    let broken = f.sandbox.root().join("broken.json");
    std::fs::write(
        &broken,
        r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRET\n-----END PRIVATE KEY-----\n"}"#,
    )
    .unwrap();
    let env = [("GOOGLE_APPLICATION_CREDENTIALS", broken.to_str().unwrap())];
    let output = helper(&f.sandbox, "docker-credential-gcr", &env, "get", "gcr.io");
    let err = stderr_of(&output);
    assert!(
        err.contains(broken.to_str().unwrap()) && err.contains("`private_key`"),
        "{err}"
    );
    assert!(!err.contains("not-a-key-SECRET"), "{err}");
    assert_eq!(f.google.seen().len(), 1);
    let _ = f.private_key;
}

#[test]
fn authorized_user_credentials_from_gcloud_are_refreshed() {
    let f = fixture();
    let gcloud = f.sandbox.root().join("gcloud-config");
    std::fs::create_dir(&gcloud).unwrap();
    let adc = serde_json::json!({
        "type": "authorized_user",
        "client_id": "cid.apps.googleusercontent.com",
        "client_secret": "csecret-123",
        "refresh_token": "1//refresh-456",
        "token_uri": f.google.token_uri(),
    });
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        adc.to_string(),
    )
    .unwrap();
    let env = [("CLOUDSDK_CONFIG", gcloud.to_str().unwrap())];
    let output = helper(
        &f.sandbox,
        "docker-credential-gcr",
        &env,
        "get",
        "asia.gcr.io",
    );
    assert_eq!(answer(&output)["Secret"], "ya29.test-1");
    let seen = f.google.seen();
    assert_eq!((seen.len(), seen[0].refused.clone()), (1, None), "{seen:?}");
}

#[test]
fn the_metadata_server_answers_when_there_is_no_key_file() {
    let f = fixture();
    let env = [("GCE_METADATA_HOST", f.google.addr.as_str())];
    let output = helper(&f.sandbox, "docker-credential-gcr", &env, "get", "gcr.io");
    assert_eq!(answer(&output)["Secret"], "ya29.test-1");
    let seen = f.google.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].path,
        "/computeMetadata/v1/instance/service-accounts/default/token"
    );
    assert!(seen[0].refused.is_none(), "{seen:?}");

    // `gcr get-token` prints the same token, from the cache: no second request.
    let mut command = f.sandbox.cmd(&["gcr", "get-token"]);
    command.env("GCE_METADATA_HOST", &f.google.addr);
    let output = run_with_timeout(command, None, Duration::from_secs(30));
    assert_success(&output);
    assert_eq!(stdout_of(&output), "ya29.test-1\n");
    assert_eq!(f.google.seen().len(), 1);
}

#[test]
fn reglogin_get_reaches_our_helper_through_cred_helpers_and_the_reglogin_store() {
    let f = fixture();
    link_as(&f.sandbox, "docker-credential-gcr");
    f.sandbox
        .write_config(r#"{"credHelpers": {"gcr.io": "gcr"}, "credsStore": "reglogin"}"#);
    let key = f.key_file.to_str().unwrap();
    let mut command = f.sandbox.cmd(&["get", "gcr.io/project/image"]);
    command.env("GOOGLE_APPLICATION_CREDENTIALS", key);
    let output = run_with_timeout(command, None, Duration::from_secs(30));
    let got = answer(&output);
    assert_eq!(got["Username"], "oauth2accesstoken");
    assert_eq!(got["Secret"], "ya29.test-1");

    // `"credsStore": "reglogin"` answers Artifact Registry with a fresh token as well.
    let env = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key),
        ("REGLOGIN_HELPER_BACKEND", "file"),
        ("REGLOGIN_GCR_CACHE", "off"),
    ];
    let output = helper(
        &f.sandbox,
        "docker-credential-reglogin",
        &env,
        "get",
        "europe-west4-docker.pkg.dev",
    );
    let got = answer(&output);
    assert_eq!(got["Username"], "oauth2accesstoken");
    assert_eq!(got["Secret"], "ya29.test-2");
}

fn cred_helpers(config: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(config).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["credHelpers"].clone()
}

#[test]
fn gcr_configure_writes_what_gcloud_writes_and_is_idempotent() {
    let sandbox = Sandbox::new();
    sandbox.write_config(r#"{"auths": {}, "x-unknown": {"kept": true}}"#);
    assert_success(&sandbox.run(&["gcr", "configure"], None));
    assert_success(&sandbox.run(
        &[
            "gcr",
            "configure",
            "--registries",
            "us-central1-docker.pkg.dev",
        ],
        None,
    ));
    let ours = cred_helpers(&sandbox.config_path());
    let before = std::fs::read(sandbox.config_path()).unwrap();
    assert_success(&sandbox.run(&["gcr", "configure"], None));
    assert_success(&sandbox.run(
        &[
            "gcr",
            "configure",
            "--registries",
            "us-central1-docker.pkg.dev",
        ],
        None,
    ));
    assert_eq!(
        std::fs::read(sandbox.config_path()).unwrap(),
        before,
        "a second configure changes nothing"
    );
    let text = String::from_utf8(before).unwrap();
    assert!(text.contains("\"x-unknown\""), "{text}");

    let rejected = sandbox.run(&["gcr", "configure", "--registries", "ghcr.io"], None);
    common::assert_failure(&rejected, "not a Google registry host");

    // The reference: gcloud itself, offline, in a scratch config.
    let gcloud = common::require_program("gcloud");
    let scratch = sandbox.root().join("gcloud");
    std::fs::create_dir(&scratch).unwrap();
    for args in [
        &["auth", "configure-docker", "--quiet"][..],
        &[
            "auth",
            "configure-docker",
            "us-central1-docker.pkg.dev",
            "--quiet",
        ][..],
    ] {
        let mut command = Command::new(&gcloud);
        command
            .args(args)
            .env("CLOUDSDK_CONFIG", &scratch)
            .env("HOME", &scratch)
            .env("DOCKER_CONFIG", scratch.join("d"))
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1");
        assert_success(&run_with_timeout(command, None, Duration::from_secs(120)));
    }
    let theirs = cred_helpers(&scratch.join("d/config.json"));
    let sorted = |value: &serde_json::Value| -> std::collections::BTreeMap<String, String> {
        value
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect()
    };
    assert_eq!(sorted(&ours), sorted(&theirs));
}
