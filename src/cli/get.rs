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
