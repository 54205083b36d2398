//! `reglogin logout [SERVER]`: Docker's logout, or with `--authfile` podman's (`--all` too).

use std::path::Path;

use clap::Args;

use super::CliError;
use super::target::Target;
use crate::address::{DOCKER_HUB_KEY, convert_to_hostname, logout_keys};
use crate::authfile::{self, AuthFile};
use crate::store::{self, StoreOptions};

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Registry to log out from (default: Docker Hub); with an auth.json also a namespace
    /// (`registry/team`)
    server: Option<String>,

    /// Remove every registry's credentials (auth.json only, as `podman logout --all`)
    #[arg(long, conflicts_with = "server")]
    all: bool,

    #[command(flatten)]
    target: super::target::AuthFileArgs,
}

pub fn run(args: LogoutArgs, config_path: &Path) -> Result<(), CliError> {
    super::warn_if_env_auth_config();
    match args.target.target(config_path) {
        Target::Containers(auth) => logout_containers(args.server.as_deref(), args.all, &auth),
        Target::Docker { .. } if args.all => Err(CliError(
            "--all works on a containers auth.json: add --authfile PATH or --containers".into(),
        )),
        Target::Docker { config_path } => logout_docker(args.server.as_deref(), &config_path),
    }
}

fn logout_docker(server: Option<&str>, config_path: &Path) -> Result<(), CliError> {
    let server = server.filter(|server| !server.trim().is_empty());
    let shown = server.map_or(DOCKER_HUB_KEY, |server| convert_to_hostname(server.trim()));
    println!("Removing login credentials for {shown}");
    let results = store::erase(config_path, &logout_keys(server), &StoreOptions::default())?;
    // Docker warns only when no key could be erased; not being logged in is not an error.
    if results.iter().all(|erased| erased.outcome.is_err()) {
        eprintln!("WARNING: could not erase credentials:");
        for erased in &results {
            if let Err(err) = &erased.outcome {
                eprintln!("{}: {err}", erased.key);
            }
        }
    }
    Ok(())
}

/// podman's messages; not being logged in is an error there (exit 1 here, as skopeo; podman
/// exits 125).
fn logout_containers(server: Option<&str>, all: bool, auth: &AuthFile) -> Result<(), CliError> {
    let options = StoreOptions::default();
    if all {
        authfile::erase_all(auth, &options)?;
        println!("Removed login credentials for all registries");
        return Ok(());
    }
    let key = authfile::login_key(server)?;
    if authfile::erase(auth, &key, &options)? {
        println!("Removed login credentials for {}", key.key);
        Ok(())
    } else {
        Err(CliError(format!("not logged into {}", key.key)))
    }
}
