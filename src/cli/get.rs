//! `reglogin get SERVER`: the credentials Docker would use for SERVER (or, with an auth.json,
//! podman), printed as helper-protocol JSON for scripts and other tools.

use std::path::Path;

use clap::Args;

use super::CliError;
use super::target::Target;
use crate::authfile;
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};
use crate::store::{self, StoreOptions};

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Registry host, login address or image reference
    server: String,

    #[command(flatten)]
    target: super::target::AuthFileArgs,
}

pub fn run(args: GetArgs, config_path: &Path) -> Result<(), CliError> {
    if let Target::Containers(auth) = args.target.target(config_path) {
        return get_containers(&args.server, &auth);
    }

    let config = store::load_for_server(config_path, &args.server)?;
    match store::credentials_for(&config, &args.server, &StoreOptions::default())? {
        Some((key, creds)) => {
            let wire = WireCredentials::from_credentials(&key, &creds);
            println!("{}", wire.to_go_json_line().expose().trim_end());
            Ok(())
        }
        // The answer a credential helper gives, so scripts can treat reglogin like one.
        None => {
            println!("{NOT_FOUND_MESSAGE}");
            Err(CliError::silent())
        }
    }
}

/// The same answer from an auth.json lookup (see [`authfile::credentials_for`]).
fn get_containers(server: &str, auth: &authfile::AuthFile) -> Result<(), CliError> {
    let key = authfile::lookup_key(server)?;
    match authfile::credentials_for(auth, &key, &StoreOptions::default())? {
        Some(found) => {
            let wire = WireCredentials::from_credentials(&found.key, &found.creds);
            println!("{}", wire.to_go_json_line().expose().trim_end());
            Ok(())
        }
        None => {
            println!("{NOT_FOUND_MESSAGE}");
            Err(CliError::silent())
        }
    }
}
