//! The embedded store: one private JSON file, for machines with no keyring and no `pass`
//! (servers, CI runners, containers) where reglogin must work with zero set-up.
//!
//! Where: `$XDG_DATA_HOME/reglogin/credentials.json`, by default
//! `~/.local/share/reglogin/credentials.json`. The directory is created 0700 and the file is
//! written 0600, atomically (temp file, fsync, rename) under an exclusive lock on
//! `credentials.json.lock`, so concurrent `docker login`s do not lose each other's entries.
//!
//! # Threat model, honestly
//!
//! What it protects against: the secrets are not in `config.json`, the file people mount into
//! containers, bake into images, commit, attach to bug reports and paste into chats. With
//! `"credsStore": "reglogin"` the config holds no `auth` at all, so copying it leaks nothing.
//! The file sits under the data directory, away from `~/.docker`, so copying or mounting the
//! Docker config directory does not take it along either; its modes keep other (non-root) users
//! out.
//!
//! What it does not protect against: anything running as the same user, and root, can read it,
//! exactly as they can read `config.json` or ask the helper itself. It is not encrypted at rest:
//! the secrets are plain JSON strings, readable by whoever gets the file (a backup of
//! the home directory, a stolen disk without full-disk encryption). An encryption key kept next
//! to the file would add nothing against those readers, so there is none. Use the
//! secretservice or pass backend where the secrets must be encrypted at rest.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Backend, HelperError};
use crate::config::write;
use crate::secret::Secret;

const NAME: &str = "file";
const FILE_NAME: &str = "credentials.json";

/// The file's content.
#[derive(Serialize, Deserialize)]
struct Document {
    /// Format version, 1.
    #[serde(default = "one")]
    version: u32,
    /// Server URL as the client sent it → its credentials.
    #[serde(default)]
    credentials: BTreeMap<String, Entry>,
}

fn one() -> u32 {
    1
}

impl Default for Document {
    fn default() -> Self {
        Document {
            version: 1,
            credentials: BTreeMap::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

/// The embedded store at [`FileStore::path`].
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// The store at its default place (`$XDG_DATA_HOME/reglogin/credentials.json`).
    pub fn open() -> Result<FileStore, HelperError> {
        Ok(FileStore::at(default_path()))
    }

    /// A store kept in `path`.
    pub fn at(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, what: &str, err: impl std::fmt::Display) -> HelperError {
        HelperError::backend(NAME, format!("{what} {}: {err}", self.path.display()))
    }

    fn read(&self) -> Result<Document, HelperError> {
        let mut bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Document::default()),
            Err(err) => return Err(self.error("cannot read", err)),
        };
        let parsed = if bytes.iter().all(u8::is_ascii_whitespace) {
            Ok(Document::default())
        } else {
            serde_json::from_slice::<Document>(&bytes)
        };
        zeroize::Zeroize::zeroize(&mut bytes);
        let document = parsed.map_err(|err| {
            self.error(
                "is damaged (fix or move it away; reglogin will not overwrite it):",
                err,
            )
        })?;
        if document.version != 1 {
            return Err(self.error(
                "has an unknown format version",
                format!("{} (this reglogin knows 1)", document.version),
            ));
        }
        Ok(document)
    }

    /// Read-modify-write under the lock; writes only when `change` says it changed something.
    /// The lock and the atomic replace are config.json's own (`crate::config::write`).
    fn update<T>(&self, change: impl FnOnce(&mut Document) -> (bool, T)) -> Result<T, HelperError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        write::ensure_dir(dir).map_err(|err| self.error("cannot create the directory of", err))?;
        let _lock =
            write::ConfigLock::acquire(&self.path).map_err(|err| self.error("cannot lock", err))?;
        let mut document = self.read()?;
        let (changed, result) = change(&mut document);
        if changed {
            let mut bytes =
                serde_json::to_vec_pretty(&document).expect("a map of strings serialises");
            bytes.push(b'\n');
            let written = write::replace_file_with_mode(&self.path, &bytes, Some(0o600));
            zeroize::Zeroize::zeroize(&mut bytes);
            written.map_err(|err| self.error("cannot write", err))?;
        }
        Ok(result)
    }
}

impl Backend for FileStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, server_url: &str) -> Result<Option<(String, Secret)>, HelperError> {
        // Writers replace the file by rename, so an unlocked read sees one whole version.
        let document = self.read()?;
        Ok(document
            .credentials
            .get(server_url)
            .map(|entry| (entry.username.clone(), Secret::new(entry.secret.as_str()))))
    }

    fn store(&self, server_url: &str, username: &str, secret: &Secret) -> Result<(), HelperError> {
        self.update(|document| {
            let unchanged = document
                .credentials
                .get(server_url)
                .is_some_and(|entry| entry.username == username && entry.secret == secret.expose());
            if !unchanged {
                document.credentials.insert(
                    server_url.to_owned(),
                    Entry {
                        username: username.to_owned(),
                        secret: secret.expose().to_owned(),
                    },
                );
            }
            (!unchanged, ())
        })
    }

    fn erase(&self, server_url: &str) -> Result<bool, HelperError> {
        if !self.path.exists() {
            return Ok(false);
        }
        self.update(|document| {
            let removed = document.credentials.remove(server_url).is_some();
            (removed, removed)
        })
    }

    fn list(&self) -> Result<BTreeMap<String, String>, HelperError> {
        Ok(self
            .read()?
            .credentials
            .iter()
            .map(|(server, entry)| (server.clone(), entry.username.clone()))
            .collect())
    }
}

/// `$XDG_DATA_HOME/reglogin/credentials.json`, `XDG_DATA_HOME` defaulting to `~/.local/share`
/// (an unset, empty or relative value counts as unset, as the XDG spec says).
pub fn default_path() -> PathBuf {
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| crate::config::home_dir().join(".local").join("share"));
    data_home.join("reglogin").join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("reglogin-filestore-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn round_trip_with_private_modes() {
        let dir = scratch("round");
        let store = FileStore::at(dir.join("reglogin").join(FILE_NAME));
        assert!(store.get("r.example").unwrap().is_none());
        assert!(!store.erase("r.example").unwrap());
        store
            .store("r.example", "alice", &Secret::new("pw"))
            .unwrap();
        store
            .store("https://index.docker.io/v1/", "<token>", &Secret::new("rt"))
            .unwrap();
        let (user, secret) = store.get("r.example").unwrap().unwrap();
        assert_eq!((user.as_str(), secret.expose()), ("alice", "pw"));
        assert_eq!(store.list().unwrap().len(), 2);
        let meta = fs::metadata(store.path()).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let dir_meta = fs::metadata(store.path().parent().unwrap()).unwrap();
        assert_eq!(dir_meta.mode() & 0o777, 0o700);
        assert!(store.erase("r.example").unwrap());
        assert!(store.get("r.example").unwrap().is_none());
        let leftovers: Vec<_> = fs::read_dir(store.path().parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_an_error_and_is_left_alone() {
        let dir = scratch("damaged");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        fs::write(&path, "{not json").unwrap();
        let store = FileStore::at(&path);
        let err = store
            .store("r.example", "alice", &Secret::new("pw"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{not json");
        fs::remove_dir_all(dir).unwrap();
    }
}
