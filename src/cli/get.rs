//! `reglogin get SERVER`: the credentials Docker would use for SERVER, printed as
//! helper-protocol JSON for scripts and other tools.

use std::path::Path;

use clap::Args;

use super::CliError;
use crate::config::ConfigFile;
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};
use crate::store::{self, StoreOptions};

#[derive(Args, Debug)]
pub struct GetArgs {
    /// Registry host, login address or image reference
    server: String,
}

pub fn run(args: GetArgs, config_path: &Path) -> Result<(), CliError> {
    let config = ConfigFile::load(config_path)?;
    let found = store::credentials_for(&config, &args.server, &StoreOptions::default())?;
    // The process ends right after printing: freeing a large document piece by piece would be
    // a sixth of the time of a `get` on a 10,000-entry config, and the OS reclaims it anyway.
    std::mem::forget(config);
    match found {
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
