//! When an ECR registry password (the part after `AWS:` of an authorization token) stops
//! working, for `reglogin status`: read from the password itself when it is the usual
//! base64-encoded JSON envelope with an `expiration` (Unix seconds), else from the token cache
//! entry that holds the same password. `None` when neither knows.

use std::time::SystemTime;

use base64::Engine as _;
use zeroize::Zeroize as _;

use super::TokenCache;
use crate::cloud::aws::time;

/// The expiry of an ECR password: decoded, else from `cache`.
pub fn password_expiry(password: &str, cache: &TokenCache) -> Option<SystemTime> {
    decoded_expiry(password).or_else(|| cache.expiry_of_password(password))
}

/// The `expiration` field of the JSON envelope an ECR password is (base64 of
/// `{"payload":..,"datakey":..,"version":"2","type":"DATA_KEY","expiration":1700000000}`).
pub fn decoded_expiry(password: &str) -> Option<SystemTime> {
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(password.trim())
        .ok()?;
    let parsed = serde_json::from_slice::<serde_json::Value>(&bytes);
    bytes.zeroize();
    let seconds = parsed.ok()?.get("expiration")?.as_f64()?;
    if seconds <= 0.0 {
        return None;
    }
    time::from_unix_seconds(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(expiration: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!(
            r#"{{"payload":"p","datakey":"d","version":"2","type":"DATA_KEY","expiration":{expiration}}}"#
        ))
    }

    #[test]
    fn the_envelope_dates_itself() {
        let found = decoded_expiry(&envelope("1700000000")).unwrap();
        assert_eq!(time::unix_seconds(found), 1_700_000_000);
        assert_eq!(decoded_expiry(&envelope("\"soon\"")), None);
        assert_eq!(decoded_expiry("123456789012-auth-token"), None);
        assert_eq!(decoded_expiry("bm90IGpzb24="), None);
    }

    #[test]
    fn the_cache_dates_a_token_it_holds() {
        let dir = std::env::temp_dir().join(format!("reglogin-ecr-expiry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = TokenCache::in_dir(dir.clone());
        let now = SystemTime::now();
        let expires = time::from_unix_seconds((time::unix_seconds(now) + 3600) as f64);
        let encoded = base64::engine::general_purpose::STANDARD.encode("AWS:cached-pw");
        let token = super::super::AuthorizationToken::decode(
            &encoded,
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            expires,
        )
        .unwrap();
        cache.store("k", &token, now).unwrap();
        assert_eq!(password_expiry("cached-pw", &cache), expires);
        assert_eq!(password_expiry("other-pw", &cache), None);
        assert_eq!(password_expiry("x", &TokenCache::disabled()), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
