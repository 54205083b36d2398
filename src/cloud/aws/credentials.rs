//! The AWS CLI's credential chain, in its order: environment variables (unless `--profile`
//! was given), the profile (assumed role, web identity, SSO, static keys from `credentials`,
//! `credential_process`, static keys from `config`), the web-identity variables, container
//! credentials, instance metadata (IMDSv2).

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{AwsError, Profile, Session, sts, time};
use crate::secret::Secret;

/// Credentials to sign with. `source` says where they came from, for messages.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expires_at: Option<SystemTime>,
    pub source: String,
}

/// How many `source_profile` hops an assumed role may take (the AWS CLI has no fixed limit but
/// rejects cycles; a bound does both).
const MAX_ROLE_CHAIN: usize = 8;

pub(super) fn resolve(
    session: &Session,
    profile_from_flag: bool,
) -> Result<AwsCredentials, AwsError> {
    let mut looked = Vec::new();
    if !profile_from_flag {
        if let Some(creds) = from_env(session)? {
            return Ok(creds);
        }
        looked.push("environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned());
    }
    if let Some(profile) = session.profile()
        && let Some(creds) = from_profile(session, profile, 0)?
    {
        return Ok(creds);
    }
    looked.push(format!(
        "profile `{}` in {}",
        session.profile_name,
        session.profiles.describe_files()
    ));
    if let (Some(token_file), Some(role_arn)) = (
        session.env.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
        session.env.get("AWS_ROLE_ARN"),
    ) {
        let session_name = session.env.get("AWS_ROLE_SESSION_NAME");
        return sts::assume_role_with_web_identity(session, role_arn, token_file, session_name);
    }
    if let Some(creds) = from_container(session, &mut looked)? {
        return Ok(creds);
    }
    if let Some(creds) = from_instance_metadata(session, &mut looked) {
        return Ok(creds);
    }
    Err(AwsError::NoCredentials {
        looked: looked.join("; "),
    })
}

fn from_env(session: &Session) -> Result<Option<AwsCredentials>, AwsError> {
    let env = &session.env;
    let key = env.get("AWS_ACCESS_KEY_ID");
    let secret = env.get("AWS_SECRET_ACCESS_KEY");
    match (key, secret) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(AwsError::PartialCredentials {
            source_name: "the environment".into(),
            detail: "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither".into(),
        }),
        (Some(key), Some(secret)) => Ok(Some(AwsCredentials {
            access_key_id: key.to_owned(),
            secret_access_key: Secret::new(secret),
            session_token: env
                .get("AWS_SESSION_TOKEN")
                .or_else(|| env.get("AWS_SECURITY_TOKEN"))
                .map(Secret::new),
            expires_at: env
                .get("AWS_CREDENTIAL_EXPIRATION")
                .and_then(time::parse_rfc3339),
            source: "environment variables".into(),
        })),
    }
}

/// Static keys from one of the profile's files; `in_credentials_file` picks which.
fn static_keys(
    profile: Profile<'_>,
    in_credentials_file: bool,
    session: &Session,
) -> Result<Option<AwsCredentials>, AwsError> {
    let get = |key: &str| {
        if in_credentials_file {
            profile.from_credentials_file(key)
        } else {
            profile.from_config_file(key)
        }
    };
    let file = if in_credentials_file {
        &session.profiles.credentials_path
    } else {
        &session.profiles.config_path
    };
    let source_name = format!("profile `{}` of {}", profile.name, file.display());
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(AwsError::PartialCredentials {
            source_name,
            detail: "aws_access_key_id is set but aws_secret_access_key is not".into(),
        }),
        (None, Some(_)) => Err(AwsError::PartialCredentials {
            source_name,
            detail: "aws_secret_access_key is set but aws_access_key_id is not".into(),
        }),
        (Some(key), Some(secret)) => Ok(Some(AwsCredentials {
            access_key_id: key.to_owned(),
            secret_access_key: Secret::new(secret),
            session_token: get("aws_session_token")
                .or_else(|| get("aws_security_token"))
                .map(Secret::new),
            expires_at: None,
            source: source_name,
        })),
    }
}

fn from_profile(
    session: &Session,
    profile: Profile<'_>,
    depth: usize,
) -> Result<Option<AwsCredentials>, AwsError> {
    if let Some(role_arn) = profile.get("role_arn") {
        if let Some(token_file) = profile.get("web_identity_token_file") {
            return sts::assume_role_with_web_identity(
                session,
                role_arn,
                token_file,
                profile.get("role_session_name"),
            )
            .map(Some);
        }
        let source = role_source(session, profile, depth)?;
        return sts::assume_role(session, profile, role_arn, source).map(Some);
    }
    if profile.get("sso_start_url").is_some() || profile.get("sso_session").is_some() {
        return Err(AwsError::Unsupported(format!(
            "profile `{}` uses AWS IAM Identity Center (SSO), which reglogin cannot read yet; \
             add `credential_process = aws configure export-credentials --profile {} --format process` \
             to another profile and use that one",
            profile.name, profile.name
        )));
    }
    if let Some(creds) = static_keys(profile, true, session)? {
        return Ok(Some(creds));
    }
    if let Some(command) = profile.get("credential_process") {
        return super::process::run(command, profile.name)
            .map(Some)
            .map_err(|detail| AwsError::CredentialProcess {
                profile: profile.name.to_owned(),
                detail,
            });
    }
    static_keys(profile, false, session)
}

/// The credentials an assumed role starts from: `source_profile` or `credential_source`.
fn role_source(
    session: &Session,
    profile: Profile<'_>,
    depth: usize,
) -> Result<AwsCredentials, AwsError> {
    let name = profile.name;
    if depth >= MAX_ROLE_CHAIN {
        return Err(AwsError::Unsupported(format!(
            "profile `{name}`: the chain of source_profile roles is too long or loops"
        )));
    }
    match (
        profile.get("source_profile"),
        profile.get("credential_source"),
    ) {
        (Some(_), Some(_)) => Err(AwsError::Unsupported(format!(
            "profile `{name}` sets both source_profile and credential_source; keep one"
        ))),
        (Some(source), None) => {
            let source_profile =
                session
                    .profiles
                    .get(source)
                    .ok_or_else(|| AwsError::ProfileNotFound {
                        name: source.to_owned(),
                        files: session.profiles.describe_files(),
                    })?;
            let creds = if source == name {
                // A profile may name itself: its own static keys are the source.
                match static_keys(profile, true, session)? {
                    Some(creds) => Some(creds),
                    None => static_keys(profile, false, session)?,
                }
            } else {
                from_profile(session, source_profile, depth + 1)?
            };
            creds.ok_or_else(|| AwsError::NoCredentials {
                looked: format!(
                    "source_profile `{source}` of profile `{name}` in {}",
                    session.profiles.describe_files()
                ),
            })
        }
        (None, Some(kind)) => {
            let mut looked = Vec::new();
            let found = match kind {
                "Environment" => from_env(session)?,
                "EcsContainer" => from_container(session, &mut looked)?,
                "Ec2InstanceMetadata" => from_instance_metadata(session, &mut looked),
                other => {
                    return Err(AwsError::Unsupported(format!(
                        "profile `{name}`: credential_source `{other}` is not one of Environment, EcsContainer, Ec2InstanceMetadata"
                    )));
                }
            };
            found.ok_or_else(|| AwsError::NoCredentials {
                looked: format!("credential_source {kind} of profile `{name}`"),
            })
        }
        (None, None) => Err(AwsError::Unsupported(format!(
            "profile `{name}` sets role_arn without source_profile or credential_source"
        ))),
    }
}

/// The JSON of container and instance-metadata credentials.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MetadataCredentials {
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    token: Option<String>,
    expiration: Option<String>,
    code: Option<String>,
}

impl Drop for MetadataCredentials {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        if let Some(secret) = self.secret_access_key.as_mut() {
            secret.zeroize();
        }
        if let Some(token) = self.token.as_mut() {
            token.zeroize();
        }
    }
}

impl MetadataCredentials {
    fn into_credentials(mut self, source: &str) -> Result<AwsCredentials, String> {
        if let Some(code) = self.code.as_deref().filter(|code| *code != "Success") {
            return Err(format!("the service answered code {code}"));
        }
        let access_key_id = self
            .access_key_id
            .take()
            .ok_or("the answer lacks AccessKeyId")?;
        let secret = self
            .secret_access_key
            .take()
            .ok_or("the answer lacks SecretAccessKey")?;
        Ok(AwsCredentials {
            access_key_id,
            secret_access_key: Secret::new(secret),
            session_token: self.token.take().map(Secret::new),
            expires_at: self.expiration.as_deref().and_then(time::parse_rfc3339),
            source: source.to_owned(),
        })
    }
}

fn metadata_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .proxy(None)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// ECS/EKS container credentials (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`).
fn from_container(
    session: &Session,
    looked: &mut Vec<String>,
) -> Result<Option<AwsCredentials>, AwsError> {
    let env = &session.env;
    let url = if let Some(relative) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        format!("http://169.254.170.2{relative}")
    } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        full.to_owned()
    } else {
        looked.push("container credentials (AWS_CONTAINER_CREDENTIALS_* not set)".into());
        return Ok(None);
    };
    let fail = |detail: String| AwsError::CredentialSource {
        source_name: "container".into(),
        detail,
    };
    if !container_url_allowed(&url) {
        return Err(fail(format!(
            "{url} is neither HTTPS nor a loopback or ECS/EKS container address"
        )));
    }
    let authorization = match env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|err| {
                    fail(format!(
                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {path}: {err}"
                    ))
                })?
                .trim()
                .to_owned(),
        ),
        None => env
            .get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(str::to_owned),
    };
    let authorization = authorization.map(Secret::new);
    let agent = metadata_agent(Duration::from_secs(2));
    let mut last = String::new();
    for _ in 0..2 {
        let mut request = agent.get(&url).header("accept", "application/json");
        if let Some(token) = &authorization {
            request = request.header("authorization", token.expose());
        }
        match request.call() {
            Ok(response) if response.status().is_success() => {
                let mut body = response.into_body();
                let text = Secret::new(body.read_to_string().map_err(|err| fail(err.to_string()))?);
                let parsed: MetadataCredentials = serde_json::from_str(text.expose())
                    .map_err(|err| fail(format!("the answer is not the expected JSON ({err})")))?;
                return parsed
                    .into_credentials("container credentials")
                    .map(Some)
                    .map_err(fail);
            }
            Ok(response) => last = format!("{url} answered HTTP {}", response.status().as_u16()),
            Err(err) => last = format!("cannot reach {url}: {err}"),
        }
    }
    Err(fail(last))
}

fn container_url_allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host)
    };
    if host == "localhost" {
        return true;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            ip.is_loopback()
                || ip == std::net::IpAddr::from([169, 254, 170, 2])
                || ip == std::net::IpAddr::from([169, 254, 170, 23])
                || ip
                    == "fd00:ec2::23"
                        .parse::<std::net::IpAddr>()
                        .expect("a valid address")
        }
        Err(_) => false,
    }
}

/// EC2 instance metadata, IMDSv2 (session token first), with the AWS CLI's one-second timeout.
fn from_instance_metadata(session: &Session, looked: &mut Vec<String>) -> Option<AwsCredentials> {
    let env = &session.env;
    if env
        .get("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    {
        looked.push("instance metadata (disabled by AWS_EC2_METADATA_DISABLED)".into());
        return None;
    }
    let base = env
        .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
        .unwrap_or("http://169.254.169.254")
        .trim_end_matches('/')
        .to_owned();
    looked.push(format!("instance metadata at {base}"));
    let agent = metadata_agent(Duration::from_secs(1));
    let token = agent
        .put(&format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send_empty()
        .ok()
        .filter(|response| response.status().is_success())
        .and_then(|response| response.into_body().read_to_string().ok())
        .map(Secret::new)?;
    let get = |path: &str| -> Option<String> {
        let response = agent
            .get(&format!("{base}{path}"))
            .header("x-aws-ec2-metadata-token", token.expose())
            .call()
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.into_body().read_to_string().ok()
    };
    let roles = get("/latest/meta-data/iam/security-credentials/")?;
    let role = roles.lines().next()?.trim().to_owned();
    if role.is_empty() {
        return None;
    }
    let text = Secret::new(get(&format!(
        "/latest/meta-data/iam/security-credentials/{role}"
    ))?);
    let parsed: MetadataCredentials = serde_json::from_str(text.expose()).ok()?;
    parsed.into_credentials("instance metadata").ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::aws::{AwsOptions, Env, Profiles};

    fn session(
        env: &[(&str, &str)],
        config: &str,
        credentials: &str,
        profile: Option<&str>,
    ) -> Session {
        let mut vars = vec![("AWS_EC2_METADATA_DISABLED", "true")];
        vars.extend_from_slice(env);
        let profiles = Profiles::from_texts(
            "/h/.aws/config".into(),
            config,
            "/h/.aws/credentials".into(),
            credentials,
        );
        let options = AwsOptions {
            profile: profile.map(str::to_owned),
            ..AwsOptions::default()
        };
        Session::with_profiles(Env::from_pairs(vars), profiles, options).unwrap()
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = sfile\n[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = sdev\naws_session_token = tdev\n";
    const ENV: [(&str, &str); 2] = [
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "senv"),
    ];

    #[test]
    fn environment_first_unless_a_profile_flag_is_given() {
        let s = session(&ENV, "", CREDENTIALS, None);
        let creds = s.credentials().unwrap();
        assert_eq!(
            (creds.access_key_id.as_str(), creds.source.as_str()),
            ("AKIDENV", "environment variables")
        );
        // AWS_PROFILE does not override environment keys (as in the AWS CLI)...
        let mut env = ENV.to_vec();
        env.push(("AWS_PROFILE", "dev"));
        assert_eq!(
            session(&env, "", CREDENTIALS, None)
                .credentials()
                .unwrap()
                .access_key_id,
            "AKIDENV"
        );
        // ...but --profile does.
        let creds = session(&ENV, "", CREDENTIALS, Some("dev"))
            .credentials()
            .unwrap();
        assert_eq!(creds.access_key_id, "AKIDDEV");
        assert_eq!(creds.session_token.unwrap().expose(), "tdev");
        assert!(creds.source.contains("profile `dev`"), "{}", creds.source);
    }

    #[test]
    fn credentials_file_then_process_then_config_file() {
        let config = "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = sconfig\ncredential_process = sh -c 'echo \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": \\\"AKIDPROC\\\", \\\"SecretAccessKey\\\": \\\"sp\\\"}\"'\n";
        assert_eq!(
            session(&[], config, CREDENTIALS, None)
                .credentials()
                .unwrap()
                .access_key_id,
            "AKIDFILE"
        );
        assert_eq!(
            session(&[], config, "", None)
                .credentials()
                .unwrap()
                .access_key_id,
            "AKIDPROC"
        );
        let without_process =
            "[default]\naws_access_key_id = AKIDCONFIG\naws_secret_access_key = sconfig\n";
        assert_eq!(
            session(&[], without_process, "", None)
                .credentials()
                .unwrap()
                .access_key_id,
            "AKIDCONFIG"
        );
    }

    #[test]
    fn nothing_found_says_where_it_looked() {
        let err = session(&[], "", "", None)
            .credentials()
            .unwrap_err()
            .to_string();
        for part in [
            "environment variables",
            "profile `default`",
            "/h/.aws/credentials",
            "container",
            "instance metadata",
            "aws configure",
        ] {
            assert!(err.contains(part), "{part} missing from: {err}");
        }
    }

    #[test]
    fn partial_keys_are_errors_without_secrets() {
        let err = session(&[("AWS_ACCESS_KEY_ID", "AKIDONLY")], "", "", None)
            .credentials()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AWS_SECRET_ACCESS_KEY") && !err.contains("AKIDONLY"),
            "{err}"
        );
        let err = session(
            &[],
            "",
            "[default]\naws_secret_access_key = SECRETONLY\n",
            None,
        )
        .credentials()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("aws_access_key_id") && !err.contains("SECRETONLY"),
            "{err}"
        );
    }

    #[test]
    fn sso_profiles_get_a_workaround() {
        let config = "[profile corp]\nsso_session = corp\nsso_account_id = 1\n";
        let err = session(&[], config, "", Some("corp"))
            .credentials()
            .unwrap_err()
            .to_string();
        assert!(err.contains("export-credentials"), "{err}");
    }

    #[test]
    fn debug_hides_secrets() {
        let creds = session(&ENV, "", "", None).credentials().unwrap();
        let printed = format!("{creds:?}");
        assert!(!printed.contains("senv"), "{printed}");
    }

    #[test]
    fn container_urls_must_be_local_or_https() {
        for ok in [
            "https://creds.example/x",
            "http://127.0.0.1:8080/c",
            "http://localhost/c",
            "http://169.254.170.2/v2",
            "http://169.254.170.23/v1",
            "http://[fd00:ec2::23]/v1",
            "http://[::1]:9/x",
        ] {
            assert!(container_url_allowed(ok), "{ok}");
        }
        for bad in [
            "http://evil.example/c",
            "http://10.0.0.1/c",
            "ftp://127.0.0.1/",
        ] {
            assert!(!container_url_allowed(bad), "{bad}");
        }
    }
}
