//! `reglogin helper ...`: reglogin as a `docker-credential-*` helper, and its installation.
//!
//! The protocol actions behave exactly as when reglogin runs as `docker-credential-reglogin`
//! ([`serve_as`]): stdin in, stdout out, errors on stdout with exit status 1.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::CliError;
use crate::helper_server::{self, HELPER_NAME, HELPER_PROGRAM};

#[derive(Args, Debug)]
pub struct HelperArgs {
    #[command(subcommand)]
    action: HelperAction,
}

#[derive(Subcommand, Debug)]
enum HelperAction {
    /// Save the credentials read from stdin ({"ServerURL","Username","Secret"})
    Store,
    /// Print the credentials of the server URL read from stdin
    Get,
    /// Remove the credentials of the server URL read from stdin
    Erase,
    /// Print every server URL with its username
    List,
    /// Print the helper's version
    Version,
    /// Link docker-credential-reglogin to this program, so Docker can use it as a store
    Install(InstallArgs),
}

#[derive(Args, Debug)]
struct InstallArgs {
    /// Where to put the link (default: this program's directory, or ~/.local/bin when that is
    /// not writable)
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Also write "credsStore": "reglogin" into config.json
    #[arg(long)]
    set_default: bool,
}

pub fn run(args: HelperArgs, config_path: &Path) -> Result<(), CliError> {
    let action = match args.action {
        HelperAction::Store => "store",
        HelperAction::Get => "get",
        HelperAction::Erase => "erase",
        HelperAction::List => "list",
        HelperAction::Version => "version",
        HelperAction::Install(install_args) => return install(install_args, config_path),
    };
    match serve(action) {
        0 => Ok(()),
        _ => Err(CliError::silent()),
    }
}

/// Entry point when reglogin runs as `docker-credential-reglogin`. `action` is the only
/// argument (`None` when there was none, or more than one): usage text on stdout, exit 1.
pub fn serve_as(action: Option<&str>) -> i32 {
    match action {
        Some(action) => serve(action),
        None => {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(
                stdout,
                "Usage: {HELPER_PROGRAM} <store|get|erase|list|version>"
            );
            let _ = stdout.flush();
            1
        }
    }
}

/// One protocol action on the real stdin/stdout; the exit status.
fn serve(action: &str) -> i32 {
    let mut stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    match helper_server::serve(action, &mut stdin, &mut stdout) {
        Ok(()) => 0,
        Err(err) => {
            // Go helpers print errors on stdout: that is where Docker reads them.
            let _ = writeln!(stdout, "{err}");
            let _ = stdout.flush();
            1
        }
    }
}

fn install(args: InstallArgs, config_path: &Path) -> Result<(), CliError> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|err| CliError::from(format!("cannot find this program's path: {err}")))?;
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_install_dir(&exe)?,
    };
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir)
            .map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
    }
    let link = dir.join(HELPER_PROGRAM);
    match std::fs::symlink_metadata(&link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let current = std::fs::read_link(&link)
                .map_err(|err| format!("cannot read {}: {err}", link.display()))?;
            if current == exe {
                eprintln!("{} already links to {}", link.display(), exe.display());
            } else {
                replace_link(&exe, &link)?;
                eprintln!(
                    "{} -> {} (was -> {})",
                    link.display(),
                    exe.display(),
                    current.display()
                );
            }
        }
        Ok(_) => {
            return Err(CliError::from(format!(
                "{} exists and is not a link; move it away first",
                link.display()
            )));
        }
        Err(_) => {
            std::os::unix::fs::symlink(&exe, &link)
                .map_err(|err| format!("cannot create {}: {err}", link.display()))?;
            eprintln!("{} -> {}", link.display(), exe.display());
        }
    }
    if !on_path(&dir) {
        eprintln!(
            "note: {} is not on PATH; Docker finds {HELPER_PROGRAM} only on PATH",
            dir.display()
        );
    }
    if args.set_default {
        let previous = crate::config::update(config_path, |config| {
            let previous = config.creds_store().map(str::to_owned);
            config.set_creds_store(HELPER_NAME);
            Ok::<_, crate::config::ConfigError>(previous)
        })?;
        eprintln!(
            "Set \"credsStore\": \"{HELPER_NAME}\" in {}",
            config_path.display()
        );
        if let Some(previous) = previous.filter(|name| name != HELPER_NAME) {
            eprintln!(
                "note: it was \"{previous}\"; credentials kept there stay there: log in again to \
                 move them to reglogin"
            );
        }
    } else {
        eprintln!(
            "To use it for every registry, add \"credsStore\": \"{HELPER_NAME}\" to {} (or run \
             `reglogin helper install --set-default`)",
            config_path.display()
        );
    }
    Ok(())
}

/// This program's directory when it is writable, else `~/.local/bin`.
fn default_install_dir(exe: &Path) -> Result<PathBuf, CliError> {
    if let Some(dir) = exe.parent()
        && is_writable_dir(dir)
    {
        return Ok(dir.to_path_buf());
    }
    Ok(crate::config::home_dir().join(".local").join("bin"))
}

fn is_writable_dir(dir: &Path) -> bool {
    let probe = dir.join(format!(".reglogin-install-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

/// Replaces an existing link atomically (new link beside it, then rename over).
fn replace_link(target: &Path, link: &Path) -> Result<(), CliError> {
    let temp = link.with_file_name(format!(".{HELPER_PROGRAM}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    std::os::unix::fs::symlink(target, &temp)
        .and_then(|()| std::fs::rename(&temp, link))
        .map_err(|err| {
            let _ = std::fs::remove_file(&temp);
            CliError::from(format!("cannot replace {}: {err}", link.display()))
        })
}

fn on_path(dir: &Path) -> bool {
    let canonical = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path)
            .any(|entry| std::fs::canonicalize(&entry).unwrap_or(entry) == canonical)
    })
}
