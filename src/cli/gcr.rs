//! `reglogin gcr configure` (credHelpers entries, as `gcloud auth configure-docker` writes
//! them), `reglogin gcr get-token`, and `docker-credential-gcr` / `docker-credential-gcloud`
//! (the helper protocol on stdin/stdout).

use std::io::Write;
use std::path::Path;

use clap::{Args, Subcommand};

use super::CliError;
use crate::cloud::aws::Env;
use crate::cloud::gcp::{self, helper};

/// The program names (argv[0]) that serve Google's registries.
pub const HELPER_PROGRAMS: [&str; 2] = ["docker-credential-gcr", "docker-credential-gcloud"];

#[derive(Args, Debug)]
pub struct GcrArgs {
    #[command(subcommand)]
    command: GcrCommand,
}

#[derive(Subcommand, Debug)]
enum GcrCommand {
    /// Name the `gcloud` helper for Google registries in credHelpers, as
    /// `gcloud auth configure-docker` does (link docker-credential-gcloud to reglogin)
    Configure(ConfigureArgs),
    /// Print an access token from Application Default Credentials
    GetToken,
}

#[derive(Args, Debug)]
struct ConfigureArgs {
    /// Comma-separated registry hosts (default: gcr.io, us.gcr.io, eu.gcr.io, asia.gcr.io,
    /// staging-k8s.gcr.io, marketplace.gcr.io)
    #[arg(long, value_name = "HOSTS", value_delimiter = ',')]
    registries: Vec<String>,
}

pub fn run(args: GcrArgs, config_path: &Path) -> Result<(), CliError> {
    match args.command {
        GcrCommand::Configure(args) => configure(args, config_path),
        GcrCommand::GetToken => get_token(),
    }
}

fn configure(args: ConfigureArgs, config_path: &Path) -> Result<(), CliError> {
    let hosts: Vec<String> = if args.registries.is_empty() {
        gcp::DEFAULT_HOSTS.iter().map(|h| (*h).to_owned()).collect()
    } else {
        args.registries
            .iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect()
    };
    for host in &hosts {
        if !gcp::is_google_registry(host) || host.contains('/') || host.contains(':') {
            return Err(CliError(format!(
                "`{host}` is not a Google registry host (gcr.io, *.gcr.io, *-docker.pkg.dev)"
            )));
        }
    }
    let changed = crate::config::update(config_path, |config| {
        let mut changed = Vec::new();
        for host in &hosts {
            if config.cred_helper(host) != Some(gcp::HELPER_NAME) {
                config.set_cred_helper(host, gcp::HELPER_NAME);
                changed.push(host.clone());
            }
        }
        Ok::<_, CliError>(changed)
    })?;
    if changed.is_empty() {
        eprintln!(
            "credHelpers in {} already name gcloud for these hosts",
            config_path.display()
        );
    } else {
        eprintln!("Adding credentials for: {}", changed.join(", "));
        eprintln!("{} updated.", config_path.display());
    }
    Ok(())
}

fn get_token() -> Result<(), CliError> {
    let fetched = gcp::access_token(&Env::from_process())?;
    if let Some(warning) = fetched.warning {
        eprintln!("reglogin: warning: {warning}");
    }
    let line = crate::secret::Secret::new(format!("{}\n", fetched.token.token.expose()));
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(line.expose().as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|err| CliError(format!("cannot write the token: {err}")))
}

/// `docker-credential-gcr ACTION` / `docker-credential-gcloud ACTION`: one helper call on the
/// process's stdin and stdout; returns the exit code.
pub fn serve_gcr_helper(action: &str) -> i32 {
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| HELPER_PROGRAMS[0].to_owned());
    let code = helper::serve(
        &program,
        action,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
        &Env::from_process(),
    );
    let _ = std::io::stdout().flush();
    code
}
