//! `docker-credential-gcr` and `docker-credential-gcloud`, as reglogin serves them: `get`
//! answers Google registry hosts with `oauth2accesstoken` and an access token from Application
//! Default Credentials. Deliberate choices: `store` and `erase` accept the request and keep
//! nothing (the tokens come from Google, and `docker login`/`logout` against a GCR host must
//! not fail, as with gcloud's helper); `list` names the default GCR hosts; the reason for a
//! failed `get` goes to stderr while stdout says `credentials not found in native keychain`,
//! which Docker needs.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use super::{DEFAULT_HOSTS, Fetched, USERNAME, is_google_registry, token_for_registry};
use crate::cloud::aws::Env;
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};

/// The usage line, naming the program as it was invoked (argv[0]).
pub fn usage(program: &str) -> String {
    format!("Usage: {program} <store|get|erase|list|version>")
}
const NO_SERVER_URL: &str = "no credentials server URL";

/// Runs one helper action; returns the exit code. Protocol answers and errors go to `out`,
/// explanations to `err`. `program` is argv[0].
pub fn serve(
    program: &str,
    action: &str,
    input: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
    env: &Env,
) -> i32 {
    let result = match action {
        "get" => get(input, out, err, env),
        "store" => store(input),
        "erase" => read_input(input).and_then(|url| {
            if url.trim().is_empty() {
                Err(NO_SERVER_URL.to_owned())
            } else {
                Ok(())
            }
        }),
        "list" => list(out),
        "version" => {
            let _ = writeln!(
                out,
                "reglogin {} (docker-credential-gcr compatible)",
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
    env: &Env,
) -> Result<(), String> {
    let server_url = read_input(input)?.trim().to_owned();
    if server_url.is_empty() {
        return Err(NO_SERVER_URL.to_owned());
    }
    if !is_google_registry(&server_url) {
        let _ = writeln!(
            err,
            "reglogin: {server_url} is not a Google registry (gcr.io, *.gcr.io, *-docker.pkg.dev)"
        );
        return Err(NOT_FOUND_MESSAGE.to_owned());
    }
    match token_for_registry(&server_url, env) {
        Ok(Fetched { token, warning, .. }) => {
            if let Some(warning) = warning {
                let _ = writeln!(err, "reglogin: warning: {warning}");
            }
            let creds = crate::credentials::Credentials::basic(USERNAME.to_owned(), token.token);
            let line = WireCredentials::from_credentials(&server_url, &creds).to_go_json_line();
            out.write_all(line.expose().as_bytes())
                .map_err(|e| format!("cannot write the answer: {e}"))
        }
        Err(error) => {
            let _ = writeln!(
                err,
                "reglogin: no Google credentials for {server_url}: {error}"
            );
            Err(NOT_FOUND_MESSAGE.to_owned())
        }
    }
}

/// `store` checks the request and drops it: Google's tokens are not stored.
fn store(input: &mut dyn Read) -> Result<(), String> {
    let text = crate::helper_protocol::read_helper_input(input)?;
    let wire = crate::helper_protocol::parse_store_request(text.expose())?;
    if wire.server_url.is_empty() {
        return Err(NO_SERVER_URL.to_owned());
    }
    Ok(())
}

fn list(out: &mut dyn Write) -> Result<(), String> {
    let answer: BTreeMap<String, &str> = DEFAULT_HOSTS
        .iter()
        .map(|host| (format!("https://{host}"), USERNAME))
        .collect();
    let json = serde_json::to_string(&answer).expect("serialising strings cannot fail");
    writeln!(out, "{}", crate::gojson::escape_like_go(json))
        .map_err(|e| format!("cannot write the answer: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(action: &str, input: &str) -> (i32, String, String) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let env = Env::from_pairs([
            ("HOME", "/nonexistent-reglogin-home"),
            (
                "GOOGLE_APPLICATION_CREDENTIALS",
                "/nonexistent-reglogin/key.json",
            ),
            ("REGLOGIN_GCR_CACHE", "off"),
        ]);
        let code = serve(
            "docker-credential-gcr",
            action,
            &mut input.as_bytes(),
            &mut out,
            &mut err,
            &env,
        );
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn protocol_answers() {
        let (code, out, err) = run("get", "ghcr.io");
        assert_eq!(
            (code, out.as_str()),
            (1, "credentials not found in native keychain\n")
        );
        assert!(err.contains("not a Google registry"), "{err}");
        let (code, out, err) = run("get", "gcr.io\n");
        assert_eq!(
            (code, out.as_str()),
            (1, "credentials not found in native keychain\n")
        );
        assert!(err.contains("/nonexistent-reglogin/key.json"), "{err}");
        assert_eq!(run("get", " ").1, "no credentials server URL\n");
        assert_eq!(
            run("", "").1,
            format!("{}\n", usage("docker-credential-gcr"))
        );
        let creds = r#"{"ServerURL":"gcr.io","Username":"u","Secret":"s"}"#;
        assert_eq!(run("store", creds), (0, String::new(), String::new()));
        assert_eq!(run("erase", "gcr.io"), (0, String::new(), String::new()));
        assert_eq!(run("erase", "").1, "no credentials server URL\n");
        assert!(
            run("list", "")
                .1
                .contains("\"https://gcr.io\":\"oauth2accesstoken\"")
        );
    }
}
