//! The Google access-token cache: one JSON file, `$XDG_CACHE_HOME/reglogin/gcr/tokens.json`
//! (default `~/.cache/reglogin/gcr/`), directory 0700, file 0600, replaced atomically, as the
//! ECR cache.
//!
//! - Key: the credential source's kind and a SHA-256 of file, account, key ID and endpoint
//!   ([`super::CredentialSource::cache_key`]); private keys, refresh tokens and client secrets
//!   are never written, only access tokens (one-hour bearer tokens).
//! - An entry is served while more than 15% of its life (at least 5 minutes) remains; a failed
//!   refresh falls back to an entry that has not expired yet, never to an expired one.
//! - Expired entries are dropped on every write.
//! - `REGLOGIN_GCR_CACHE=off` disables it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::AccessToken;
use crate::cloud::aws::{Env, time};
use crate::secret::Secret;

const FILE_NAME: &str = "tokens.json";
const FORMAT_VERSION: u32 = 1;
const MIN_MARGIN: Duration = Duration::from_secs(300);

#[derive(Serialize, Deserialize, Default)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<String, CacheEntry>,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    access_token: String,
    requested_at: i64,
    expires_at: i64,
}

impl Drop for CacheEntry {
    fn drop(&mut self) {
        self.access_token.zeroize();
    }
}

#[derive(Clone, Debug)]
pub struct TokenCache {
    dir: Option<PathBuf>,
}

/// What a lookup found.
pub enum Lookup {
    /// Fresh enough to serve without asking Google.
    Fresh(AccessToken),
    /// Due for a refresh, but still valid: the answer if the refresh fails.
    Stale(AccessToken),
    Missing,
}

impl TokenCache {
    pub fn from_env(env: &Env) -> TokenCache {
        let disabled = env.get("REGLOGIN_GCR_CACHE").is_some_and(|value| {
            matches!(
                value.to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        });
        if disabled {
            return TokenCache { dir: None };
        }
        let base = env
            .get("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .unwrap_or_else(|| env.home().join(".cache"));
        TokenCache::in_dir(base.join("reglogin").join("gcr"))
    }

    pub fn in_dir(dir: PathBuf) -> TokenCache {
        TokenCache { dir: Some(dir) }
    }

    pub fn path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(FILE_NAME))
    }

    fn load(&self) -> CacheFile {
        let Some(path) = self.path() else {
            return CacheFile::default();
        };
        let Ok(mut bytes) = std::fs::read(&path) else {
            return CacheFile::default();
        };
        let parsed = serde_json::from_slice::<CacheFile>(&bytes);
        bytes.zeroize();
        match parsed {
            Ok(file) if file.version == FORMAT_VERSION => file,
            _ => CacheFile::default(),
        }
    }

    pub fn lookup(&self, key: &str, now: SystemTime) -> Lookup {
        let file = self.load();
        let Some(entry) = file.entries.get(key) else {
            return Lookup::Missing;
        };
        let now = time::unix_seconds(now);
        let Some(expires_at) = time::from_unix_seconds(entry.expires_at as f64) else {
            return Lookup::Missing;
        };
        if now >= entry.expires_at {
            return Lookup::Missing;
        }
        let token = AccessToken {
            token: Secret::new(entry.access_token.as_str()),
            expires_at,
        };
        let lifetime = (entry.expires_at - entry.requested_at).max(0);
        let margin = (lifetime * 15 / 100).max(MIN_MARGIN.as_secs() as i64);
        if now < entry.expires_at - margin && now >= entry.requested_at - 300 {
            Lookup::Fresh(token)
        } else {
            Lookup::Stale(token)
        }
    }

    /// Records a token asked for at `requested_at`. Failures are reported, never fatal: the
    /// cache only saves time.
    pub fn store(
        &self,
        key: &str,
        token: &AccessToken,
        requested_at: SystemTime,
    ) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let now = time::unix_seconds(requested_at);
        let expires_at = time::unix_seconds(token.expires_at);
        let mut file = self.load();
        file.version = FORMAT_VERSION;
        file.entries.retain(|_, entry| entry.expires_at > now);
        if expires_at <= now {
            return Ok(());
        }
        file.entries.insert(
            key.to_owned(),
            CacheEntry {
                access_token: token.token.expose().to_owned(),
                requested_at: now,
                expires_at,
            },
        );
        let bytes = serde_json::to_vec_pretty(&file).expect("serialising the cache cannot fail");
        crate::cloud::write_private_cache(dir, FILE_NAME, bytes).map_err(|err| {
            format!(
                "cannot write the Google token cache in {}: {err}",
                dir.display()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn fresh_then_stale_then_gone_in_a_private_file() {
        let dir = std::env::temp_dir().join(format!("reglogin-gcr-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = TokenCache::in_dir(dir.clone());
        let now = SystemTime::now();
        assert!(matches!(cache.lookup("k", now), Lookup::Missing));
        let token = AccessToken {
            token: Secret::new("ya29.cached"),
            expires_at: now + Duration::from_secs(3599),
        };
        cache.store("k", &token, now).unwrap();
        match cache.lookup("k", now) {
            Lookup::Fresh(found) => assert_eq!(found.token.expose(), "ya29.cached"),
            _ => panic!("a new token is fresh"),
        }
        // 55 of 60 minutes later: less than 15% left, due for a refresh, still valid.
        assert!(matches!(
            cache.lookup("k", now + Duration::from_secs(3300)),
            Lookup::Stale(_)
        ));
        assert!(matches!(
            cache.lookup("k", now + Duration::from_secs(3600)),
            Lookup::Missing
        ));
        let meta = std::fs::metadata(dir.join(FILE_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn switched_off_by_environment() {
        let cache = TokenCache::from_env(&Env::from_pairs([("REGLOGIN_GCR_CACHE", "off")]));
        assert!(cache.path().is_none());
        let cache = TokenCache::from_env(&Env::from_pairs([("HOME", "/h")]));
        assert_eq!(
            cache.path().unwrap(),
            PathBuf::from("/h/.cache/reglogin/gcr/tokens.json")
        );
    }
}
