//! `reglogin list`: every registry with credentials, its user and the store holding it
//! (Docker's view, or with `--authfile` podman's).

use std::path::Path;

use clap::{Args, ValueEnum};

use super::CliError;
use crate::store::{self, StoreOptions};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,

    #[command(flatten)]
    target: super::target::AuthFileArgs,
}

pub fn run(args: ListArgs, config_path: &Path) -> Result<(), CliError> {
    let target = args.target.target(config_path);
    let (listed, failures) = target.list_all(&StoreOptions::default())?;
    for (host, err) in &failures {
        eprintln!("WARNING: failed to get credentials for registry {host}: {err}");
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&listed)?),
        Format::Table => {
            let width = |pick: fn(&store::Listed) -> &str, title: &str| {
                listed
                    .iter()
                    .map(|entry| pick(entry).len())
                    .fold(title.len(), usize::max)
            };
            let registry_width = width(|entry| &entry.registry, "REGISTRY");
            let user_width = width(|entry| &entry.username, "USERNAME");
            println!(
                "{:registry_width$}   {:user_width$}   STORE",
                "REGISTRY", "USERNAME"
            );
            for entry in &listed {
                println!(
                    "{:registry_width$}   {:user_width$}   {}",
                    entry.registry, entry.username, entry.store
                );
            }
        }
    }
    Ok(())
}
