//! `reglogin logout [SERVER]`.

use std::path::Path;

use clap::Args;

use super::CliError;
use crate::address::{DOCKER_HUB_KEY, convert_to_hostname, logout_keys};
use crate::store::{self, StoreOptions};

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// Registry to log out from (default: Docker Hub)
    server: Option<String>,
}

pub fn run(args: LogoutArgs, config_path: &Path) -> Result<(), CliError> {
    super::warn_if_env_auth_config();
    let server = args
        .server
        .as_deref()
        .filter(|server| !server.trim().is_empty());
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
