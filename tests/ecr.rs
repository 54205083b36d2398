//! Amazon ECR end to end: the binary against moto_server (started here), the real AWS CLI as
//! the reference for `get-login-password`, a counting stub for the cache and ECR Public, and
//! real AWS config files in a temp HOME for the credential chain.

mod ecr_support;

use ecr_support::*;

const MOTO_PASSWORD: &str = "123456789012-auth-token";
const MOTO_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn auths_entry(sandbox: &Sandbox, key: &str) -> serde_json::Value {
    let path = sandbox.config_dir().join("config.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let config: serde_json::Value = serde_json::from_str(&text).unwrap();
    config["auths"][key].clone()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[test]
fn get_login_password_prints_the_same_bytes_as_the_aws_cli() {
    let moto = Moto::shared();
    let sandbox = Sandbox::with_keys("glp");
    let args = [
        "ecr",
        "get-login-password",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &moto.url(),
    ];
    let ours = sandbox.reglogin(&args);
    let theirs = sandbox.aws(&args);
    success(&theirs, "aws ecr get-login-password");
    success(&ours, "reglogin ecr get-login-password");
    assert_eq!(text(&ours.stdout), text(&theirs.stdout));
    assert_eq!(ours.stdout, format!("{MOTO_PASSWORD}\n").into_bytes());
    assert!(ours.stderr.is_empty(), "{}", text(&ours.stderr));

    // The endpoint and region from the environment, as the AWS CLI takes them.
    let mut sandbox = Sandbox::with_keys("glp-env");
    sandbox
        .set("AWS_ENDPOINT_URL", &moto.url())
        .set("AWS_DEFAULT_REGION", "eu-west-1");
    let ours = success(
        &sandbox.reglogin(&["ecr", "get-login-password"]),
        "reglogin with env",
    );
    let theirs = success(&sandbox.aws(&["ecr", "get-login-password"]), "aws with env");
    assert_eq!(ours, theirs);
}

#[test]
fn assumed_role_profiles_match_the_aws_cli() {
    let moto = Moto::shared();
    let mut sandbox = Sandbox::new("role");
    sandbox.write(
        ".aws/credentials",
        "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base-secret\n",
    );
    sandbox.write(
        ".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\nsource_profile = base\nregion = us-east-1\n",
    );
    sandbox.set("AWS_ENDPOINT_URL", &moto.url());
    let args = ["ecr", "get-login-password", "--profile", "deploy"];
    let theirs = success(&sandbox.aws(&args), "aws with an assumed role");
    let ours = success(&sandbox.reglogin(&args), "reglogin with an assumed role");
    assert_eq!(ours, theirs);
    assert_eq!(ours, format!("{MOTO_PASSWORD}\n"));
}

#[test]
fn login_stores_the_token_under_the_registry_host() {
    let moto = Moto::shared();
    let sandbox = Sandbox::with_keys("login");
    let config = sandbox.config_dir();
    let out = sandbox.reglogin(&[
        "ecr",
        "login",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &moto.url(),
        "--no-verify",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(success(&out, "ecr login"), "Login Succeeded\n");
    assert!(!text(&out.stderr).contains(DUMMY_SECRET));
    assert_eq!(
        auths_entry(&sandbox, MOTO_HOST)["auth"],
        basic("AWS", MOTO_PASSWORD)
    );

    // Several registries at once, each under its own host.
    let out = sandbox.reglogin(&[
        "ecr",
        "login",
        "--region",
        "eu-west-1",
        "--endpoint-url",
        &moto.url(),
        "--no-verify",
        "--config",
        config.to_str().unwrap(),
        "--registry-ids",
        "111122223333",
        "444455556666",
    ]);
    assert_eq!(
        success(&out, "ecr login --registry-ids"),
        "Login Succeeded\nLogin Succeeded\n"
    );
    for account in ["111122223333", "444455556666"] {
        let host = format!("{account}.dkr.ecr.eu-west-1.amazonaws.com");
        assert_eq!(
            auths_entry(&sandbox, &host)["auth"],
            basic("AWS", &format!("{account}-auth-token"))
        );
    }
    let err = failure(
        &sandbox.reglogin(&[
            "ecr",
            "login",
            "--region",
            "us-east-1",
            "--registry-ids",
            "12",
            "--no-verify",
        ]),
        "a bad registry id",
    );
    assert!(err.contains("12-digit"), "{err}");
}

#[test]
fn helper_get_answers_for_ecr_hosts_through_moto() {
    let moto = Moto::shared();
    let mut sandbox = Sandbox::with_keys("helper-moto");
    sandbox.set("AWS_ENDPOINT_URL", &moto.url());
    let out = sandbox.ecr_helper("get", MOTO_HOST);
    assert_eq!(
        success(&out, "helper get"),
        format!(
            "{{\"ServerURL\":\"{MOTO_HOST}\",\"Username\":\"AWS\",\"Secret\":\"{MOTO_PASSWORD}\"}}\n"
        )
    );
    // moto's tokens expired in 2015: a correct cache keeps none of them.
    let cache = sandbox.home().join(".cache/reglogin/ecr/tokens.json");
    if let Ok(text) = std::fs::read_to_string(&cache) {
        assert!(!text.contains(MOTO_HOST), "{text}");
    }
    // The same through the general `ecr` spelling with https:// and a path, as Docker may pass it.
    let url = format!("https://{MOTO_HOST}/v2/");
    let out = success(&sandbox.ecr_helper("get", &url), "helper get with a URL");
    assert!(out.contains(&format!("\"ServerURL\":\"{url}\"")), "{out}");
}

#[test]
fn helper_caches_tokens_and_the_second_get_asks_nobody() {
    let stub = ecr_stub();
    let mut sandbox = Sandbox::with_keys("cache");
    sandbox.set("AWS_ENDPOINT_URL", &stub.url());
    let host = "123456789012.dkr.ecr.ap-south-1.amazonaws.com";
    let want = format!(
        "{{\"ServerURL\":\"{host}\",\"Username\":\"AWS\",\"Secret\":\"stub-123456789012-ap-south-1\"}}\n"
    );
    assert_eq!(success(&sandbox.ecr_helper("get", host), "first get"), want);
    assert_eq!(stub.count(), 1);
    let request = stub.last();
    assert_eq!(request.body, r#"{"registryIds":["123456789012"]}"#);
    assert_eq!(
        request.credential_scope(),
        (DUMMY_KEY_ID.into(), "ap-south-1".into(), "ecr".into())
    );
    assert_eq!(
        success(&sandbox.ecr_helper("get", host), "second get"),
        want
    );
    assert_eq!(stub.count(), 1, "the second get must come from the cache");

    let cache = sandbox.home().join(".cache/reglogin/ecr/tokens.json");
    let meta = std::fs::metadata(&cache).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        !text.contains(DUMMY_SECRET) && !text.contains(DUMMY_KEY_ID),
        "{text}"
    );

    // Another identity does not share the entry; switching the cache off asks every time.
    sandbox.set("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE");
    success(&sandbox.ecr_helper("get", host), "other identity");
    assert_eq!(stub.count(), 2);
    sandbox.set("REGLOGIN_ECR_CACHE", "off");
    success(&sandbox.ecr_helper("get", host), "cache off");
    success(&sandbox.ecr_helper("get", host), "cache off again");
    assert_eq!(stub.count(), 4);

    // list shows the cached registry.
    sandbox
        .unset("REGLOGIN_ECR_CACHE")
        .set("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID);
    let listed = success(&sandbox.ecr_helper("list", "unused"), "list");
    assert!(
        listed.contains(&format!("\"https://{host}\":\"AWS\"")),
        "{listed}"
    );
}

#[test]
fn ecr_public_login_and_helper() {
    let stub = ecr_stub();
    let mut sandbox = Sandbox::with_keys("public");
    let config = sandbox.config_dir();
    let out = sandbox.reglogin(&[
        "ecr",
        "login",
        "--public",
        "--endpoint-url",
        &stub.url(),
        "--no-verify",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(success(&out, "ecr login --public"), "Login Succeeded\n");
    assert_eq!(
        auths_entry(&sandbox, "public.ecr.aws")["auth"],
        basic("AWS", "stub-public")
    );
    let request = stub.last();
    assert_eq!(
        request.header("x-amz-target"),
        Some("SpencerFrontendService.GetAuthorizationToken")
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert_eq!(
        request.credential_scope(),
        (DUMMY_KEY_ID.into(), "us-east-1".into(), "ecr-public".into())
    );
    assert_eq!(request.body, "{}");

    sandbox.set("AWS_ENDPOINT_URL_ECR_PUBLIC", &stub.url());
    let out = success(
        &sandbox.ecr_helper("get", "public.ecr.aws"),
        "helper get public",
    );
    assert_eq!(
        out,
        "{\"ServerURL\":\"public.ecr.aws\",\"Username\":\"AWS\",\"Secret\":\"stub-public\"}\n"
    );
    let out = success(
        &sandbox.reglogin(&[
            "ecr",
            "get-login-password",
            "--public",
            "--endpoint-url",
            &stub.url(),
        ]),
        "get-login-password --public",
    );
    assert_eq!(out, "stub-public\n");
}

#[test]
fn credential_chain_follows_the_aws_cli() {
    let stub = ecr_stub();
    let mut sandbox = Sandbox::new("chain");
    sandbox.write(
        ".aws/credentials",
        "[default]\naws_access_key_id = AKIDFILEDEFAULT\naws_secret_access_key = s1\n\
         [dev]\naws_access_key_id = AKIDFILEDEV\naws_secret_access_key = s2\n",
    );
    sandbox.write(
        ".aws/config",
        "[default]\nregion = eu-central-1\n\
         [profile dev]\nregion = us-west-2\n\
         [profile proc]\nregion = sa-east-1\ncredential_process = sh -c 'echo \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AKIDPROCESS\\\", \\\"SecretAccessKey\\\": \\\"sp\\\", \\\"SessionToken\\\": \\\"tp\\\"}\"'\n\
         [profile broken]\ncredential_process = sh -c 'echo cannot-log-in >&2; exit 7'\n",
    );
    sandbox.set("AWS_ENDPOINT_URL", &stub.url());
    let scope = |sandbox: &Sandbox, args: &[&str]| {
        let mut full = vec!["ecr", "get-login-password"];
        full.extend_from_slice(args);
        success(
            &sandbox.reglogin(&full),
            &format!("get-login-password {args:?}"),
        );
        let request = stub.last();
        let (key, region, _) = request.credential_scope();
        (
            key,
            region,
            request.header("x-amz-security-token").map(str::to_owned),
        )
    };
    assert_eq!(
        scope(&sandbox, &[]),
        ("AKIDFILEDEFAULT".into(), "eu-central-1".into(), None)
    );
    assert_eq!(
        scope(&sandbox, &["--profile", "dev"]),
        ("AKIDFILEDEV".into(), "us-west-2".into(), None)
    );
    assert_eq!(
        scope(&sandbox, &["--profile", "proc"]),
        ("AKIDPROCESS".into(), "sa-east-1".into(), Some("tp".into()))
    );
    // Environment keys beat the files, and AWS_PROFILE does not change that; --profile does.
    sandbox
        .set("AWS_ACCESS_KEY_ID", "AKIDENV")
        .set("AWS_SECRET_ACCESS_KEY", "se")
        .set("AWS_PROFILE", "dev");
    assert_eq!(
        scope(&sandbox, &[]),
        ("AKIDENV".into(), "us-west-2".into(), None)
    );
    assert_eq!(scope(&sandbox, &["--profile", "proc"]).0, "AKIDPROCESS");
    sandbox
        .set("AWS_SESSION_TOKEN", "env-token")
        .set("AWS_REGION", "ca-central-1");
    assert_eq!(
        scope(&sandbox, &["--region", "me-south-1"]),
        (
            "AKIDENV".into(),
            "me-south-1".into(),
            Some("env-token".into())
        )
    );
    // Another pair of files.
    sandbox
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY")
        .unset("AWS_SESSION_TOKEN")
        .unset("AWS_PROFILE");
    let other_credentials = sandbox.write(
        "elsewhere/creds",
        "[default]\naws_access_key_id = AKIDELSEWHERE\naws_secret_access_key = s\n",
    );
    sandbox.set(
        "AWS_SHARED_CREDENTIALS_FILE",
        other_credentials.to_str().unwrap(),
    );
    assert_eq!(scope(&sandbox, &[]).0, "AKIDELSEWHERE");

    let err = failure(
        &sandbox.reglogin(&["ecr", "get-login-password", "--profile", "broken"]),
        "broken process",
    );
    assert!(
        err.contains("credential_process") && err.contains("cannot-log-in") && err.contains("7"),
        "{err}"
    );
    let err = failure(
        &sandbox.reglogin(&["ecr", "get-login-password", "--profile", "missing"]),
        "missing profile",
    );
    assert!(err.contains("`missing` could not be found"), "{err}");
}

#[test]
fn errors_say_what_to_do() {
    let sandbox = Sandbox::new("errors");
    let err = failure(
        &sandbox.reglogin(&["ecr", "get-login-password", "--region", "us-east-1"]),
        "no credentials",
    );
    assert!(
        err.contains("no AWS credentials found") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    assert!(
        err.contains(
            &sandbox
                .home()
                .join(".aws/credentials")
                .display()
                .to_string()
        ),
        "{err}"
    );

    let sandbox = Sandbox::with_keys("errors-region");
    let err = failure(
        &sandbox.reglogin(&["ecr", "get-login-password"]),
        "no region",
    );
    assert!(
        err.contains("no AWS region") && err.contains("--region"),
        "{err}"
    );
    let err = failure(
        &sandbox.reglogin(&["ecr", "get-login-password", "--region", "us east"]),
        "bad region",
    );
    assert!(err.contains("not an AWS region"), "{err}");

    // An AWS error answer becomes the service's reason plus a hint; the secret never shows.
    let stub = Stub::start(|_| {
        (400, r#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#.into())
    });
    let err = failure(
        &sandbox.reglogin(&[
            "ecr",
            "get-login-password",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &stub.url(),
        ]),
        "rejected keys",
    );
    assert!(
        err.contains("UnrecognizedClientException") && err.contains("access key ID is not known"),
        "{err}"
    );
    assert!(!err.contains(DUMMY_SECRET), "{err}");
    let stub = Stub::start(|_| {
        (400, r#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::1:user/x is not authorized"}"#.into())
    });
    let err = failure(
        &sandbox.reglogin(&[
            "ecr",
            "get-login-password",
            "--region",
            "us-east-1",
            "--endpoint-url",
            &stub.url(),
        ]),
        "access denied",
    );
    assert!(
        err.contains("not authorized") && err.contains("IAM"),
        "{err}"
    );
}

#[test]
fn helper_protocol_edges_match_the_go_helper() {
    let go_helper = require_program(
        "docker-credential-ecr-login",
        "apt-get install amazon-ecr-credential-helper",
    );
    let sandbox = Sandbox::new("protocol");
    let creds = r#"{"ServerURL":"123456789012.dkr.ecr.us-east-1.amazonaws.com","Username":"AWS","Secret":"x"}"#;
    let cases: [(&[&str], &str); 6] = [
        (&["get"], "ghcr.io"),
        (&["get"], "https://index.docker.io/v1/"),
        (&["get"], ""),
        (&["store"], creds),
        (&["erase"], "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        (&[], ""),
    ];
    let ours = sandbox.bin.join("docker-credential-ecr-login");
    for (args, input) in cases {
        let theirs = sandbox.run_program(&go_helper, args, input);
        let mine = sandbox.run_program(&ours, args, input);
        // The usage line names the program as invoked: compare it without the path.
        let theirs_out = text(&theirs.stdout).replace(go_helper.to_str().unwrap(), "PROGRAM");
        let mine_out = text(&mine.stdout).replace(ours.to_str().unwrap(), "PROGRAM");
        assert_eq!(
            (mine_out, mine.status.code()),
            (theirs_out, theirs.status.code()),
            "{args:?} with {input:?}"
        );
    }
    // With no AWS credentials at all both answer "not found" for an ECR host; reglogin also says why.
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    let theirs = sandbox.run_program(&go_helper, &["get"], host);
    let mine = sandbox.run_program(&ours, &["get"], host);
    assert_eq!(
        (text(&mine.stdout), mine.status.code()),
        (text(&theirs.stdout), theirs.status.code())
    );
    assert!(
        text(&mine.stderr).contains("no AWS credentials found"),
        "{}",
        text(&mine.stderr)
    );
}

/// A stub that is both the ECR API (its proxy endpoint pointing at itself) and the registry,
/// which accepts only `AWS` with the token's password.
fn ecr_and_registry_stub(registry_password: &'static str) -> Stub {
    let port = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let port_in_handler = std::sync::Arc::clone(&port);
    let stub = Stub::start(move |request| {
        if request.path.starts_with("/v2/") {
            let want = format!("Basic {}", basic("AWS", registry_password));
            return if request.header("authorization") == Some(want.as_str()) {
                (200, "{}".into())
            } else {
                (
                    401,
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                        .into(),
                )
            };
        }
        let endpoint = format!("http://127.0.0.1:{}", port_in_handler.get().unwrap());
        let answer = serde_json::json!({"authorizationData": [{
            "authorizationToken": ecr_token("token-password"),
            "expiresAt": unix_now() + 3600,
            "proxyEndpoint": endpoint,
        }]});
        (200, answer.to_string())
    });
    port.set(stub.port).unwrap();
    stub
}

#[test]
fn login_verifies_the_token_against_the_registry() {
    let stub = ecr_and_registry_stub("token-password");
    let sandbox = Sandbox::with_keys("verify");
    let config = sandbox.config_dir();
    let args = [
        "ecr",
        "login",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &stub.url(),
        "--config",
        config.to_str().unwrap(),
    ];
    assert_eq!(
        success(&sandbox.reglogin(&args), "verified ecr login"),
        "Login Succeeded\n"
    );
    let key = format!("127.0.0.1:{}", stub.port);
    assert_eq!(
        auths_entry(&sandbox, &key)["auth"],
        basic("AWS", "token-password")
    );
    let registry_requests = stub
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path.starts_with("/v2/"))
        .count();
    assert!(registry_requests >= 1, "the registry was never asked");

    // A registry that refuses the token: nothing is stored.
    let refusing = ecr_and_registry_stub("another-password");
    let sandbox = Sandbox::with_keys("verify-refused");
    let config = sandbox.config_dir();
    let args = [
        "ecr",
        "login",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &refusing.url(),
        "--config",
        config.to_str().unwrap(),
    ];
    let err = failure(&sandbox.reglogin(&args), "refused ecr login");
    assert!(
        err.contains(&format!("127.0.0.1:{}", refusing.port)),
        "{err}"
    );
    assert!(
        !config.join("config.json").exists()
            || auths_entry(&sandbox, &format!("127.0.0.1:{}", refusing.port)).is_null()
    );
}

/// moto checks SigV4 signatures once its free requests are used up: three for the set-up
/// (a user, its access key, a policy allowing ecr:GetAuthorizationToken).
#[test]
fn moto_accepts_the_signature_and_rejects_a_wrong_secret() {
    let moto = Moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let setup = |form: &[(&str, &str)]| -> String {
        let mut full = form.to_vec();
        full.push(("Version", "2010-05-08"));
        let mut response = ureq::post(&moto.url())
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send_form(full)
            .expect("moto IAM set-up request");
        response.body_mut().read_to_string().unwrap()
    };
    let between = |xml: &str, tag: &str| -> String {
        let start = xml.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
        xml[start..start + xml[start..].find('<').unwrap()].to_owned()
    };
    setup(&[("Action", "CreateUser"), ("UserName", "ci")]);
    let key = setup(&[("Action", "CreateAccessKey"), ("UserName", "ci")]);
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#;
    setup(&[
        ("Action", "PutUserPolicy"),
        ("UserName", "ci"),
        ("PolicyName", "ecr"),
        ("PolicyDocument", policy),
    ]);

    let mut sandbox = Sandbox::new("sigv4");
    sandbox
        .set("AWS_ACCESS_KEY_ID", &between(&key, "AccessKeyId"))
        .set("AWS_SECRET_ACCESS_KEY", &between(&key, "SecretAccessKey"));
    let args = [
        "ecr",
        "get-login-password",
        "--region",
        "us-east-1",
        "--endpoint-url",
        &moto.url(),
    ];
    assert_eq!(
        success(&sandbox.reglogin(&args), "signed by the right key"),
        format!("{MOTO_PASSWORD}\n")
    );

    sandbox.set("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET);
    let err = failure(&sandbox.reglogin(&args), "signed by a wrong secret");
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("secret access key does not match"),
        "{err}"
    );
    assert!(!err.contains(DUMMY_SECRET), "{err}");
}

/// One stub for container credentials, instance metadata (IMDSv2) and the ECR API.
fn metadata_stub() -> Stub {
    let ecr = ecr_stub();
    Stub::start(move |request| {
        let creds = |key: &str| {
            serde_json::json!({
                "Code": "Success", "AccessKeyId": key, "SecretAccessKey": "meta-secret",
                "Token": format!("{key}-token"), "Expiration": "2999-01-01T00:00:00Z",
            })
            .to_string()
        };
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/container-creds") => (200, creds("AKIDCONTAINER")),
            ("PUT", "/latest/api/token") => (200, "imds-session".into()),
            ("GET", "/latest/meta-data/iam/security-credentials/") => (200, "ec2-role\n".into()),
            ("GET", "/latest/meta-data/iam/security-credentials/ec2-role") => {
                (200, creds("AKIDINSTANCE"))
            }
            ("POST", "/") => {
                // Forward the ECR call to the ECR stub's handler by asking it over HTTP.
                let mut forwarded = ureq::post(&ecr.url());
                for (name, value) in &request.headers {
                    if !name.eq_ignore_ascii_case("host")
                        && !name.eq_ignore_ascii_case("content-length")
                    {
                        forwarded = forwarded.header(name, value);
                    }
                }
                let mut answer = forwarded.send(request.body.as_bytes()).unwrap();
                (200, answer.body_mut().read_to_string().unwrap())
            }
            _ => (404, "not here".into()),
        }
    })
}

#[test]
fn container_and_instance_metadata_credentials() {
    let stub = metadata_stub();
    let mut sandbox = Sandbox::new("metadata");
    sandbox
        .set("AWS_ENDPOINT_URL", &stub.url())
        .set(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{}/container-creds", stub.url()),
        )
        .set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth");
    let args = ["ecr", "get-login-password", "--region", "us-east-1"];
    success(&sandbox.reglogin(&args), "container credentials");
    let requests = stub.requests.lock().unwrap().clone();
    let asked = requests
        .iter()
        .find(|r| r.path == "/container-creds")
        .expect("the container endpoint was asked");
    assert_eq!(asked.header("authorization"), Some("container-auth"));
    let signed = requests.iter().rfind(|r| r.path == "/").unwrap();
    assert_eq!(signed.credential_scope().0, "AKIDCONTAINER");
    assert_eq!(
        signed.header("x-amz-security-token"),
        Some("AKIDCONTAINER-token")
    );

    sandbox
        .unset("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .set("AWS_EC2_METADATA_DISABLED", "false")
        .set("AWS_EC2_METADATA_SERVICE_ENDPOINT", &stub.url());
    success(&sandbox.reglogin(&args), "instance metadata credentials");
    let requests = stub.requests.lock().unwrap().clone();
    let role = requests
        .iter()
        .rfind(|r| r.path.ends_with("/ec2-role"))
        .expect("the role was asked");
    assert_eq!(
        role.header("x-aws-ec2-metadata-token"),
        Some("imds-session")
    );
    let signed = requests.iter().rfind(|r| r.path == "/").unwrap();
    assert_eq!(signed.credential_scope().0, "AKIDINSTANCE");

    // Container credentials from anywhere but loopback or HTTPS are refused.
    sandbox.set(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://creds.example/x",
    );
    let err = failure(
        &sandbox.reglogin(&args),
        "a remote plain-HTTP container endpoint",
    );
    assert!(err.contains("neither HTTPS nor a loopback"), "{err}");
}

/// The Go helper (Debian's docker-credential-ecr-login) and reglogin's, both reaching moto
/// through the same intercepting HTTPS proxy with the same CA bundle, give the same answers.
#[test]
fn helper_get_matches_the_go_helper_against_moto() {
    let go_helper = require_program(
        "docker-credential-ecr-login",
        "apt-get install amazon-ecr-credential-helper",
    );
    let moto = Moto::shared();
    let proxy = ecr_support::mitm::MitmProxy::start(
        moto.url(),
        &[
            "api.ecr.us-east-1.amazonaws.com",
            "api.ecr.eu-west-1.amazonaws.com",
        ],
    );
    let mut sandbox = Sandbox::with_keys("go-diff");
    sandbox
        .set("HTTPS_PROXY", &proxy.url())
        .set("AWS_CA_BUNDLE", proxy.ca_pem.to_str().unwrap())
        .set("REGLOGIN_ECR_CACHE", "off")
        .set("AWS_ECR_DISABLE_CACHE", "1");
    let ours = sandbox.bin.join("docker-credential-ecr-login");
    for host in [
        MOTO_HOST,
        "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
    ] {
        let theirs = sandbox.run_program(&go_helper, &["get"], host);
        let mine = sandbox.run_program(&ours, &["get"], host);
        assert_eq!(
            (text(&mine.stdout), mine.status.code()),
            (text(&theirs.stdout), theirs.status.code()),
            "get {host}\nGo helper stderr: {}\nreglogin stderr: {}",
            text(&theirs.stderr),
            text(&mine.stderr)
        );
        assert!(
            text(&mine.stdout).contains("-auth-token"),
            "{}",
            text(&mine.stdout)
        );
    }
    let connects = proxy.connects.lock().unwrap().clone();
    assert!(
        connects.iter().all(|target| target.starts_with("api.ecr.")),
        "{connects:?}"
    );
    assert_eq!(connects.len(), 6, "{connects:?}");
}

/// Not a check but the figures of the closing note: run with
/// `cargo test --release --test ecr timing_report -- --ignored --nocapture` (needs hyperfine).
/// reglogin against the AWS CLI on moto, and the two helpers' cached `get` against a stub whose
/// tokens are valid for 12 hours (moto's expired in 2015, so nothing would cache them).
#[test]
#[ignore]
fn timing_report() {
    let hyperfine = require_program("hyperfine", "apt-get install hyperfine");
    let aws = require_program("aws", "pip install awscli");
    let go_helper = require_program(
        "docker-credential-ecr-login",
        "apt-get install amazon-ecr-credential-helper",
    );
    let moto = Moto::shared();
    let stub = ecr_stub();
    let proxy =
        ecr_support::mitm::MitmProxy::start(stub.url(), &["api.ecr.us-east-1.amazonaws.com"]);
    let mut sandbox = Sandbox::with_keys("timing");
    sandbox
        .set("HTTPS_PROXY", &proxy.url())
        .set("AWS_CA_BUNDLE", proxy.ca_pem.to_str().unwrap());
    let ours = sandbox.bin.join("docker-credential-ecr-login");
    // Prime both caches.
    success(
        &sandbox.run_program(&go_helper, &["get"], MOTO_HOST),
        "Go helper get",
    );
    success(
        &sandbox.run_program(&ours, &["get"], MOTO_HOST),
        "reglogin helper get",
    );
    let before = stub.count();

    let glp = format!(
        "ecr get-login-password --region us-east-1 --endpoint-url {}",
        moto.url()
    );
    let commands = [
        format!("{BIN} {glp}"),
        format!("{} {glp}", aws.display()),
        format!("printf %s {MOTO_HOST} | {} get", ours.display()),
        format!("printf %s {MOTO_HOST} | {} get", go_helper.display()),
    ];
    let report = sandbox.home().join("timing.md");
    let mut command = std::process::Command::new(hyperfine);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") {
            command.env_remove(key);
        }
    }
    command
        .env("HOME", sandbox.home())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(sandbox.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "--warmup",
            "2",
            "--runs",
            "20",
            "--style",
            "basic",
            "--export-markdown",
        ])
        .arg(&report)
        .args(&commands);
    let out = command.output().unwrap();
    println!("{}", text(&out.stdout));
    assert!(out.status.success(), "{}", text(&out.stderr));
    println!("{}", std::fs::read_to_string(&report).unwrap());
    assert_eq!(
        stub.count(),
        before,
        "the cached gets must not reach the API"
    );
}

#[test]
fn web_identity_tokens_match_the_aws_cli() {
    let moto = Moto::shared();
    let mut sandbox = Sandbox::new("web-identity");
    let token = sandbox.write("token.jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJjaSJ9.\n");
    sandbox
        .set("AWS_ENDPOINT_URL", &moto.url())
        .set("AWS_REGION", "us-east-1")
        .set("AWS_DEFAULT_REGION", "us-east-1")
        .set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/ci")
        .set("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap());
    let args = ["ecr", "get-login-password"];
    let theirs = success(&sandbox.aws(&args), "aws with a web identity");
    let ours = success(&sandbox.reglogin(&args), "reglogin with a web identity");
    assert_eq!(ours, theirs);
}

#[test]
fn a_failed_refresh_serves_a_still_valid_token_and_never_an_expired_one() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let failing = Arc::new(AtomicBool::new(false));
    let lifetime = Arc::new(AtomicU64::new(200));
    let (failing_in, lifetime_in) = (Arc::clone(&failing), Arc::clone(&lifetime));
    let stub = Stub::start(move |_| {
        if failing_in.load(Ordering::SeqCst) {
            return (
                500,
                r#"{"__type":"ServerException","message":"down"}"#.into(),
            );
        }
        let answer = serde_json::json!({"authorizationData": [{
            "authorizationToken": ecr_token("short-lived"),
            "expiresAt": unix_now() + lifetime_in.load(Ordering::SeqCst),
            "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        }]});
        (200, answer.to_string())
    });
    let mut sandbox = Sandbox::with_keys("stale");
    sandbox.set("AWS_ENDPOINT_URL", &stub.url());
    success(&sandbox.ecr_helper("get", MOTO_HOST), "first get");
    // 200 s left is under the 5-minute margin: due for a refresh, which fails.
    failing.store(true, Ordering::SeqCst);
    let out = sandbox.ecr_helper("get", MOTO_HOST);
    assert!(success(&out, "get with AWS down").contains("short-lived"));
    assert!(
        text(&out.stderr).contains("using the cached one"),
        "{}",
        text(&out.stderr)
    );
    assert!(stub.count() >= 2, "the refresh was attempted");

    // A token that has expired is never served, even when AWS is down.
    failing.store(false, Ordering::SeqCst);
    lifetime.store(1, Ordering::SeqCst);
    let mut other = Sandbox::with_keys("expired");
    other.set("AWS_ENDPOINT_URL", &stub.url());
    success(
        &other.ecr_helper("get", MOTO_HOST),
        "get of a one-second token",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    failing.store(true, Ordering::SeqCst);
    let out = other.ecr_helper("get", MOTO_HOST);
    assert_eq!(
        text(&out.stdout),
        "credentials not found in native keychain\n"
    );
    assert!(
        text(&out.stderr).contains("ServerException"),
        "{}",
        text(&out.stderr)
    );
}

/// Issue 3's routing: `credHelpers` sends an ECR host to `docker-credential-ecr-login`, and
/// `reglogin get` / `list` return what that helper answers — with Debian's Go helper (through the
/// TLS-intercepting proxy to moto) and with reglogin's own, linked under that name.
#[test]
fn cred_helpers_route_ecr_hosts_to_the_ecr_login_helper() {
    let go_helper = require_program(
        "docker-credential-ecr-login",
        "apt-get install amazon-ecr-credential-helper",
    );
    let moto = Moto::shared();
    let proxy =
        ecr_support::mitm::MitmProxy::start(moto.url(), &["api.ecr.us-east-1.amazonaws.com"]);
    let expected = format!(
        "{{\"ServerURL\":\"{MOTO_HOST}\",\"Username\":\"AWS\",\"Secret\":\"{MOTO_PASSWORD}\"}}\n"
    );
    for use_go_helper in [true, false] {
        let mut sandbox = Sandbox::with_keys("route");
        sandbox
            .set("HTTPS_PROXY", &proxy.url())
            .set("AWS_CA_BUNDLE", proxy.ca_pem.to_str().unwrap())
            .set("REGLOGIN_ECR_CACHE", "off")
            .set("AWS_ECR_DISABLE_CACHE", "1");
        if use_go_helper {
            let link = sandbox.bin.join("docker-credential-ecr-login");
            std::fs::remove_file(&link).unwrap();
            std::os::unix::fs::symlink(&go_helper, &link).unwrap();
        }
        sandbox.write(
            ".docker/config.json",
            &format!(r#"{{"credHelpers": {{"{MOTO_HOST}": "ecr-login"}}}}"#),
        );
        let which = if use_go_helper { "Go" } else { "reglogin" };
        let out = success(&sandbox.reglogin(&["get", MOTO_HOST]), which);
        assert_eq!(out, expected, "{which} helper");
        let listed = success(&sandbox.reglogin(&["list", "--format", "json"]), which);
        let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
        assert_eq!(
            listed,
            serde_json::json!([{"registry": MOTO_HOST, "username": "AWS", "store": "ecr-login"}]),
            "{which} helper"
        );
    }
}

/// With `"credsStore": "reglogin"`, ECR hosts get a current token from AWS (issue 4: ECR inside
/// `docker-credential-reglogin`), while other hosts come from the configured backend.
#[test]
fn the_reglogin_helper_answers_ecr_hosts_with_a_fresh_token() {
    let moto = Moto::shared();
    let mut sandbox = Sandbox::with_keys("reglogin-helper-ecr");
    sandbox
        .set("AWS_ENDPOINT_URL", &moto.url())
        .set("REGLOGIN_HELPER_BACKEND", "file");
    let helper = sandbox.bin.join("docker-credential-reglogin");
    std::os::unix::fs::symlink(BIN, &helper).unwrap();
    let out = success(&sandbox.run_program(&helper, &["get"], MOTO_HOST), "get");
    assert_eq!(
        out,
        format!(
            "{{\"ServerURL\":\"{MOTO_HOST}\",\"Username\":\"AWS\",\"Secret\":\"{MOTO_PASSWORD}\"}}\n"
        )
    );
    // Without AWS credentials the stored entry is the fallback.
    sandbox
        .unset("AWS_ACCESS_KEY_ID")
        .unset("AWS_SECRET_ACCESS_KEY");
    let stored = format!(r#"{{"ServerURL":"{MOTO_HOST}","Username":"AWS","Secret":"old-token"}}"#);
    success(&sandbox.run_program(&helper, &["store"], &stored), "store");
    let out = success(&sandbox.run_program(&helper, &["get"], MOTO_HOST), "get");
    assert!(out.contains("old-token"), "{out}");
    let out = sandbox.run_program(&helper, &["get"], "other.example");
    assert_eq!(
        text(&out.stdout),
        "credentials not found in native keychain\n"
    );
}
