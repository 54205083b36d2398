//! `reglogin acr login REGISTRY`: an Azure Container Registry login for a service principal,
//! without the Azure CLI; the ACR refresh token is stored as the identity token through the
//! normal store path.

use std::path::Path;

use clap::{Args, Subcommand};

use super::CliError;
use crate::address::RegistryAddress;
use crate::cloud::aws::Env;
use crate::cloud::azure;
use crate::credentials::Credentials;
use crate::secret::Secret;
use crate::store::{self, Saved, StoreOptions};

#[derive(Args, Debug)]
pub struct AcrArgs {
    #[command(subcommand)]
    command: AcrCommand,
}

#[derive(Subcommand, Debug)]
enum AcrCommand {
    /// Exchange a service principal's Entra ID token (AZURE_CLIENT_ID, AZURE_TENANT_ID,
    /// AZURE_CLIENT_SECRET) for an ACR refresh token and store it
    Login(AcrLoginArgs),
}

#[derive(Args, Debug)]
struct AcrLoginArgs {
    /// The registry: NAME.azurecr.io
    #[arg(value_name = "REGISTRY")]
    registry: String,
}

pub fn run(args: AcrArgs, config_path: &Path) -> Result<(), CliError> {
    match args.command {
        AcrCommand::Login(args) => login(args, config_path),
    }
}

fn login(args: AcrLoginArgs, config_path: &Path) -> Result<(), CliError> {
    let registry = args
        .registry
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    // Loopback registries are allowed as everywhere else in reglogin (local mirrors, tests).
    if !azure::is_acr_host(&registry) && !crate::auth::is_loopback_host(&registry) {
        return Err(azure::AzureError::NotAcr(registry).into());
    }
    let refresh = azure::refresh_token(&Env::from_process(), &registry)
        .map_err(|err| CliError(format!("Error logging in to {registry}: {err}")))?;
    let address = RegistryAddress::for_login(Some(&registry));
    let creds = Credentials {
        username: azure::USERNAME.to_owned(),
        password: Secret::default(),
        identity_token: Some(refresh),
        registry_token: None,
    };
    let saved = store::save(config_path, &address.key, &creds, &StoreOptions::default())
        .map_err(|err| CliError(format!("Error saving credentials: {err}")))?;
    if let Saved::InFile { path } = &saved {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            path.display()
        );
    }
    println!("Login Succeeded");
    Ok(())
}
