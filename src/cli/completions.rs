//! `reglogin completions SHELL` and `reglogin man`: shell completion scripts (clap_complete) and
//! the manual page (clap_mangen), both generated from the command-line definition itself, so
//! they cannot drift from the flags.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::{Cli, CliError};

#[derive(Args, Debug)]
#[command(after_help = "\
Install, for example:
  bash:       reglogin completions bash > ~/.local/share/bash-completion/completions/reglogin
  zsh:        reglogin completions zsh > ~/.zfunc/_reglogin   (with ~/.zfunc on $fpath)
  fish:       reglogin completions fish > ~/.config/fish/completions/reglogin.fish
  PowerShell: reglogin completions powershell | Out-String | Invoke-Expression")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write reglogin.1 and one page per subcommand (reglogin-login.1, ...) into DIR instead of
    /// printing reglogin(1)
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "reglogin", &mut script);
    write_stdout(&script)
}

pub fn man(args: ManArgs) -> Result<(), CliError> {
    let command = Cli::command();
    match args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|err| CliError(format!("cannot create {}: {err}", dir.display())))?;
            clap_mangen::generate_to(command, &dir)
                .map_err(|err| CliError(format!("cannot write into {}: {err}", dir.display())))
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|err| CliError(format!("cannot render the man page: {err}")))?;
            write_stdout(&page)
        }
    }
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|err| CliError(format!("cannot write the output: {err}")))
}
