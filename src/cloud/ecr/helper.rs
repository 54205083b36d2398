//! `docker-credential-ecr-login`'s side of the credential-helper protocol, as reglogin serves
//! it. Differences from the Go helper, all deliberate: the real reason for a failure goes to
//! stderr (stdout still says `credentials not found in native keychain`, which Docker needs);
//! expired tokens are never served; `list` shows only cached tokens that are still valid.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::SystemTime;

use super::{EcrRegistry, Fetched, TokenCache, fetch_for_registry, parse_registry};
use crate::cloud::aws::{AwsOptions, Env, Session};
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};

/// The usage line, naming the program as it was invoked (argv[0]), as the Go helpers do.
pub fn usage(program: &str) -> String {
    format!("Usage: {program} <store|get|erase|list|version>")
}
const NO_SERVER_URL: &str = "no credentials server URL";

/// Runs one helper action; returns the exit code. Protocol answers and protocol errors go to
/// `out` (as the Go helpers print them); explanations go to `err`. `program` is argv[0].
pub fn serve(
    program: &str,
    action: &str,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    env: Env,
) -> i32 {
    let result = match action {
        "get" => get(input, out, err, env),
        "store" => store(input, out, &env),
        "erase" => erase(input, out, &env),
        "list" => list(out, err, env),
        "version" => {
            let _ = writeln!(
                out,
                "reglogin {} (docker-credential-ecr-login compatible)",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
        "" => Err(usage(program)),
        other => Err(format!("Unknown credential action `{other}`")),
    };
    match result {
        Ok(()) => 0,
        Err(message) => {
            let _ = writeln!(out, "{message}");
            1
        }
    }
}

fn read_input(input: &mut dyn Read) -> Result<String, String> {
    Ok(crate::helper_protocol::read_helper_input(input)?
        .expose()
        .to_owned())
}

fn get(
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    env: Env,
) -> Result<(), String> {
    let server_url = read_input(input)?.trim().to_owned();
    if server_url.is_empty() {
        return Err(NO_SERVER_URL.to_owned());
    }
    let Some(registry) = parse_registry(&server_url) else {
        let _ = writeln!(
            err,
            "reglogin: {server_url} is not an Amazon ECR registry (ECR hosts look like ACCOUNT.dkr.ecr.REGION.amazonaws.com or public.ecr.aws)"
        );
        return Err(NOT_FOUND_MESSAGE.to_owned());
    };
    let cache = TokenCache::from_env(&env);
    let fetched = Session::new(env, AwsOptions::default())
        .map_err(super::EcrError::from)
        .and_then(|session| fetch_for_registry(&session, &registry, &cache));
    match fetched {
        Ok(Fetched { token, warning, .. }) => {
            if let Some(warning) = warning {
                let _ = writeln!(err, "reglogin: warning: {warning}");
            }
            let creds = crate::credentials::Credentials::basic(
                token.username.clone(),
                token.password.clone(),
            );
            let line = WireCredentials::from_credentials(&server_url, &creds).to_go_json_line();
            out.write_all(line.expose().as_bytes())
                .map_err(|e| format!("cannot write the answer: {e}"))
        }
        Err(error) => {
            let _ = writeln!(
                err,
                "reglogin: no ECR credentials for {server_url}: {error}"
            );
            Err(NOT_FOUND_MESSAGE.to_owned())
        }
    }
}

fn ignores_storage(env: &Env) -> bool {
    env.get("AWS_ECR_IGNORE_CREDS_STORAGE")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
}

/// `store` keeps nothing: ECR tokens come from AWS. As the Go helper, it fails with
/// `not implemented` unless `AWS_ECR_IGNORE_CREDS_STORAGE=true` asks it to accept and drop.
fn store(input: &mut dyn Read, _out: &mut dyn Write, env: &Env) -> Result<(), String> {
    let text = crate::helper_protocol::read_helper_input(input)?;
    let wire = crate::helper_protocol::parse_store_request(text.expose())?;
    if wire.server_url.is_empty() {
        return Err(NO_SERVER_URL.to_owned());
    }
    if ignores_storage(env) {
        Ok(())
    } else {
        Err("not implemented".to_owned())
    }
}

fn erase(input: &mut dyn Read, _out: &mut dyn Write, env: &Env) -> Result<(), String> {
    if read_input(input)?.trim().is_empty() {
        return Err(NO_SERVER_URL.to_owned());
    }
    if ignores_storage(env) {
        Ok(())
    } else {
        Err("not implemented".to_owned())
    }
}

/// `list`: the default registry of the configured region (asked for when a region is
/// configured), then every cached token still valid, keyed by proxy endpoint, valued by
/// username.
fn list(out: &mut dyn Write, err: &mut dyn Write, env: Env) -> Result<(), String> {
    let cache = TokenCache::from_env(&env);
    let mut answer: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(session) = Session::new(env, AwsOptions::default())
        && let Ok(Some(region)) = session.region()
    {
        match list_default_registry(&session, &region, &cache) {
            Ok(tokens) => {
                for token in tokens {
                    answer.insert(token.proxy_endpoint.clone(), token.username.clone());
                }
            }
            Err(error) => {
                let _ = writeln!(
                    err,
                    "reglogin: cannot list the default ECR registry: {error}"
                );
            }
        }
    }
    for (endpoint, username) in cache.list(SystemTime::now()) {
        answer.insert(endpoint, username);
    }
    let json = serde_json::to_string(&answer).expect("serialising strings cannot fail");
    writeln!(out, "{}", crate::gojson::escape_like_go(json))
        .map_err(|e| format!("cannot write the answer: {e}"))
}

/// The caller's own registry in `region` (its account is not known before asking), cached.
fn list_default_registry(
    session: &Session,
    region: &str,
    cache: &TokenCache,
) -> Result<Vec<super::AuthorizationToken>, super::EcrError> {
    let credentials = session.credentials()?;
    let access_key_id = credentials.access_key_id.clone();
    let service = super::EcrService::Private {
        region: region.to_owned(),
        fips: false,
    };
    let client = super::EcrClient::new(session, service, credentials)?;
    let tokens = client.get_authorization_tokens(&[])?;
    let now = SystemTime::now();
    for token in &tokens {
        if let Some(EcrRegistry::Private {
            account, region, ..
        }) = parse_registry(&token.proxy_endpoint)
        {
            let key = TokenCache::key(
                "ecr",
                &region,
                &account,
                &session.profile_name,
                &access_key_id,
                &client.endpoint().url,
            );
            let _ = cache.store(&key, token, now);
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(action: &str, input: &str, env: &[(&str, &str)]) -> (i32, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut vars = vec![
            ("HOME", "/nonexistent-reglogin-home"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("REGLOGIN_ECR_CACHE", "off"),
        ];
        vars.extend_from_slice(env);
        let code = serve(
            "docker-credential-ecr-login",
            action,
            &mut input.as_bytes(),
            &mut out,
            &mut err,
            Env::from_pairs(vars),
        );
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn non_ecr_hosts_are_not_found_with_the_reason_on_stderr() {
        let (code, out, err) = run("get", "ghcr.io", &[]);
        assert_eq!(
            (code, out.as_str()),
            (1, "credentials not found in native keychain\n")
        );
        assert!(err.contains("not an Amazon ECR registry"), "{err}");
    }

    #[test]
    fn missing_aws_credentials_are_not_found_with_the_reason_on_stderr() {
        let (code, out, err) = run("get", "123456789012.dkr.ecr.us-east-1.amazonaws.com\n", &[]);
        assert_eq!(
            (code, out.as_str()),
            (1, "credentials not found in native keychain\n")
        );
        assert!(err.contains("no AWS credentials found"), "{err}");
    }

    #[test]
    fn protocol_errors_match_the_go_helper() {
        assert_eq!(
            run("get", "  ", &[]),
            (1, "no credentials server URL\n".into(), String::new())
        );
        assert_eq!(
            run("", "", &[]),
            (
                1,
                format!("{}\n", usage("docker-credential-ecr-login")),
                String::new()
            )
        );
        assert_eq!(run("frob", "", &[]).1, "Unknown credential action `frob`\n");
        let creds = r#"{"ServerURL":"123456789012.dkr.ecr.us-east-1.amazonaws.com","Username":"AWS","Secret":"x"}"#;
        assert_eq!(
            run("store", creds, &[]),
            (1, "not implemented\n".into(), String::new())
        );
        assert_eq!(
            run("erase", "h", &[]),
            (1, "not implemented\n".into(), String::new())
        );
        let ignore = [("AWS_ECR_IGNORE_CREDS_STORAGE", "true")];
        assert_eq!(
            run("store", creds, &ignore),
            (0, String::new(), String::new())
        );
        assert_eq!(
            run("erase", "h", &ignore),
            (0, String::new(), String::new())
        );
        assert_eq!(run("erase", "", &ignore).1, "no credentials server URL\n");
        assert!(run("store", "x", &ignore).1.starts_with("cannot parse"));
        assert_eq!(run("version", "", &[]).0, 0);
    }

    #[test]
    fn list_without_region_or_cache_is_empty() {
        assert_eq!(run("list", "", &[]), (0, "{}\n".into(), String::new()));
    }
}
