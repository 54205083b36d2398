//! The `docker-credential-*` wire format (docker/docker-credential-helpers): the JSON that
//! `store` reads and `get` prints, and the texts with a meaning of their own. Shared by the
//! helper client and by reglogin acting as a helper; knows nothing of processes or stores.

use serde::{Deserialize, Serialize};

use crate::credentials::Credentials;
use crate::secret::Secret;

/// The exact stdout by which a helper says "no credentials for this server".
pub const NOT_FOUND_MESSAGE: &str = "credentials not found in native keychain";

/// The username under which helpers keep an identity token instead of a password.
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// What `store` reads on stdin and `get` prints.
#[derive(Serialize, Deserialize)]
pub struct WireCredentials {
    #[serde(rename = "ServerURL", default)]
    pub server_url: String,
    #[serde(rename = "Username", default)]
    pub username: String,
    #[serde(rename = "Secret", default)]
    pub secret: String,
}

impl Drop for WireCredentials {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl WireCredentials {
    /// Docker's mapping: an identity token travels as the secret of the `<token>` user.
    pub fn from_credentials(server_url: &str, creds: &Credentials) -> WireCredentials {
        let (username, secret) = match &creds.identity_token {
            Some(token) => (
                IDENTITY_TOKEN_USERNAME.to_owned(),
                token.expose().to_owned(),
            ),
            None => (creds.username.clone(), creds.password.expose().to_owned()),
        };
        WireCredentials {
            server_url: server_url.to_owned(),
            username,
            secret,
        }
    }

    pub fn into_credentials(self) -> Credentials {
        let secret = Secret::new(self.secret.as_str());
        if self.username == IDENTITY_TOKEN_USERNAME {
            Credentials {
                identity_token: Some(secret),
                ..Credentials::default()
            }
        } else {
            Credentials {
                username: self.username.clone(),
                password: secret,
                ..Credentials::default()
            }
        }
    }

    /// Compact JSON as Go's `json.NewEncoder(w).Encode` writes it, newline included.
    pub fn to_go_json_line(&self) -> Secret {
        let json = serde_json::to_string(self).expect("serialising strings cannot fail");
        let mut line = crate::gojson::escape_like_go(json);
        line.push('\n');
        Secret::new(line)
    }
}

/// Parses a `store` request. serde's messages can quote the offending value (`invalid type:
/// string "hunter2"`), which here may be the secret, so only the place is kept.
pub fn parse_store_request(text: &str) -> Result<WireCredentials, String> {
    serde_json::from_str(text).map_err(|err| {
        format!(
            "cannot parse the credentials: invalid credentials JSON (line {}, column {})",
            err.line(),
            err.column()
        )
    })
}

/// A helper's stdin (a server URL, or a `store` request holding a secret), read without leaving
/// unwiped copies behind.
pub fn read_helper_input(input: &mut dyn std::io::Read) -> Result<Secret, String> {
    /// More than any request a client sends.
    const MAX_INPUT: u64 = 1 << 20;
    crate::secret::read_secret(input, MAX_INPUT).map_err(|err| format!("cannot read stdin: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_store_request_does_not_quote_the_secret() {
        for request in [
            r#""hunter2""#,
            r#"{"ServerURL": "r", "Secret": ["hunter2"]}"#,
        ] {
            let message = parse_store_request(request).err().unwrap();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("line 1"), "{message}");
        }
        // What serde itself says, and why its text is not passed on:
        let raw = serde_json::from_str::<WireCredentials>(r#""hunter2""#)
            .err()
            .unwrap();
        assert!(raw.to_string().contains("hunter2"), "{raw}");
    }

    #[test]
    fn identity_tokens_travel_as_the_token_user() {
        let creds = Credentials {
            username: "alice".into(),
            identity_token: Some(Secret::new("rt")),
            ..Credentials::default()
        };
        let wire = WireCredentials::from_credentials("r.example", &creds);
        assert_eq!(
            wire.to_go_json_line().expose(),
            "{\"ServerURL\":\"r.example\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"rt\"}\n"
        );
        let back = wire.into_credentials();
        assert_eq!(back.identity_token.unwrap().expose(), "rt");
        assert!(back.username.is_empty());
    }

    #[test]
    fn passwords_travel_as_the_secret() {
        let wire: WireCredentials =
            serde_json::from_str(r#"{"ServerURL":"x","Username":"bob","Secret":"pw"}"#).unwrap();
        let creds = wire.into_credentials();
        assert_eq!(
            (creds.username.as_str(), creds.password.expose()),
            ("bob", "pw")
        );
        assert!(creds.identity_token.is_none());
    }
}
