//! The `pass` layout, entry for entry what `docker-credential-pass` reads and writes:
//! `$PASSWORD_STORE_DIR` (default `~/.password-store`) `/docker-credential-helpers/`
//! base64url(ServerURL) with `=` padding `/USERNAME.gpg`, the file holding only the secret.
//!
//! Secrets go through the `pass` program (so its GPG recipients, git integration and hooks
//! apply): `pass insert -f -m NAME` with the secret on stdin, `pass show NAME`, `pass rm`.
//! Directory listings are read from the store directly, as the Go helper does.
//!
//! One deliberate difference: `store` removes the entries of other usernames for the same server
//! after the new one is written. The Go helper leaves them, and its `get` then answers with the
//! first username in name order, which may not be the one just logged in.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE as BASE64_URL;

use super::{Backend, HelperError};
use crate::secret::Secret;

const NAME: &str = "pass";

/// The folder of the password store that holds Docker's entries.
pub const PASS_FOLDER: &str = "docker-credential-helpers";

/// The password store, used through the `pass` program.
#[derive(Clone, Debug)]
pub struct PassStore {
    program: PathBuf,
    store_dir: PathBuf,
}

impl PassStore {
    /// The `pass` program on `PATH` and an initialised store (its `.gpg-id` exists).
    pub fn open() -> Result<PassStore, HelperError> {
        let program = crate::store::find_program("pass").ok_or_else(|| {
            HelperError::backend(NAME, "the pass program is not on PATH (install pass)")
        })?;
        let store_dir = store_dir();
        if !store_dir.join(".gpg-id").is_file() {
            return Err(HelperError::backend(
                NAME,
                format!(
                    "pass not initialized: {} has no .gpg-id (run `pass init GPG-KEY-ID`)",
                    store_dir.display()
                ),
            ));
        }
        Ok(PassStore { program, store_dir })
    }

    /// Whether [`PassStore::open`] would succeed, without running anything.
    pub fn available() -> bool {
        crate::store::find_program("pass").is_some() && store_dir().join(".gpg-id").is_file()
    }

    pub fn store_dir(&self) -> &Path {
        &self.store_dir
    }

    fn server_dir(&self, server_url: &str) -> PathBuf {
        self.store_dir
            .join(PASS_FOLDER)
            .join(folder_name(server_url))
    }

    /// Usernames under a server's folder, in name order (the Go helper's `os.ReadDir` order).
    fn usernames(&self, server_dir: &Path) -> Result<Vec<String>, HelperError> {
        let entries = match fs::read_dir(server_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(self.io_error(server_dir, err)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|err| self.io_error(server_dir, err))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(user) = name.strip_suffix(".gpg")
                && entry.file_type().is_ok_and(|kind| !kind.is_dir())
            {
                names.push(user.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn io_error(&self, path: &Path, err: io::Error) -> HelperError {
        HelperError::backend(NAME, format!("{}: {err}", path.display()))
    }

    /// Runs `pass ARGS` with `stdin`; its stdout on success, its stderr in the error.
    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Secret, HelperError> {
        let mut child = Command::new(&self.program)
            .args(args)
            .env("PASSWORD_STORE_DIR", &self.store_dir)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                HelperError::backend(
                    NAME,
                    format!("cannot run {}: {err}", self.program.display()),
                )
            })?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // pass reads all of stdin before it runs gpg, so this cannot dead-lock on stdout.
            let _ = pipe.write_all(data);
        }
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut pipe) = child.stdout.take() {
            let _ = pipe.read_to_end(&mut stdout);
        }
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_end(&mut stderr);
        }
        let status = child
            .wait()
            .map_err(|err| HelperError::backend(NAME, format!("waiting for pass: {err}")))?;
        let text = String::from_utf8(stdout);
        if !status.success() {
            if let Ok(mut text) = text {
                zeroize::Zeroize::zeroize(&mut text);
            }
            return Err(HelperError::backend(
                NAME,
                format!(
                    "pass {} failed ({status}): {}",
                    args.first().copied().unwrap_or_default(),
                    String::from_utf8_lossy(&stderr).trim()
                ),
            ));
        }
        text.map(Secret::new).map_err(|err| {
            let mut bytes = err.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            HelperError::backend(NAME, "pass printed a secret that is not UTF-8")
        })
    }
}

impl Backend for PassStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, server_url: &str) -> Result<Option<(String, Secret)>, HelperError> {
        let folder = folder_name(server_url);
        let Some(username) = self
            .usernames(&self.server_dir(server_url))?
            .into_iter()
            .next()
        else {
            return Ok(None);
        };
        let shown = self.run(
            &["show", &format!("{PASS_FOLDER}/{folder}/{username}")],
            None,
        )?;
        // pass 1.7.1+ ends `show` with a newline; the Go helper trims line ends too.
        let secret = Secret::new(shown.expose().trim_end_matches(['\n', '\r']));
        Ok(Some((username, secret)))
    }

    fn store(&self, server_url: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
        if username.contains('/') || username == "." || username == ".." || username.contains('\0')
        {
            return Err(HelperError::backend(
                NAME,
                format!("the username {username:?} cannot be a file name in the password store"),
            ));
        }
        let folder = folder_name(server_url);
        let name = format!("{PASS_FOLDER}/{folder}/{username}");
        self.run(
            &["insert", "--force", "--multiline", &name],
            Some(secret.expose().as_bytes()),
        )?;
        for other in self.usernames(&self.server_dir(server_url))? {
            if other != username {
                self.run(
                    &["rm", "--force", &format!("{PASS_FOLDER}/{folder}/{other}")],
                    None,
                )?;
            }
        }
        Ok(())
    }

    fn erase(&self, server_url: &str) -> Result<bool, HelperError> {
        let server_dir = self.server_dir(server_url);
        if fs::symlink_metadata(&server_dir).is_err() {
            return Ok(false);
        }
        let name = format!("{PASS_FOLDER}/{}", folder_name(server_url));
        self.run(&["rm", "--recursive", "--force", &name], None)?;
        Ok(true)
    }

    fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
        let root = self.store_dir.join(PASS_FOLDER);
        let entries = match fs::read_dir(&root) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(err) => return Err(self.io_error(&root, err)),
        };
        let mut listing = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|err| self.io_error(&root, err))?;
            if !entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                continue;
            }
            // A folder that is not one of Docker's (not base64url) is someone else's: skipped.
            let Some(server_url) = entry
                .file_name()
                .to_str()
                .and_then(|name| BASE64_URL.decode(name).ok())
                .and_then(|bytes| String::from_utf8(bytes).ok())
            else {
                continue;
            };
            if let Some(username) = self.usernames(&entry.path())?.into_iter().next() {
                listing.insert(server_url, username);
            }
        }
        Ok(listing)
    }
}

/// `$PASSWORD_STORE_DIR`, else `~/.password-store`.
pub fn store_dir() -> PathBuf {
    std::env::var_os("PASSWORD_STORE_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::config::home_dir().join(".password-store"))
}

/// The folder name of a server: base64url with `=` padding (Go's `base64.URLEncoding`).
pub fn folder_name(server_url: &str) -> String {
    BASE64_URL.encode(server_url.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_padded_base64url() {
        assert_eq!(folder_name("https://r.example"), "aHR0cHM6Ly9yLmV4YW1wbGU=");
        assert_eq!(folder_name("127.0.0.1:5000"), "MTI3LjAuMC4xOjUwMDA=");
        assert_eq!(folder_name("a?>"), "YT8-");
    }
}
