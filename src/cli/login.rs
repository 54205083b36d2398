//! `reglogin login [SERVER]`: read the credentials (flags, stdin, the store, prompts), verify
//! them against the registry, save them.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::CliError;
use super::target::Opened;
use crate::address::RegistryAddress;
use crate::auth::{self, TransportOptions};
use crate::credentials::Credentials;
use crate::secret::Secret;
use crate::store::{Saved, StoreOptions};

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Registry to log in to (default: Docker Hub); with an auth.json also a namespace
    /// (`registry/team`)
    server: Option<String>,

    /// Username
    #[arg(short, long)]
    username: Option<String>,

    /// Password (insecure: it shows in the process list; use --password-stdin)
    #[arg(short, long)]
    password: Option<String>,

    /// Take the password from stdin
    #[arg(long)]
    password_stdin: bool,

    /// Trust this CA certificate (PEM) for the registry, besides the system's roots
    #[arg(long, value_name = "FILE")]
    cacert: Vec<PathBuf>,

    /// Verify the registry's TLS certificate
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,

    /// Allow plain HTTP to this registry even when it is not on this machine
    #[arg(long)]
    insecure: bool,

    #[command(flatten)]
    target: super::target::AuthFileArgs,
}

pub fn run(args: LoginArgs, config_path: &Path) -> Result<(), CliError> {
    super::warn_if_env_auth_config();
    let target = args.target.target(config_path);
    let address = target.login_address(args.server.as_deref())?;
    let transport = TransportOptions {
        ca_files: args.cacert.clone(),
        tls_verify: args.tls_verify,
        allow_plain_http: args.insecure,
        ..TransportOptions::default()
    };
    let transport = TransportOptions {
        timeout: crate::seconds_from_env("REGLOGIN_HTTP_TIMEOUT", transport.timeout),
        ..transport
    };
    let store_options = StoreOptions::default();
    let opened = target.open()?;

    if args.password.is_some() && args.password_stdin {
        return Err(CliError(
            "conflicting options: cannot specify both --password and --password-stdin".into(),
        ));
    }
    let mut password = args.password.map(Secret::from);
    if password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    if args.password_stdin {
        if args.username.is_none() {
            return Err(CliError(
                "the --password-stdin option requires --username to be set".into(),
            ));
        }
        password = Some(read_password_from_stdin()?);
    }

    // The stored credentials matter only when the flags leave something out; skipping the
    // lookup otherwise spares a helper call (pass costs a gpg run).
    let stored = if args.username.is_none() || password.is_none() {
        opened
            .stored(&address.key, &store_options)
            .unwrap_or_else(|err| {
                eprintln!("WARNING: cannot read the stored credentials: {}", err.0);
                None
            })
    } else {
        None
    };
    if args.username.is_none()
        && password.is_none()
        && let Some(stored) = stored.as_ref().filter(|creds| can_reuse(creds))
    {
        eprintln!(
            "Authenticating with existing credentials... [Username: {}]\n\n Info -> To login with a different account, run 'docker logout' followed by 'docker login'\n\n",
            stored.username
        );
        match auth::login(&address.host, stored, &transport) {
            Ok(outcome) => {
                let creds = with_identity_token(stored.clone(), outcome.identity_token);
                return save_and_report(opened, &address, &creds, &store_options);
            }
            Err(err) if err.is_unauthorized() => {
                eprintln!("Stored credentials invalid or expired");
            }
            Err(err) => return Err(err.into()),
        }
    }

    let creds = complete_credentials(
        args.username,
        password,
        stored.as_ref().map(|creds| creds.username.as_str()),
    )?;
    let outcome = auth::login(&address.host, &creds, &transport)?;
    let creds = with_identity_token(creds, outcome.identity_token);
    save_and_report(opened, &address, &creds, &store_options)
}

fn can_reuse(creds: &Credentials) -> bool {
    creds.identity_token.is_some() || (!creds.username.is_empty() && !creds.password.is_empty())
}

/// A refresh token from the token server replaces the password: Docker stores the token and
/// forgets the password.
fn with_identity_token(mut creds: Credentials, token: Option<Secret>) -> Credentials {
    if let Some(token) = token {
        creds.identity_token = Some(token);
        creds.password = Secret::default();
    }
    creds
}

/// Docker reads all of stdin and strips one trailing `\n`, then one `\r`.
/// More than any password or token; the rest of a runaway pipe is not read.
const MAX_PASSWORD_INPUT: u64 = 1 << 20;

fn read_password_from_stdin() -> Result<Secret, CliError> {
    let input = crate::secret::read_secret(&mut std::io::stdin().lock(), MAX_PASSWORD_INPUT)
        .map_err(|err| CliError(format!("cannot read the password from stdin: {err}")))?;
    let text = input.expose();
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    Ok(Secret::new(text))
}

/// Fills in what the flags left out by prompting on the terminal, as Docker does.
fn complete_credentials(
    username: Option<String>,
    password: Option<Secret>,
    stored_username: Option<&str>,
) -> Result<Credentials, CliError> {
    let needs_prompt = username.as_deref().is_none_or(str::is_empty)
        || password.as_ref().is_none_or(Secret::is_empty);
    if needs_prompt && !std::io::stdin().is_terminal() {
        return Err(CliError(
            "Error: Cannot perform an interactive login from a non TTY device".into(),
        ));
    }
    let username = match username.filter(|name| !name.is_empty()) {
        Some(name) => name,
        None => prompt_username(stored_username)?,
    };
    if username.is_empty() {
        return Err(CliError("username is empty".into()));
    }
    let password = match password.filter(|password| !password.is_empty()) {
        Some(password) => password,
        None => {
            print!("Password: ");
            let _ = std::io::stdout().flush();
            let typed = rpassword::read_password()
                .map_err(|err| CliError(format!("cannot read the password: {err}")))?;
            Secret::new(typed)
        }
    };
    if password.is_empty() {
        return Err(CliError("password is empty".into()));
    }
    Ok(Credentials::basic(username, password))
}

fn prompt_username(stored: Option<&str>) -> Result<String, CliError> {
    let stored = stored.filter(|name| !name.is_empty());
    match stored {
        Some(name) => print!("Username ({name}): "),
        None => print!("Username: "),
    }
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|err| CliError(format!("cannot read the username: {err}")))?;
    let typed = line.trim();
    Ok(if typed.is_empty() {
        stored.unwrap_or_default().to_owned()
    } else {
        typed.to_owned()
    })
}

fn save_and_report(
    opened: Opened<'_>,
    address: &RegistryAddress,
    creds: &Credentials,
    options: &StoreOptions,
) -> Result<(), CliError> {
    let saved = opened.save(&address.key, creds, options)?;
    if let Saved::InFile { path } = &saved
        && !creds.password.is_empty()
    {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            path.display()
        );
    }
    println!("Login Succeeded");
    Ok(())
}
