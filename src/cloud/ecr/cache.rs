//! The helper's token cache: one JSON file, `$XDG_CACHE_HOME/reglogin/ecr/tokens.json`
//! (default `~/.cache/reglogin/ecr/`), directory 0700, file 0600, replaced atomically.
//!
//! - Key: service, region, account, and a SHA-256 of profile + access key ID + endpoint, so
//!   identities and endpoints never share tokens and no key ID is readable from the file. AWS
//!   secret keys are never written; the file holds registry tokens (12-hour passwords).
//! - An entry is served while more than 15% of its life (at least 5 minutes) remains; a failed
//!   refresh falls back to an entry that has not expired yet, never to an expired one.
//! - Expired entries are dropped on every write, so the file cannot grow without bound.
//! - `REGLOGIN_ECR_CACHE=off` (or the Go helper's `AWS_ECR_DISABLE_CACHE`) disables it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use super::api::AuthorizationToken;
use crate::cloud::aws::{Env, time};

const FILE_NAME: &str = "tokens.json";
const FORMAT_VERSION: u32 = 1;
const MIN_MARGIN: Duration = Duration::from_secs(300);

#[derive(Serialize, Deserialize, Default)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<String, CacheEntry>,
}

#[derive(Serialize, Deserialize, Clone)]
struct CacheEntry {
    /// `authorizationToken` as AWS sent it.
    token: String,
    proxy_endpoint: String,
    requested_at: i64,
    expires_at: i64,
}

impl Drop for CacheEntry {
    fn drop(&mut self) {
        self.token.zeroize();
    }
}

#[derive(Clone, Debug)]
pub struct TokenCache {
    dir: Option<PathBuf>,
}

/// What a lookup found.
pub enum Lookup {
    /// Fresh enough to serve without asking AWS.
    Fresh(AuthorizationToken),
    /// Due for a refresh, but still valid: the answer if the refresh fails.
    Stale(AuthorizationToken),
    Missing,
}

impl TokenCache {
    pub fn from_env(env: &Env) -> TokenCache {
        let disabled = env.get("REGLOGIN_ECR_CACHE").is_some_and(|value| {
            matches!(
                value.to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        }) || env.get("AWS_ECR_DISABLE_CACHE").is_some();
        if disabled {
            return TokenCache { dir: None };
        }
        let base = env
            .get("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
            .unwrap_or_else(|| env.home().join(".cache"));
        TokenCache::in_dir(base.join("reglogin").join("ecr"))
    }

    pub fn in_dir(dir: PathBuf) -> TokenCache {
        TokenCache { dir: Some(dir) }
    }

    pub fn disabled() -> TokenCache {
        TokenCache { dir: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.dir.is_some()
    }

    pub fn path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(FILE_NAME))
    }

    /// The cache key of a registry for one identity at one endpoint.
    pub fn key(
        service: &str,
        region: &str,
        account: &str,
        profile: &str,
        access_key_id: &str,
        endpoint: &str,
    ) -> String {
        let mut hasher = Sha256::new();
        for part in [profile, access_key_id, endpoint] {
            hasher.update(part.as_bytes());
            hasher.update([0u8]);
        }
        let digest = hasher.finalize();
        let hex: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("{service}/{region}/{account}/{hex}")
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
        if now >= entry.expires_at {
            return Lookup::Missing;
        }
        let Some(expires_at) = time::from_unix_seconds(entry.expires_at as f64) else {
            return Lookup::Missing;
        };
        let Ok(token) =
            AuthorizationToken::decode(&entry.token, &entry.proxy_endpoint, Some(expires_at))
        else {
            return Lookup::Missing;
        };
        let lifetime = (entry.expires_at - entry.requested_at).max(0);
        let margin = (lifetime * 15 / 100).max(MIN_MARGIN.as_secs() as i64);
        if now < entry.expires_at - margin && now >= entry.requested_at - 300 {
            Lookup::Fresh(token)
        } else {
            Lookup::Stale(token)
        }
    }

    /// Records a token asked for at `requested_at` (now); tokens without a future expiry are
    /// not worth keeping. Failures are reported, never fatal: the cache only saves time.
    pub fn store(
        &self,
        key: &str,
        token: &AuthorizationToken,
        requested_at: SystemTime,
    ) -> Result<(), String> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let Some(expires_at) = token.expires_at else {
            return Ok(());
        };
        let now = time::unix_seconds(requested_at);
        let mut file = self.load();
        file.version = FORMAT_VERSION;
        file.entries.retain(|_, entry| entry.expires_at > now);
        if time::unix_seconds(expires_at) <= now {
            return Ok(());
        }
        file.entries.insert(
            key.to_owned(),
            CacheEntry {
                token: token.encoded.expose().to_owned(),
                proxy_endpoint: token.proxy_endpoint.clone(),
                requested_at: time::unix_seconds(requested_at),
                expires_at: time::unix_seconds(expires_at),
            },
        );
        let bytes = serde_json::to_vec_pretty(&file).expect("serialising the cache cannot fail");
        crate::cloud::write_private_cache(dir, FILE_NAME, bytes).map_err(|err| {
            format!(
                "cannot write the ECR token cache in {}: {err}",
                dir.display()
            )
        })
    }

    /// When the cached token whose password is `password` expires (expired entries included:
    /// a stored copy of an old token is still worth dating). `None` when no entry has it.
    pub fn expiry_of_password(&self, password: &str) -> Option<SystemTime> {
        self.load()
            .entries
            .values()
            .filter(|entry| {
                AuthorizationToken::decode(&entry.token, &entry.proxy_endpoint, None)
                    .is_ok_and(|token| token.password.expose() == password)
            })
            .map(|entry| entry.expires_at)
            .max()
            .and_then(|seconds| time::from_unix_seconds(seconds as f64))
    }

    /// The proxy endpoints of the entries that have not expired, with their usernames.
    pub fn list(&self, now: SystemTime) -> Vec<(String, String)> {
        let now = time::unix_seconds(now);
        self.load()
            .entries
            .values()
            .filter(|entry| entry.expires_at > now)
            .filter_map(|entry| {
                let token =
                    AuthorizationToken::decode(&entry.token, &entry.proxy_endpoint, None).ok()?;
                Some((token.proxy_endpoint.clone(), token.username.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn token(password: &str, expires_in: i64) -> AuthorizationToken {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"));
        let expires_at =
            time::from_unix_seconds((time::unix_seconds(SystemTime::now()) + expires_in) as f64);
        AuthorizationToken::decode(
            &encoded,
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            expires_at,
        )
        .unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("reglogin-ecr-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn keys_separate_identities_and_hide_key_ids() {
        let a = TokenCache::key(
            "ecr",
            "us-east-1",
            "123456789012",
            "default",
            "AKIDA",
            "https://e",
        );
        let b = TokenCache::key(
            "ecr",
            "us-east-1",
            "123456789012",
            "default",
            "AKIDB",
            "https://e",
        );
        let c = TokenCache::key(
            "ecr",
            "us-east-1",
            "123456789012",
            "other",
            "AKIDA",
            "https://e",
        );
        let d = TokenCache::key(
            "ecr",
            "us-east-1",
            "123456789012",
            "default",
            "AKIDA",
            "http://moto",
        );
        assert!(a != b && a != c && a != d);
        assert!(
            a.starts_with("ecr/us-east-1/123456789012/") && !a.contains("AKID"),
            "{a}"
        );
    }

    #[test]
    fn fresh_then_stale_then_gone() {
        let dir = temp_dir("life");
        let cache = TokenCache::in_dir(dir.clone());
        let now = SystemTime::now();
        assert!(matches!(cache.lookup("k", now), Lookup::Missing));
        cache.store("k", &token("pw", 12 * 3600), now).unwrap();
        match cache.lookup("k", now) {
            Lookup::Fresh(found) => assert_eq!(found.password.expose(), "pw"),
            _ => panic!("a new token is fresh"),
        }
        // 11 of 12 hours later: less than 15% left, so due for a refresh, still valid.
        assert!(matches!(
            cache.lookup("k", now + Duration::from_secs(11 * 3600)),
            Lookup::Stale(_)
        ));
        assert!(matches!(
            cache.lookup("k", now + Duration::from_secs(12 * 3600 + 1)),
            Lookup::Missing
        ));
        let meta = std::fs::metadata(dir.join(FILE_NAME)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).unwrap();
        assert!(!text.contains("secret"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn expired_tokens_are_neither_stored_nor_kept() {
        let dir = temp_dir("expired");
        let cache = TokenCache::in_dir(dir.clone());
        let now = SystemTime::now();
        cache.store("old", &token("moto", -3600), now).unwrap();
        assert!(matches!(cache.lookup("old", now), Lookup::Missing));
        cache.store("short", &token("short", 60), now).unwrap();
        let later = now + Duration::from_secs(120);
        cache.store("new", &token("new", 3600), later).unwrap();
        let text = std::fs::read_to_string(dir.join(FILE_NAME)).unwrap();
        assert!(
            text.contains("\"new\"") && !text.contains("\"short\""),
            "{text}"
        );
        assert_eq!(cache.list(later).len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn switched_off_by_environment() {
        assert!(
            !TokenCache::from_env(&Env::from_pairs([("REGLOGIN_ECR_CACHE", "off")])).is_enabled()
        );
        assert!(
            !TokenCache::from_env(&Env::from_pairs([("AWS_ECR_DISABLE_CACHE", "1")])).is_enabled()
        );
        let cache = TokenCache::from_env(&Env::from_pairs([
            ("XDG_CACHE_HOME", "/x/cache"),
            ("HOME", "/h"),
        ]));
        assert_eq!(
            cache.path().unwrap(),
            PathBuf::from("/x/cache/reglogin/ecr/tokens.json")
        );
        let cache = TokenCache::from_env(&Env::from_pairs([("HOME", "/h")]));
        assert_eq!(
            cache.path().unwrap(),
            PathBuf::from("/h/.cache/reglogin/ecr/tokens.json")
        );
        let disabled = TokenCache::disabled();
        disabled
            .store("k", &token("pw", 3600), SystemTime::now())
            .unwrap();
        assert!(matches!(
            disabled.lookup("k", SystemTime::now()),
            Lookup::Missing
        ));
    }
}
