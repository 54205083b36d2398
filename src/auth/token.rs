//! The token server's side of a Bearer login: its JSON answer (`TokenResponse`) and the errors
//! it reports (`TokenError`), with Docker's texts (distribution `registry/client/auth` and
//! `registry/client/errors.go`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use zeroize::Zeroize;

use super::challenge::Challenge;
use super::status_text;
use crate::secret::Secret;

/// A token must not be treated as living less than this (seconds): old Docker clients assumed
/// 60 s, so token servers guarantee at least that much.
pub const MINIMUM_TOKEN_LIFETIME_SECS: u64 = 60;

/// Cap on a token server's answer; real ones are a few kilobytes.
pub(crate) const MAX_TOKEN_RESPONSE_BYTES: u64 = 1 << 20;

/// A token server's successful answer, to both the `GET` (Basic) and the `POST` (OAuth2) flows.
#[derive(Debug, Default)]
pub struct TokenResponse {
    /// `token` (Docker's original field); `None` when absent or empty.
    pub token: Option<Secret>,
    /// `access_token` (the OAuth2 field); `None` when absent or empty.
    pub access_token: Option<Secret>,
    /// `refresh_token`: becomes the identity token Docker stores instead of the password.
    pub refresh_token: Option<Secret>,
    /// `expires_in` in seconds, raised to [`MINIMUM_TOKEN_LIFETIME_SECS`].
    pub expires_in: u64,
    /// `issued_at` (RFC 3339), when present and well-formed.
    pub issued_at: Option<SystemTime>,
}

/// The JSON as sent; strings move into `Secret`s right away.
#[derive(Deserialize)]
struct RawTokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    issued_at: Option<serde_json::Value>,
}

fn non_empty_secret(value: Option<String>) -> Option<Secret> {
    value.filter(|v| !v.is_empty()).map(Secret::new)
}

impl TokenResponse {
    /// Parses a token server's JSON body. Fails when it is not a JSON object of the expected
    /// shape, or when it holds neither `token` nor `access_token`.
    ///
    /// `expires_in` below 60 (or absent) becomes 60; a malformed `issued_at` is ignored rather
    /// than failing the login (the token is used once, right away).
    pub fn parse(body: &[u8]) -> Result<TokenResponse, TokenError> {
        let raw: RawTokenResponse = serde_json::from_slice(body).map_err(|err| {
            // serde's own text can quote parts of the body; keep only where it went wrong.
            TokenError::Decode(format!(
                "{} at line {} column {}",
                match err.classify() {
                    serde_json::error::Category::Io => "read error",
                    serde_json::error::Category::Syntax => "invalid JSON",
                    serde_json::error::Category::Data => "unexpected JSON content",
                    serde_json::error::Category::Eof => "truncated JSON",
                },
                err.line(),
                err.column()
            ))
        })?;
        let expires_in = raw
            .expires_in
            .as_ref()
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
            .unwrap_or(0);
        let response = TokenResponse {
            token: non_empty_secret(raw.token),
            access_token: non_empty_secret(raw.access_token),
            refresh_token: non_empty_secret(raw.refresh_token),
            expires_in: u64::try_from(expires_in)
                .unwrap_or(0)
                .max(MINIMUM_TOKEN_LIFETIME_SECS),
            issued_at: raw
                .issued_at
                .as_ref()
                .and_then(serde_json::Value::as_str)
                .and_then(parse_rfc3339),
        };
        if response.bearer_token().is_none() {
            return Err(TokenError::NoToken);
        }
        Ok(response)
    }

    /// The token to send as `Authorization: Bearer …`: `access_token` wins over `token`.
    pub fn bearer_token(&self) -> Option<&Secret> {
        self.access_token.as_ref().or(self.token.as_ref())
    }

    /// When the token stops being valid: `issued_at` (or `now` without one) plus `expires_in`.
    pub fn expires_at(&self, now: SystemTime) -> SystemTime {
        self.issued_at.unwrap_or(now) + Duration::from_secs(self.expires_in)
    }
}

/// Reads a body into a buffer that is wiped when dropped.
pub(crate) struct WipedBytes(pub Vec<u8>);

impl Drop for WipedBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Parses an RFC 3339 timestamp (`2024-05-01T12:00:00.123Z`, `…+02:00`).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = bytes.get(range)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut index = 19;
    let mut nanos: u32 = 0;
    if bytes[index] == b'.' {
        let start = index + 1;
        let end = start
            + bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
        if end == start {
            return None;
        }
        for (position, digit) in bytes[start..end].iter().take(9).enumerate() {
            nanos += u32::from(digit - b'0') * 10u32.pow(8 - position as u32);
        }
        index = end;
    }
    let offset_secs = match bytes.get(index..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(index + 1..index + 3)?, digits(index + 4..index + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_secs;
    let base = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    base.checked_add(Duration::from_nanos(u64::from(nanos)))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    // Count from 0000-03-01 so the leap day ends each cycle year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// One error a token server (or registry) reported: an errcode `code` and its `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// The code as sent, e.g. `UNAUTHORIZED`, `DENIED`.
    pub code: String,
    pub message: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Docker prints codes lowercased with `_` as spaces: `NAME_UNKNOWN` → `name unknown`.
        let code = self.code.to_ascii_lowercase().replace('_', " ");
        if self.message.is_empty() {
            f.write_str(&code)
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// The errors of one response, shown as Docker shows an `errcode.Errors`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerErrors(pub Vec<ServerError>);

impl ServerErrors {
    pub fn has_code(&self, code: &str) -> bool {
        self.0.iter().any(|e| e.code.eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for ServerErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("<nil>"),
            [single] => single.fmt(f),
            several => {
                f.write_str("errors:")?;
                for error in several {
                    write!(f, "\n{error}")?;
                }
                Ok(())
            }
        }
    }
}

/// Why a Bearer token could not be had. Shown after `Get "{registry /v2/ URL}": `.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("no realm specified for token auth challenge")]
    NoRealm,
    #[error("invalid token auth challenge realm: {0}")]
    InvalidRealm(String),
    #[error(
        "refusing to send credentials over plain HTTP to the token server {realm} (allowed only \
         on this machine or for a registry marked insecure)"
    )]
    PlainHttpRealm { realm: String },
    /// The token server could not be reached; `reason` is already phrased.
    #[error("{method} \"{url}\": {reason}")]
    Transport {
        method: &'static str,
        url: String,
        reason: String,
    },
    #[error("authorization server did not include a token in the response")]
    NoToken,
    #[error("unable to decode token response: {0}")]
    Decode(String),
    /// A 4xx answer with errors: `unauthorized: …`, `denied: …`, or the server's codes.
    #[error("{0}")]
    Server(ServerErrors),
    /// Any other unsuccessful status.
    #[error("received unexpected HTTP status: {}", status_text(*.0))]
    UnexpectedStatus(u16),
}

impl TokenError {
    /// The token server refused the credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, TokenError::Server(errors) if errors.has_code("UNAUTHORIZED"))
    }
}

/// The server-sent text, with control characters (terminal escapes) made visible.
pub(crate) fn sanitize(text: &str) -> String {
    const LIMIT: usize = 2000;
    let mut out = String::with_capacity(text.len().min(LIMIT));
    for c in text.chars() {
        if out.len() >= LIMIT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Deserialize)]
struct DetailsBody {
    #[serde(default)]
    details: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorsBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<serde_json::Value>,
}

fn json_text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => sanitize(s),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => sanitize(&other.to_string()),
    }
}

/// Docker's reading of an unsuccessful token server answer (`HandleErrorResponse`): OAuth2
/// errors in a Bearer challenge first, then `{"details": …}`, then `{"errors": […]}`; a 401,
/// 403 or 429 without any of them says so with its status line.
pub fn token_error_from_response(status: u16, challenges: &[Challenge], body: &[u8]) -> TokenError {
    if !(400..500).contains(&status) {
        return TokenError::UnexpectedStatus(status);
    }
    let mut errors = Vec::new();
    for challenge in challenges.iter().filter(|c| c.scheme == "bearer") {
        let (code, default_message) = match challenge.param("error") {
            Some("invalid_token") => ("UNAUTHORIZED", "authentication required"),
            Some("insufficient_scope") => ("DENIED", "requested access to the resource is denied"),
            _ => continue,
        };
        let message = challenge
            .param("error_description")
            .filter(|d| !d.is_empty())
            .map_or_else(|| default_message.to_owned(), sanitize);
        errors.push(ServerError {
            code: code.to_owned(),
            message,
        });
        break;
    }

    if let Ok(DetailsBody {
        details: Some(details),
    }) = serde_json::from_slice::<DetailsBody>(body)
    {
        let details = json_text(Some(&details));
        if !details.is_empty() {
            let code = match status {
                401 => "UNAUTHORIZED",
                403 => "DENIED",
                429 => "TOOMANYREQUESTS",
                _ => "UNKNOWN",
            };
            errors.push(ServerError {
                code: code.to_owned(),
                message: details,
            });
            return TokenError::Server(ServerErrors(errors));
        }
    }
    if let Ok(ErrorsBody { errors: entries }) = serde_json::from_slice::<ErrorsBody>(body) {
        errors.extend(entries.iter().map(|entry| {
            ServerError {
                code: Some(json_text(entry.code.as_ref()))
                    .filter(|c| !c.is_empty())
                    .unwrap_or_else(|| "UNKNOWN".to_owned()),
                message: json_text(entry.message.as_ref()),
            }
        }));
    }
    if errors.is_empty() {
        let code = match status {
            401 => "UNAUTHORIZED",
            403 => "DENIED",
            429 => "TOOMANYREQUESTS",
            _ => return TokenError::UnexpectedStatus(status),
        };
        errors.push(ServerError {
            code: code.to_owned(),
            message: status_text(status),
        });
    }
    TokenError::Server(ServerErrors(errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::challenge::parse_challenges;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn token_responses() {
        struct Case {
            name: &'static str,
            body: &'static str,
            bearer: Option<&'static str>,
            refresh: Option<&'static str>,
            expires_in: u64,
            issued_at: Option<SystemTime>,
        }
        let cases = [
            Case {
                name: "token only",
                body: r#"{"token":"t1","expires_in":300}"#,
                bearer: Some("t1"),
                refresh: None,
                expires_in: 300,
                issued_at: None,
            },
            Case {
                name: "access_token only",
                body: r#"{"access_token":"a1","expires_in":3600,"scope":""}"#,
                bearer: Some("a1"),
                refresh: None,
                expires_in: 3600,
                issued_at: None,
            },
            Case {
                name: "both: access_token wins",
                body: r#"{"token":"t1","access_token":"a1"}"#,
                bearer: Some("a1"),
                refresh: None,
                expires_in: 60,
                issued_at: None,
            },
            Case {
                name: "empty access_token falls back to token",
                body: r#"{"token":"t1","access_token":""}"#,
                bearer: Some("t1"),
                refresh: None,
                expires_in: 60,
                issued_at: None,
            },
            Case {
                name: "expires_in below the minimum",
                body: r#"{"token":"t","expires_in":10,"refresh_token":"r"}"#,
                bearer: Some("t"),
                refresh: Some("r"),
                expires_in: 60,
                issued_at: None,
            },
            Case {
                name: "negative expires_in",
                body: r#"{"token":"t","expires_in":-5}"#,
                bearer: Some("t"),
                refresh: None,
                expires_in: 60,
                issued_at: None,
            },
            Case {
                name: "issued_at present",
                body: r#"{"token":"t","expires_in":300,"issued_at":"2024-05-01T12:00:00Z"}"#,
                bearer: Some("t"),
                refresh: None,
                expires_in: 300,
                issued_at: Some(at(1_714_564_800, 0)),
            },
            Case {
                name: "issued_at with fraction and offset",
                body: r#"{"token":"t","issued_at":"2024-05-01T14:00:00.25+02:00"}"#,
                bearer: Some("t"),
                refresh: None,
                expires_in: 60,
                issued_at: Some(at(1_714_564_800, 250_000_000)),
            },
            Case {
                name: "malformed issued_at is ignored",
                body: r#"{"token":"t","issued_at":"yesterday"}"#,
                bearer: Some("t"),
                refresh: None,
                expires_in: 60,
                issued_at: None,
            },
        ];
        for case in cases {
            let parsed = TokenResponse::parse(case.body.as_bytes())
                .unwrap_or_else(|err| panic!("{}: {err}", case.name));
            assert_eq!(
                parsed.bearer_token().map(Secret::expose),
                case.bearer,
                "{}",
                case.name
            );
            assert_eq!(
                parsed.refresh_token.as_ref().map(Secret::expose),
                case.refresh,
                "{}",
                case.name
            );
            assert_eq!(parsed.expires_in, case.expires_in, "{}", case.name);
            assert_eq!(parsed.issued_at, case.issued_at, "{}", case.name);
        }
    }

    #[test]
    fn token_response_errors() {
        let cases = [
            (
                r#"{"expires_in":300}"#,
                "authorization server did not include a token in the response",
            ),
            (
                r#"{"token":"","access_token":""}"#,
                "authorization server did not include a token in the response",
            ),
            (
                "not json",
                "unable to decode token response: invalid JSON at line 1 column 2",
            ),
            (
                r#"{"token":["secret-ish"]}"#,
                "unable to decode token response: unexpected JSON content at line 1 column 9",
            ),
        ];
        for (body, want) in cases {
            let err = TokenResponse::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.to_string(), want, "{body}");
        }
    }

    #[test]
    fn expiry() {
        let parsed = TokenResponse::parse(br#"{"token":"t","expires_in":120}"#).unwrap();
        assert_eq!(parsed.expires_at(at(1000, 0)), at(1120, 0));
        let parsed =
            TokenResponse::parse(br#"{"token":"t","issued_at":"1970-01-01T00:01:00Z"}"#).unwrap();
        assert_eq!(parsed.expires_at(at(5000, 0)), at(120, 0));
    }

    #[test]
    fn debug_redacts_tokens() {
        let parsed =
            TokenResponse::parse(br#"{"token":"tok-123","refresh_token":"ref-456"}"#).unwrap();
        let printed = format!("{parsed:?}");
        assert!(
            !printed.contains("tok-123") && !printed.contains("ref-456"),
            "{printed}"
        );
    }

    #[test]
    fn rfc3339() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(at(0, 0))),
            ("2000-02-29T23:59:59Z", Some(at(951_868_799, 0))),
            (
                "2024-05-01T12:00:00.123456789Z",
                Some(at(1_714_564_800, 123_456_789)),
            ),
            (
                "2024-05-01T12:00:00.1234567891Z",
                Some(at(1_714_564_800, 123_456_789)),
            ),
            ("2024-05-01T07:30:00-04:30", Some(at(1_714_564_800, 0))),
            ("2024-05-01t12:00:00z", Some(at(1_714_564_800, 0))),
            (
                "1969-12-31T23:59:59Z",
                UNIX_EPOCH.checked_sub(Duration::from_secs(1)),
            ),
            ("2023-02-29T00:00:00Z", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-05-01T12:00:00", None),
            ("2024-05-01T12:00:00.Z", None),
            ("2024-05-01T12:00:00+0200", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rfc3339(text), want, "{text}");
        }
    }

    #[test]
    fn token_server_errors() {
        let cases: [(&str, u16, &[&str], &str, &str); 12] = [
            (
                "401 with details",
                401,
                &[],
                r#"{"details":"incorrect username or password"}"#,
                "unauthorized: incorrect username or password",
            ),
            (
                "401 without details",
                401,
                &[],
                "",
                "unauthorized: 401 Unauthorized",
            ),
            (
                "401 with a non-JSON body",
                401,
                &[],
                "<html>nope</html>",
                "unauthorized: 401 Unauthorized",
            ),
            (
                "403 with details",
                403,
                &[],
                r#"{"details":"account locked"}"#,
                "denied: account locked",
            ),
            ("403 bare", 403, &[], "", "denied: 403 Forbidden"),
            (
                "429 with details",
                429,
                &[],
                r#"{"details":"slow down"}"#,
                "toomanyrequests: slow down",
            ),
            (
                "errcode list, one entry",
                401,
                &[],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
                "unauthorized: authentication required",
            ),
            (
                "errcode list, two entries",
                400,
                &[],
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"no such repo"},{"code":"DENIED"}]}"#,
                "errors:\nname unknown: no such repo\ndenied",
            ),
            (
                "bearer error in the challenge",
                401,
                &[r#"Bearer realm="x",error="invalid_token",error_description="token expired""#],
                "",
                "unauthorized: token expired",
            ),
            (
                "other 4xx without errors",
                404,
                &[],
                "not found",
                "received unexpected HTTP status: 404 Not Found",
            ),
            (
                "5xx",
                500,
                &[],
                r#"{"details":"boom"}"#,
                "received unexpected HTTP status: 500 Internal Server Error",
            ),
            (
                "control characters are escaped",
                401,
                &[],
                "{\"details\":\"bad\\u001b[31m\"}",
                "unauthorized: bad\\u{1b}[31m",
            ),
        ];
        for (name, status, headers, body, want) in cases {
            let challenges = parse_challenges(headers);
            let err = token_error_from_response(status, &challenges, body.as_bytes());
            assert_eq!(err.to_string(), want, "{name}");
        }
        let err = token_error_from_response(401, &[], b"");
        assert!(err.is_unauthorized());
        assert!(!token_error_from_response(403, &[], b"").is_unauthorized());
        assert!(!token_error_from_response(500, &[], b"").is_unauthorized());
    }
}
