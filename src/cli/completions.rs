//! `reglogin completions SHELL` and `reglogin man`: shell completion scripts (clap_complete) and
//! the manual page (clap_mangen), both generated from the command-line definition itself, so
//! they cannot drift from the flags.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::{Cli, CliError};

/// Sections of reglogin(1) that the flags cannot tell: exit status and environment.
const EXTRA_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success. For \fBstatus\fR: every registry checked is valid (or none has credentials).
.TP
\fB1\fR
Any failure, including a usage error (an unknown flag or subcommand, a missing argument).
\fBget\fR: no credentials for the registry. \fBstatus\fR: at least one registry is not valid.
As \fBdocker-credential-reglogin\fR or \fBdocker-credential-ecr-login\fR: the action failed.
.SH ENVIRONMENT
.TP
\fBDOCKER_CONFIG\fR
The config directory (default \fI~/.docker\fR); \fB--config\fR overrides it.
.TP
\fBREGLOGIN_HTTP_TIMEOUT\fR
Seconds for connecting to and hearing from a registry (default 15).
.TP
\fBREGLOGIN_HELPER_TIMEOUT\fR
Seconds a credential helper may take (default 60).
.TP
\fBHTTPS_PROXY\fR, \fBHTTP_PROXY\fR, \fBNO_PROXY\fR
Proxies for registry and AWS requests.
.TP
\fBNO_COLOR\fR
When set and not empty, \fBstatus\fR prints no colour, even on a terminal.
"#;

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
            let failed = |err: std::io::Error| {
                CliError(format!("cannot write into {}: {err}", dir.display()))
            };
            clap_mangen::generate_to(command, &dir).map_err(failed)?;
            let mut top = std::fs::OpenOptions::new()
                .append(true)
                .open(dir.join("reglogin.1"))
                .map_err(failed)?;
            top.write_all(EXTRA_SECTIONS.as_bytes()).map_err(failed)
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|err| CliError(format!("cannot render the man page: {err}")))?;
            page.extend_from_slice(EXTRA_SECTIONS.as_bytes());
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
