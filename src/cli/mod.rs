//! The command line: flags, prompts, messages and exit codes, as `docker login` / `docker logout`
//! have them. Library errors are rendered here, once, on stderr.

mod acr;
mod completions;
mod ecr;
mod export;
mod gcr;
mod get;
mod helper;
mod list;
mod login;
mod logout;
mod status;
mod target;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "reglogin",
    version,
    about = "Log in to container registries and manage their credentials, as Docker does"
)]
struct Cli {
    /// Location of the client config files (default: $DOCKER_CONFIG or ~/.docker)
    #[arg(long, global = true, value_name = "DIR")]
    config: Option<PathBuf>,

    /// Print what reglogin does on stderr: files, store choice, helper runs, HTTP requests
    /// (never a secret). Also REGLOGIN_DEBUG=1
    #[arg(short = 'D', long, global = true)]
    debug: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify credentials against a registry and save them
    Login(login::LoginArgs),
    /// Remove a registry's credentials
    Logout(logout::LogoutArgs),
    /// Print the credentials Docker would use for a registry (helper-protocol JSON)
    Get(get::GetArgs),
    /// List every registry with stored credentials (never the secrets)
    List(list::ListArgs),
    /// Amazon ECR: get-login-password and login, without the AWS CLI
    Ecr(ecr::EcrArgs),
    /// Google Container Registry / Artifact Registry: configure credHelpers, print a token
    Gcr(gcr::GcrArgs),
    /// Azure Container Registry: log in with a service principal, without the Azure CLI
    Acr(acr::AcrArgs),
    /// reglogin as a docker-credential helper: the protocol actions, and `install`
    Helper(helper::HelperArgs),
    /// Print registries' credentials as a Kubernetes Secret (kubernetes.io/dockerconfigjson)
    Export(export::ExportArgs),
    /// Check every stored login against its registry: valid, invalid, unreachable
    Status(status::StatusArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff), or write one page per subcommand
    Man(completions::ManArgs),
}

/// A failure already phrased for the user; an empty message has been reported already.
pub struct CliError(String);

impl CliError {
    /// Exit 1 without a further message.
    pub fn silent() -> CliError {
        CliError(String::new())
    }
}

impl<E: std::fmt::Display> From<E> for CliError {
    fn from(err: E) -> Self {
        CliError(err.to_string())
    }
}

pub fn run(args: Vec<OsString>) -> i32 {
    // Installed as `docker-credential-ecr-login` (a link to reglogin): the ECR helper protocol.
    let program = args
        .first()
        .map(std::path::Path::new)
        .and_then(|path| path.file_name());
    if program.is_some_and(|name| name == "docker-credential-ecr-login") {
        let action = args
            .get(1)
            .and_then(|action| action.to_str())
            .unwrap_or_default();
        return ecr::serve_ecr_helper(action);
    }
    // Installed as `docker-credential-gcr` or `docker-credential-gcloud`: Google's registries.
    if program.is_some_and(|name| gcr::HELPER_PROGRAMS.iter().any(|known| name == *known)) {
        let action = args
            .get(1)
            .and_then(|action| action.to_str())
            .unwrap_or_default();
        return gcr::serve_gcr_helper(action);
    }
    // Installed as `docker-credential-reglogin` (`reglogin helper install`): reglogin's own store.
    if program.is_some_and(|name| name == crate::helper_server::HELPER_PROGRAM) {
        return helper::serve_as(if args.len() == 2 {
            args[1].to_str()
        } else {
            None
        });
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return usage_exit_status(&err);
        }
    };
    if cli.debug {
        crate::debug::enable();
    }
    let config_path = reglogin_config_path(cli.config.as_deref());
    let result = match cli.command {
        Command::Login(args) => login::run(args, &config_path),
        Command::Logout(args) => logout::run(args, &config_path),
        Command::Get(args) => get::run(args, &config_path),
        Command::List(args) => list::run(args, &config_path),
        Command::Ecr(args) => ecr::run(args, &config_path),
        Command::Gcr(args) => gcr::run(args, &config_path),
        Command::Acr(args) => acr::run(args, &config_path),
        Command::Helper(args) => helper::run(args, &config_path),
        Command::Export(args) => export::run(args, &config_path),
        Command::Status(args) => status::run(args, &config_path),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    };
    match result {
        Ok(()) => 0,
        Err(CliError(message)) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            1
        }
    }
}

/// Docker's statuses for a command line it cannot use: 125 for a flag it cannot parse (its
/// flag-error handler), 1 for a wrong number of arguments or an unknown command; 0 for help.
fn usage_exit_status(err: &clap::Error) -> i32 {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let about_a_flag = matches!(
        err.get(ContextKind::InvalidArg),
        Some(ContextValue::String(arg)) if arg.starts_with('-')
    );
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
        ErrorKind::UnknownArgument
        | ErrorKind::InvalidValue
        | ErrorKind::NoEquals
        | ErrorKind::ValueValidation
        | ErrorKind::InvalidUtf8
            if about_a_flag =>
        {
            125
        }
        _ => 1,
    }
}

/// login and logout change the stores, which `DOCKER_AUTH_CONFIG` sits in front of.
fn warn_if_env_auth_config() {
    use crate::store::AUTH_CONFIG_ENV;
    if std::env::var_os(AUTH_CONFIG_ENV).is_some_and(|value| !value.is_empty()) {
        eprintln!(
            "WARNING! {AUTH_CONFIG_ENV} is set: credentials it holds are used before the ones this command saves or removes."
        );
    }
}

fn reglogin_config_path(config_dir: Option<&std::path::Path>) -> PathBuf {
    crate::config::config_dir(config_dir).join(crate::config::CONFIG_FILE_NAME)
}
