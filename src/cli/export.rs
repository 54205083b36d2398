//! `reglogin export --kubernetes-secret NAME SERVER...`: the named registries' credentials as a
//! Kubernetes Secret of type `kubernetes.io/dockerconfigjson`, byte for byte what
//! `kubectl create secret docker-registry NAME --dry-run=client -o yaml|json` prints for the
//! same registry, or (`--format dockerconfigjson`) the bare `.dockerconfigjson` document.
//!
//! Each entry is `{"username","password","auth"}` (kubectl's field order, Go's escaping), keyed
//! by the registry's Docker key (`https://index.docker.io/v1/` for Docker Hub, `host[:port]`
//! otherwise), keys sorted as Go sorts a map. Credentials come from whichever store holds them
//! (`credHelpers`, `credsStore`, the file), so `ecr-login` helpers give a current ECR token.
//!
//! The kubelet reads only `username`, `password` and `auth` from such a Secret (its
//! `DockerConfigEntry` has no identity or registry token), so credentials that are an OAuth2
//! identity token or a registry token cannot be exported: that is an error naming the registry.

use std::path::Path;

use base64::Engine as _;
use clap::{Args, ValueEnum};

use super::CliError;
use crate::config::ConfigFile;
use crate::credentials::Credentials;
use crate::secret::Secret;
use crate::store::{self, StoreError, StoreOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// The Secret as YAML (`kubectl ... -o yaml`)
    Yaml,
    /// The Secret as JSON (`kubectl ... -o json`)
    Json,
    /// Only the `.dockerconfigjson` document (`{"auths":{...}}`), not base64-encoded
    Dockerconfigjson,
}

#[derive(Args, Debug)]
#[command(after_help = "\
The output CONTAINS THE SECRETS (passwords and tokens, base64-encoded in a Secret): pipe it to \
`kubectl apply -f -` or into a file only you can read.

Identity tokens (OAuth2 refresh tokens) and registry tokens cannot be exported: the kubelet \
reads only username/password/auth. Log in with a password or an access token instead.")]
pub struct ExportArgs {
    /// Name of the Kubernetes Secret (type kubernetes.io/dockerconfigjson)
    #[arg(long, value_name = "NAME", value_parser = parse_secret_name)]
    kubernetes_secret: Option<String>,

    /// Namespace of the Secret (default: none, i.e. kubectl's current namespace)
    #[arg(short, long, value_name = "NS", value_parser = parse_namespace)]
    namespace: Option<String>,

    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    format: Format,

    /// Registries to export (host, login address or image reference)
    #[arg(value_name = "SERVER", required = true)]
    servers: Vec<String>,
}

/// Why a registry cannot be exported. Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no credentials for {server}: log in first (reglogin login {server})")]
    NotLoggedIn { server: String },
    #[error(
        "the credentials for {server} are an identity token (OAuth2 refresh token), which \
         Kubernetes cannot use: the kubelet reads only username/password/auth; log in with a \
         password or access token"
    )]
    IdentityToken { server: String },
    #[error(
        "the credentials for {server} are a registry token, which Kubernetes cannot use: the \
         kubelet reads only username/password/auth"
    )]
    RegistryToken { server: String },
    #[error("the credentials for {server} have no password")]
    NoPassword { server: String },
    #[error("cannot read the credentials for {server}: {source}")]
    Store { server: String, source: StoreError },
}

pub fn run(args: ExportArgs, config_path: &Path) -> Result<(), CliError> {
    let name = match (&args.kubernetes_secret, args.format) {
        (Some(name), _) => Some(name.as_str()),
        (None, Format::Dockerconfigjson) => None,
        (None, _) => {
            return Err(CliError(
                "error: --kubernetes-secret NAME is required (or use --format dockerconfigjson)"
                    .into(),
            ));
        }
    };
    let config = ConfigFile::load(config_path)?;
    let options = StoreOptions::default();
    let mut entries = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for server in &args.servers {
        match resolve(&config, server, &options) {
            Ok((key, creds)) => {
                entries.insert(key, creds);
            }
            Err(err) => errors.push(err.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(CliError(errors.join("\n")));
    }
    let document = docker_config_json(&entries);
    let output = match (args.format, name) {
        (Format::Dockerconfigjson, _) | (_, None) => {
            Secret::new(format!("{}\n", document.expose()))
        }
        (Format::Yaml, Some(name)) => secret_yaml(name, args.namespace.as_deref(), &document),
        (Format::Json, Some(name)) => secret_json(name, args.namespace.as_deref(), &document),
    };
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(output.expose().as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|err| CliError(format!("cannot write the output: {err}")))
}

/// The Docker key and the username/password for `server`, from whichever store holds them.
fn resolve(
    config: &ConfigFile,
    server: &str,
    options: &StoreOptions,
) -> Result<(String, Credentials), ExportError> {
    let shown = || server.trim().to_owned();
    let found =
        store::credentials_for(config, server, options).map_err(|source| ExportError::Store {
            server: shown(),
            source,
        })?;
    let Some((key, creds)) = found.filter(|(_, creds)| !creds.is_empty()) else {
        return Err(ExportError::NotLoggedIn { server: shown() });
    };
    if creds.identity_token.is_some() {
        return Err(ExportError::IdentityToken { server: shown() });
    }
    if creds.password.is_empty() {
        return Err(if creds.registry_token.is_some() {
            ExportError::RegistryToken { server: shown() }
        } else {
            ExportError::NoPassword { server: shown() }
        });
    }
    Ok((key, creds))
}

/// `{"auths":{KEY:{"username":..,"password":..,"auth":..}}}` as kubectl (Go's `json.Marshal`)
/// writes it: compact, keys sorted, `<>&` escaped.
fn docker_config_json(entries: &std::collections::BTreeMap<String, Credentials>) -> Secret {
    // Assembled from `Secret` parts rather than through `serde_json::Value`, whose strings
    // would keep copies of the passwords that are never wiped.
    let json =
        |value: &str| Secret::new(serde_json::to_string(value).expect("a string serialises"));
    let mut parts = vec![Secret::new("{\"auths\":{")];
    for (index, (key, creds)) in entries.iter().enumerate() {
        let pair = Secret::new(format!("{}:{}", creds.username, creds.password.expose()));
        let auth = Secret::new(base64::engine::general_purpose::STANDARD.encode(pair.expose()));
        if index > 0 {
            parts.push(Secret::new(","));
        }
        parts.extend([
            json(key),
            Secret::new(":{\"username\":"),
            json(&creds.username),
            Secret::new(",\"password\":"),
            json(creds.password.expose()),
            Secret::new(",\"auth\":"),
            json(auth.expose()),
            Secret::new("}"),
        ]);
    }
    parts.push(Secret::new("}}"));
    let joined = Secret::new(parts.iter().map(Secret::expose).collect::<String>());
    Secret::new(crate::gojson::escape_like_go(joined.expose().to_owned()))
}

fn base64_of(document: &Secret) -> Secret {
    Secret::new(base64::engine::general_purpose::STANDARD.encode(document.expose()))
}

/// kubectl's `-o yaml` (keys sorted, `creationTimestamp: null`, scalars quoted as go-yaml does).
fn secret_yaml(name: &str, namespace: Option<&str>, document: &Secret) -> Secret {
    let namespace = namespace
        .map(|ns| format!("  namespace: {}\n", yaml_scalar(ns)))
        .unwrap_or_default();
    Secret::new(format!(
        "apiVersion: v1\ndata:\n  .dockerconfigjson: {}\nkind: Secret\nmetadata:\n  \
         creationTimestamp: null\n  name: {}\n{namespace}type: kubernetes.io/dockerconfigjson\n",
        base64_of(document).expose(),
        yaml_scalar(name),
    ))
}

/// kubectl's `-o json` (its field order, four-space indent).
fn secret_json(name: &str, namespace: Option<&str>, document: &Secret) -> Secret {
    let namespace = namespace
        .map(|ns| format!("        \"namespace\": \"{ns}\",\n"))
        .unwrap_or_default();
    Secret::new(format!(
        "{{\n    \"kind\": \"Secret\",\n    \"apiVersion\": \"v1\",\n    \"metadata\": {{\n        \
         \"name\": \"{name}\",\n{namespace}        \"creationTimestamp\": null\n    }},\n    \
         \"data\": {{\n        \".dockerconfigjson\": \"{}\"\n    }},\n    \
         \"type\": \"kubernetes.io/dockerconfigjson\"\n}}\n",
        base64_of(document).expose(),
    ))
}

/// A Kubernetes object name: a DNS-1123 subdomain (lowercase letters, digits, `-`, `.`;
/// alphanumeric at both ends of each label; at most 253 characters).
fn parse_secret_name(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| is_dns_label(label, 253));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(
            "a Secret name must be a DNS subdomain: lowercase letters, digits, '-' and '.', \
             starting and ending with a letter or digit, at most 253 characters"
                .into(),
        )
    }
}

/// A namespace: a DNS-1123 label (at most 63 characters, no `.`).
fn parse_namespace(value: &str) -> Result<String, String> {
    if is_dns_label(value, 63) {
        Ok(value.to_owned())
    } else {
        Err(
            "a namespace must be a DNS label: lowercase letters, digits and '-', starting and \
             ending with a letter or digit, at most 63 characters"
                .into(),
        )
    }
}

fn is_dns_label(label: &str, max: usize) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A DNS name as go-yaml v2 (sigs.k8s.io/yaml, which kubectl uses) writes it: plain, unless it
/// would read back as something other than a string (YAML 1.1 booleans, null, numbers,
/// timestamps), then double-quoted. Only names of `[a-z0-9.-]` come here.
fn yaml_scalar(value: &str) -> String {
    if yaml_resolves_to_non_string(value) {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

fn yaml_resolves_to_non_string(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "", ".inf", "-.inf",
        "+.inf", ".nan",
    ];
    WORDS.contains(&value) || is_yaml_float(value) || is_go_uint(value) || is_yaml_timestamp(value)
}

/// go-yaml's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(value: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let mut rest = value.strip_prefix(['-', '+']).unwrap_or(value);
    if let Some(after_dot) = rest.strip_prefix('.') {
        let n = digits(after_dot);
        if n == 0 {
            return false;
        }
        rest = &after_dot[n..];
    } else {
        let n = digits(rest);
        if n == 0 {
            return false;
        }
        rest = &rest[n..];
        if let Some(after_dot) = rest.strip_prefix('.') {
            rest = &after_dot[digits(after_dot)..];
        }
    }
    if let Some(exponent) = rest.strip_prefix(['e', 'E']) {
        let exponent = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
        let n = digits(exponent);
        return n > 0 && n == exponent.len();
    }
    rest.is_empty()
}

/// Go's `strconv.ParseUint(s, 0, 64)` succeeding for a prefixed literal (`0x`, `0o`, `0b`) or
/// an octal with a leading `0`; plain decimals are floats above.
fn is_go_uint(value: &str) -> bool {
    let (radix, digits) = if let Some(d) = value.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = value.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = value.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = value.strip_prefix('0').filter(|d| !d.is_empty()) {
        (8, d)
    } else {
        return false;
    };
    !digits.is_empty() && u64::from_str_radix(digits, radix).is_ok() && !digits.starts_with('+')
}

/// go-yaml's `2006-1-2` timestamps: four digits, a month and a day that exist.
fn is_yaml_timestamp(value: &str) -> bool {
    let mut parts = value.split('-');
    let (Some(year), Some(month), Some(day), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let number = |s: &str, max_len: usize| {
        (1..=max_len).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if year.len() != 4 || !number(year, 4) || !number(month, 2) || !number(day, 2) {
        return false;
    }
    let (year, month, day): (u32, u32, u32) = (
        year.parse().unwrap_or(0),
        month.parse().unwrap_or(0),
        day.parse().unwrap_or(0),
    );
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_subdomains_and_namespaces_dns_labels() {
        for good in ["regcred", "a", "a.b-c", "0", "x1.y2"] {
            assert!(parse_secret_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Reg",
            "a_b",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a b",
            &"a".repeat(254),
        ] {
            assert!(parse_secret_name(bad).is_err(), "{bad}");
        }
        assert!(parse_namespace("prod-1").is_ok());
        assert!(parse_namespace("a.b").is_err());
        assert!(parse_namespace(&"a".repeat(64)).is_err());
    }

    #[test]
    fn the_document_is_what_kubectl_writes() {
        let mut entries = std::collections::BTreeMap::new();
        entries.insert("z.example".to_owned(), Credentials::basic("u", "p<&>"));
        entries.insert("a.example".to_owned(), Credentials::basic("alice", "pw"));
        assert_eq!(
            docker_config_json(&entries).expose(),
            r#"{"auths":{"a.example":{"username":"alice","password":"pw","auth":"YWxpY2U6cHc="},"z.example":{"username":"u","password":"p\u003c\u0026\u003e","auth":"dTpwPCY+"}}}"#
        );
    }
}
