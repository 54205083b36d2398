//! `reglogin ecr get-login-password` and `reglogin ecr login`: Amazon ECR logins without the
//! AWS CLI; and `docker-credential-ecr-login` (the helper protocol on stdin/stdout).

use std::io::Write;
use std::path::Path;

use clap::{Args, Subcommand};

use super::CliError;
use crate::address::RegistryAddress;
use crate::auth::{self, TransportOptions};
use crate::cloud::aws::{AwsOptions, Env, Session};
use crate::cloud::ecr::{AuthorizationToken, EcrClient, EcrService, helper};
use crate::credentials::Credentials;
use crate::store::{self, Saved, StoreOptions};

#[derive(Args, Debug)]
pub struct EcrArgs {
    #[command(subcommand)]
    command: EcrCommand,
}

#[derive(Subcommand, Debug)]
enum EcrCommand {
    /// Print a registry password, as `aws ecr get-login-password` does
    GetLoginPassword(PasswordArgs),
    /// Get a token from Amazon ECR and log in to the registry with it
    Login(EcrLoginArgs),
}

#[derive(Args, Debug)]
struct AwsFlags {
    /// AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region)
    #[arg(long, value_name = "REGION")]
    region: Option<String>,

    /// AWS profile from ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE or "default")
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Call the ECR API at this URL (default: AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the region's endpoint)
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,

    /// Amazon ECR Public (public.ecr.aws, API in us-east-1) instead of a private registry
    #[arg(long)]
    public: bool,
}

#[derive(Args, Debug)]
struct PasswordArgs {
    #[command(flatten)]
    aws: AwsFlags,
}

#[derive(Args, Debug)]
struct EcrLoginArgs {
    #[command(flatten)]
    aws: AwsFlags,

    /// Log in to these registries (12-digit account IDs; default: your account's registry)
    #[arg(long, value_name = "ID", num_args = 1..)]
    registry_ids: Vec<String>,

    /// Store the token without checking it against the registry (AWS issued it, so this only
    /// saves a round trip; also for endpoints whose registries cannot be reached)
    #[arg(long)]
    no_verify: bool,
}

pub fn run(args: EcrArgs, config_path: &Path) -> Result<(), CliError> {
    match args.command {
        EcrCommand::GetLoginPassword(args) => get_login_password(args),
        EcrCommand::Login(args) => login(args, config_path),
    }
}

/// The session and the API the flags ask for.
fn client(flags: &AwsFlags) -> Result<EcrClient, CliError> {
    let options = AwsOptions {
        profile: flags.profile.clone(),
        region: flags.region.clone(),
        endpoint_url: flags.endpoint_url.clone(),
    };
    let session = Session::new(Env::from_process(), options)?;
    let service = if flags.public {
        match session.region()? {
            Some(region) if flags.region.is_some() => EcrService::Public { region },
            _ => EcrService::public_default(),
        }
    } else {
        EcrService::Private {
            region: session.require_region()?,
            fips: false,
        }
    };
    let credentials = session.credentials()?;
    Ok(EcrClient::new(&session, service, credentials)?)
}

fn fetch(flags: &AwsFlags, registry_ids: &[String]) -> Result<Vec<AuthorizationToken>, CliError> {
    for id in registry_ids {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CliError(format!(
                "`{id}` is not a registry ID (a 12-digit AWS account ID)"
            )));
        }
    }
    Ok(client(flags)?.get_authorization_tokens(registry_ids)?)
}

fn get_login_password(args: PasswordArgs) -> Result<(), CliError> {
    let tokens = fetch(&args.aws, &[])?;
    let token = tokens
        .first()
        .ok_or_else(|| CliError("Amazon ECR returned no token".into()))?;
    let mut line = crate::secret::Secret::new(format!("{}\n", token.password.expose()));
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(line.expose().as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|err| CliError(format!("cannot write the password: {err}")))?;
    line = crate::secret::Secret::default();
    drop(line);
    Ok(())
}

fn login(args: EcrLoginArgs, config_path: &Path) -> Result<(), CliError> {
    if args.aws.public && !args.registry_ids.is_empty() {
        return Err(CliError(
            "--registry-ids applies to private registries, not to --public".into(),
        ));
    }
    let tokens = fetch(&args.aws, &args.registry_ids)?;
    let store_options = StoreOptions::default();
    for token in &tokens {
        let address = RegistryAddress::for_login(Some(token.registry_host()));
        let creds = Credentials::basic(token.username.clone(), token.password.clone());
        if !args.no_verify {
            auth::login(&address.host, &creds, &TransportOptions::default())
                .map_err(|err| CliError(format!("Error logging in to {}: {err}", address.host)))?;
        }
        let saved = store::save(config_path, &address.key, &creds, &store_options)
            .map_err(|err| CliError(format!("Error saving credentials: {err}")))?;
        if let Saved::InFile { path } = &saved {
            eprintln!(
                "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
                path.display()
            );
        }
        println!("Login Succeeded");
    }
    Ok(())
}

/// `docker-credential-ecr-login ACTION`: serves one helper call on the process's stdin and
/// stdout; returns the exit code.
pub fn serve_ecr_helper(action: &str) -> i32 {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let program = std::env::args()
        .next()
        .unwrap_or_else(|| "docker-credential-ecr-login".to_owned());
    let code = helper::serve(
        &program,
        action,
        &mut stdin.lock(),
        &mut stdout.lock(),
        &mut stderr.lock(),
        Env::from_process(),
    );
    let _ = std::io::stdout().flush();
    code
}
