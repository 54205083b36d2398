//! `reglogin export`: the Kubernetes Secret, compared byte for byte with what the real `kubectl
//! create secret docker-registry --dry-run=client` prints, read back by kubectl, and fed from
//! every store (the file, a helper, the ECR helper against a stub of the ECR API).

mod common;
mod ecr_support;

use std::process::Command;

use base64::Engine as _;
use common::{Sandbox, TempDir, assert_failure, assert_success, require_program, stdout_of};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The real kubectl, offline: an empty kubeconfig and a HOME of its own.
struct Kubectl {
    dir: TempDir,
}

impl Kubectl {
    fn new() -> Kubectl {
        let dir = TempDir::new();
        std::fs::write(dir.join("kubeconfig"), "").unwrap();
        Kubectl { dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut command = Command::new(require_program("kubectl"));
        command
            .env_clear()
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("PATH", "/usr/bin:/bin")
            .args(args);
        command
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> String {
        let output = common::sandbox::run_with_timeout(
            self.cmd(args),
            stdin,
            std::time::Duration::from_secs(60),
        );
        assert_success(&output);
        stdout_of(&output)
    }
}

/// A config whose file store holds `(key, user, password)`.
fn config_with(entries: &[(&str, &str, &str)]) -> String {
    let auths: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(key, user, password)| {
            (
                key.to_string(),
                serde_json::json!({ "auth": b64(&format!("{user}:{password}")) }),
            )
        })
        .collect();
    serde_json::json!({ "auths": auths }).to_string()
}

#[test]
fn secret_is_byte_identical_to_kubectl_create_secret_docker_registry() {
    let kubectl = Kubectl::new();
    let long_token = "eyJwYXlsb2FkIjoi".repeat(200);
    // (what the user names, the key kubectl gets, user, password)
    let registries = [
        ("127.0.0.1:5000", "127.0.0.1:5000", "alice", "wonderland"),
        (
            "docker.io/library/alpine",
            "https://index.docker.io/v1/",
            "hub",
            "p<w>&\"x\\y\tz é ☃",
        ),
        ("ghcr.io", "ghcr.io", "bot", long_token.as_str()),
        (
            "old.example",
            "https://old.example/v1/",
            "old",
            "pw:with:colons",
        ),
    ];
    let sandbox = Sandbox::new();
    let entries: Vec<(&str, &str, &str)> = registries
        .iter()
        .map(|(_, key, user, password)| (*key, *user, *password))
        .collect();
    sandbox.write_config(&config_with(&entries));
    // Names go-yaml writes plain and names it quotes (booleans, numbers, dates as YAML 1.1
    // reads them), with and without a namespace.
    let names = [
        ("regcred", None),
        ("y", Some("prod")),
        ("123", None),
        ("2000-02-29", Some("n")),
        ("2001-02-29", None),
        ("0x1f", None),
        ("0x10000000000000000", None),
        ("1e-5", None),
        ("1.2.3", Some("team-a")),
        ("off", Some("1e5")),
    ];
    for (server, key, user, password) in registries {
        for (name, namespace) in names {
            for format in ["yaml", "json"] {
                let mut ours = vec!["export", "--kubernetes-secret", name, "-o", format];
                let mut theirs = vec!["create", "secret", "docker-registry", name];
                if let Some(namespace) = namespace {
                    ours.extend(["--namespace", namespace]);
                    theirs.extend(["--namespace", namespace]);
                }
                ours.push(server);
                let server_flag = format!("--docker-server={key}");
                let user_flag = format!("--docker-username={user}");
                let password_flag = format!("--docker-password={password}");
                theirs.extend([
                    server_flag.as_str(),
                    &user_flag,
                    &password_flag,
                    "--dry-run=client",
                    "-o",
                    format,
                ]);
                let output = sandbox.run(&ours, None);
                assert_success(&output);
                assert_eq!(
                    stdout_of(&output),
                    kubectl.run(&theirs, None),
                    "{server} as {name:?} in {namespace:?}, {format}"
                );
            }
        }
    }
}

/// kubectl parses what we print (offline: `label --local` reads the object without a server),
/// and the data it finds is the bare document `--format dockerconfigjson` prints.
#[test]
fn kubectl_reads_the_secret_back() {
    let kubectl = Kubectl::new();
    let sandbox = Sandbox::new();
    sandbox.write_config(&config_with(&[
        ("127.0.0.1:5000", "alice", "wonderland"),
        ("ghcr.io", "bot", "ghp_token"),
    ]));
    let servers = ["ghcr.io/o/app:1", "127.0.0.1:5000"];
    let bare = sandbox.run(
        &[
            "export",
            "--format",
            "dockerconfigjson",
            servers[0],
            servers[1],
        ],
        None,
    );
    assert_success(&bare);
    let document: serde_json::Value = serde_json::from_slice(&bare.stdout).unwrap();
    assert_eq!(
        document,
        serde_json::json!({"auths": {
            "127.0.0.1:5000": {"username": "alice", "password": "wonderland", "auth": b64("alice:wonderland")},
            "ghcr.io": {"username": "bot", "password": "ghp_token", "auth": b64("bot:ghp_token")},
        }})
    );
    for format in ["yaml", "json"] {
        let secret = sandbox.run(
            &[
                "export",
                "--kubernetes-secret",
                "pull",
                "-n",
                "ci",
                "-o",
                format,
                servers[0],
                servers[1],
            ],
            None,
        );
        assert_success(&secret);
        let parsed = kubectl.run(
            &["label", "--local", "-f", "-", "checked=yes", "-o", "json"],
            Some(&secret.stdout),
        );
        let parsed: serde_json::Value = serde_json::from_str(&parsed).unwrap();
        assert_eq!(parsed["kind"], "Secret");
        assert_eq!(parsed["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(parsed["metadata"]["name"], "pull");
        assert_eq!(parsed["metadata"]["namespace"], "ci");
        let data = base64::engine::general_purpose::STANDARD
            .decode(parsed["data"][".dockerconfigjson"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            data,
            stdout_of(&bare).trim_end().as_bytes(),
            "{format}: kubectl's data is our bare document"
        );
    }
}

/// Registries from the file and from a `credHelpers` helper in one Secret; two names of one
/// registry give one entry; keys sorted as Go sorts them.
#[test]
fn registries_come_from_every_store_once() {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        r#"{"auths": {"zz.example": {"auth": "eno6enpwdw=="}, "127.0.0.1:5001": {"auth": "YWxpY2U6d29uZGVybGFuZA=="}},
            "credHelpers": {"helped.example": "fixed"}}"#,
    );
    sandbox.install_script(
        "docker-credential-fixed",
        "#!/bin/sh\nread -r key\n[ \"$1\" = get ] && printf '{\"ServerURL\":\"%s\",\"Username\":\"carol\",\"Secret\":\"c-pw\"}' \"$key\"\n",
    );
    let output = sandbox.run(
        &[
            "export",
            "-o",
            "dockerconfigjson",
            "zz.example",
            "helped.example/app",
            "127.0.0.1:5001/team/app:1",
            "127.0.0.1:5001",
        ],
        None,
    );
    assert_success(&output);
    assert_eq!(
        stdout_of(&output),
        format!(
            "{{\"auths\":{{\"127.0.0.1:5001\":{{\"username\":\"alice\",\"password\":\"wonderland\",\"auth\":\"{}\"}},\
             \"helped.example\":{{\"username\":\"carol\",\"password\":\"c-pw\",\"auth\":\"{}\"}},\
             \"zz.example\":{{\"username\":\"zz\",\"password\":\"zzpw\",\"auth\":\"{}\"}}}}}}\n",
            b64("alice:wonderland"),
            b64("carol:c-pw"),
            b64("zz:zzpw")
        )
    );
}

/// An ECR host routed to `ecr-login` (reglogin linked under that name, asking a stub of the
/// ECR API) exports the token ECR just issued.
#[test]
fn ecr_tokens_come_through_the_ecr_login_helper() {
    let stub = ecr_support::ecr_stub();
    let mut sandbox = ecr_support::Sandbox::with_keys("export-ecr");
    sandbox.set("AWS_ENDPOINT_URL", &stub.url());
    let host = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
    sandbox.write(
        ".docker/config.json",
        &format!(r#"{{"credHelpers": {{"{host}": "ecr-login"}}}}"#),
    );
    let out = ecr_support::success(
        &sandbox.reglogin(&["export", "-o", "dockerconfigjson", host]),
        "export",
    );
    let password = "stub-210987654321-eu-west-1";
    assert_eq!(
        out,
        format!(
            "{{\"auths\":{{\"{host}\":{{\"username\":\"AWS\",\"password\":\"{password}\",\"auth\":\"{}\"}}}}}}\n",
            b64(&format!("AWS:{password}"))
        )
    );
    assert_eq!(stub.count(), 1, "one GetAuthorizationToken");
}

#[test]
fn errors_name_the_server_and_print_nothing() {
    let sandbox = Sandbox::new();
    sandbox.write_config(
        r#"{"auths": {"ok.example": {"auth": "dTpw"}, "tok.example": {"auth": "Ym9iOg==", "identitytoken": "rt-secret"},
            "nopw.example": {"auth": "bm9wdzo="}}}"#,
    );
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "export",
                "--kubernetes-secret",
                "s",
                "ok.example",
                "missing.example",
            ],
            "no credentials for missing.example",
        ),
        (
            &["export", "--kubernetes-secret", "s", "tok.example"],
            "the credentials for tok.example are an identity token",
        ),
        (
            &["export", "-o", "dockerconfigjson", "nopw.example"],
            "the credentials for nopw.example have no password",
        ),
        (
            &["export", "ok.example"],
            "--kubernetes-secret NAME is required",
        ),
        (
            &["export", "--kubernetes-secret", "Not_A_Name", "ok.example"],
            "a Secret name must be a DNS subdomain",
        ),
        (
            &[
                "export",
                "--kubernetes-secret",
                "s",
                "-n",
                "a.b",
                "ok.example",
            ],
            "a namespace must be a DNS label",
        ),
    ];
    for (args, message) in cases {
        let output = sandbox.run(args, None);
        assert_failure(&output, message);
        assert!(output.stdout.is_empty(), "{args:?}: {}", stdout_of(&output));
        assert!(
            !common::stderr_of(&output).contains("rt-secret"),
            "{args:?}"
        );
    }
    // Every missing server is named, not only the first.
    let output = sandbox.run(
        &[
            "export",
            "-o",
            "dockerconfigjson",
            "a.example",
            "ok.example",
            "b.example",
        ],
        None,
    );
    assert_failure(&output, "no credentials for a.example");
    assert_failure(&output, "no credentials for b.example");
    assert!(output.stdout.is_empty());
}
