//! `reglogin get SERVER`: the credentials Docker would use for SERVER (or, with `--authfile`,
//! podman), printed as helper-protocol JSON for scripts and other tools.

use std::path::Path;

use clap::Args;

use super::CliError;
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};
use crate::store::StoreOptions;

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Registry host, login address or image reference
    server: String,

    #[command(flatten)]
    target: super::target::AuthFileArgs,
}

pub fn run(args: GetArgs, config_path: &Path) -> Result<(), CliError> {
    let target = args.target.target(config_path);
    match target.credentials_for(&args.server, &StoreOptions::default())? {
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
