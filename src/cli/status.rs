//! `reglogin status`: every registry the config has credentials for (or names without any),
//! each checked against its registry, up to [`PARALLEL_CHECKS`] at once on plain threads.
//!
//! Verdicts: `valid` (the registry accepted the credentials), `invalid` (it refused them with
//! 401: expired or wrong), `unreachable` (no answer: refused, timed out, DNS), `error` (another
//! failure: an untrusted certificate, an unexpected status, a store that failed) and
//! `no-credentials` (named in `auths` or `credHelpers`, but no store gives credentials).
//! Exit status 0 when every registry is valid, 1 otherwise.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::SystemTime;

use clap::{Args, ValueEnum};

use super::CliError;
use crate::address::RegistryAddress;
use crate::auth::{self, AuthError, TransportOptions};
use crate::cloud::aws::{Env, time};
use crate::cloud::ecr::{TokenCache, expiry, parse_registry};
use crate::config::ConfigFile;
use crate::store::{self, StoreChoice, StoreOptions};

/// How many registries are checked at the same time.
pub const PARALLEL_CHECKS: usize = 8;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
#[command(after_help = "\
Exit status: 0 when every registry is valid (or none has credentials), 1 otherwise.
Each request to a registry times out after REGLOGIN_HTTP_TIMEOUT seconds (default 15); a \
registry on this machine is tried over HTTPS, then HTTP, so it may take twice that.")]
pub struct StatusArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// What checking one registry found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Valid,
    Invalid,
    Unreachable,
    Error,
    NoCredentials,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unreachable => "unreachable",
            Verdict::Error => "error",
            Verdict::NoCredentials => "no-credentials",
        }
    }

    /// SGR colour for a terminal.
    fn colour(self) -> &'static str {
        match self {
            Verdict::Valid => "32",
            Verdict::Invalid | Verdict::Error => "31",
            Verdict::Unreachable => "33",
            Verdict::NoCredentials => "2",
        }
    }
}

/// One line of the report; never a secret.
#[derive(Clone, Debug, serde::Serialize)]
struct Row {
    registry: String,
    username: String,
    store: String,
    status: Verdict,
    /// Why, for anything but `valid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// When an ECR token stops working (RFC 3339), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<String>,
}

/// A registry to check, as the config and the stores name it.
struct Target {
    key: String,
    username: String,
    store: String,
    /// Listed by a store (else only named in the config).
    listed: bool,
}

pub fn run(args: StatusArgs, config_path: &Path) -> Result<(), CliError> {
    let config = ConfigFile::load(config_path)?;
    let options = StoreOptions::default();
    let transport = TransportOptions::default();
    let transport = TransportOptions {
        timeout: crate::seconds_from_env("REGLOGIN_HTTP_TIMEOUT", transport.timeout),
        ..transport
    };
    let targets = targets(&config, &options)?;
    let rows = check_all(&config, targets, &options, &transport);
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => print_table(&rows, use_colour()),
    }
    if rows.iter().all(|row| row.status == Verdict::Valid) {
        Ok(())
    } else {
        Err(CliError::silent())
    }
}

/// Every registry with credentials (`list_all`), plus those the config names without any.
fn targets(config: &ConfigFile, options: &StoreOptions) -> Result<Vec<Target>, CliError> {
    let (listed, failures) = store::list_all(config, options)?;
    let mut targets: BTreeMap<String, Target> = BTreeMap::new();
    for entry in listed {
        targets.insert(
            entry.registry.clone(),
            Target {
                key: entry.registry,
                username: entry.username,
                store: entry.store,
                listed: true,
            },
        );
    }
    let named = config
        .auth_keys()
        .into_iter()
        .chain(config.cred_helpers().into_iter().map(|(host, _)| host))
        .chain(failures.into_iter().map(|(host, _)| host));
    for key in named {
        targets.entry(key.clone()).or_insert_with(|| Target {
            store: store_name(config, &key),
            key,
            username: String::new(),
            listed: false,
        });
    }
    Ok(targets.into_values().collect())
}

fn store_name(config: &ConfigFile, key: &str) -> String {
    match store::choose_store(config, key) {
        StoreChoice::File => "file".to_owned(),
        StoreChoice::Helper { name, .. } => name,
    }
}

/// Checks every target, [`PARALLEL_CHECKS`] at a time; rows in the targets' order.
fn check_all(
    config: &ConfigFile,
    targets: Vec<Target>,
    options: &StoreOptions,
    transport: &TransportOptions,
) -> Vec<Row> {
    let total = targets.len();
    let progress = std::io::stderr().is_terminal() && total > 0;
    let next = AtomicUsize::new(0);
    let cache = TokenCache::from_env(&Env::from_process());
    let (sender, receiver) = mpsc::channel();
    let mut rows: Vec<Option<Row>> = vec![None; total];
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_CHECKS.min(total) {
            let sender = sender.clone();
            let (next, targets, cache) = (&next, &targets, &cache);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(index) else {
                        break;
                    };
                    let row = check(config, target, options, transport, cache);
                    if sender.send((index, row)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut done = 0;
        if progress {
            eprint!("checking registries: 0/{total}");
        }
        for (index, row) in receiver {
            rows[index] = Some(row);
            done += 1;
            if progress {
                eprint!("\r\x1b[Kchecking registries: {done}/{total}");
            }
        }
        if progress {
            eprint!("\r\x1b[K");
        }
    });
    rows.into_iter().flatten().collect()
}

fn check(
    config: &ConfigFile,
    target: &Target,
    options: &StoreOptions,
    transport: &TransportOptions,
    cache: &TokenCache,
) -> Row {
    let mut row = Row {
        registry: target.key.clone(),
        username: target.username.clone(),
        store: target.store.clone(),
        status: Verdict::NoCredentials,
        detail: None,
        expires_at: None,
    };
    let creds = match store::credentials_for(config, &target.key, options) {
        Ok(Some((_, creds))) if !creds.is_empty() => creds,
        Ok(_) => {
            row.detail = Some(if target.listed {
                format!(
                    "the {} store listed it but gave no credentials",
                    target.store
                )
            } else {
                format!("no credentials in the {} store", target.store)
            });
            return row;
        }
        Err(err) => {
            row.status = Verdict::Error;
            row.detail = Some(format!("cannot read the credentials: {err}"));
            return row;
        }
    };
    if row.username.is_empty() {
        row.username = creds.username.clone();
    }
    let host = RegistryAddress::for_login(Some(&target.key)).host;
    if parse_registry(&target.key).is_some() && creds.identity_token.is_none() {
        row.expires_at = expiry::password_expiry(creds.password.expose(), cache)
            .map(|at: SystemTime| time::format_rfc3339(at));
    }
    match auth::login(&host, &creds, transport) {
        Ok(_) => row.status = Verdict::Valid,
        Err(err) => {
            row.status = verdict_of(&err);
            row.detail = Some(err.to_string());
        }
    }
    row
}

fn verdict_of(err: &AuthError) -> Verdict {
    if err.is_unauthorized() {
        Verdict::Invalid
    } else if matches!(err, AuthError::Transport { .. }) {
        Verdict::Unreachable
    } else {
        Verdict::Error
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything (no-color.org) or
/// `TERM=dumb`.
fn use_colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        && std::env::var_os("TERM").is_none_or(|term| term != "dumb")
}

fn print_table(rows: &[Row], colour: bool) {
    let width = |pick: fn(&Row) -> &str, title: &str| {
        rows.iter()
            .map(|row| pick(row).chars().count())
            .fold(title.len(), usize::max)
    };
    let registry_width = width(|row| &row.registry, "REGISTRY");
    let user_width = width(|row| &row.username, "USERNAME");
    let store_width = width(|row| &row.store, "STORE");
    let status_width = width(|row| row.status.text(), "STATUS");
    let expires_width = width(|row| row.expires_at.as_deref().unwrap_or("-"), "EXPIRES");
    println!(
        "{:registry_width$}   {:user_width$}   {:store_width$}   {:status_width$}   \
         {:expires_width$}   DETAIL",
        "REGISTRY", "USERNAME", "STORE", "STATUS", "EXPIRES"
    );
    for row in rows {
        let status = format!("{:status_width$}", row.status.text());
        let status = if colour {
            format!("\x1b[{}m{status}\x1b[0m", row.status.colour())
        } else {
            status
        };
        let line = format!(
            "{:registry_width$}   {:user_width$}   {:store_width$}   {status}   \
             {:expires_width$}   {}",
            row.registry,
            row.username,
            row.store,
            row.expires_at.as_deref().unwrap_or("-"),
            row.detail.as_deref().unwrap_or(""),
        );
        println!("{}", line.trim_end());
    }
}
