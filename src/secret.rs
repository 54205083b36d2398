//! The `Secret` type: owns every password, token and identity token that passes through
//! reglogin. It can be read deliberately (`expose`), never printed by accident: `Debug`
//! redacts, there is no `Display`, and the bytes are zeroised when the value is dropped.

use zeroize::Zeroize;

/// A secret string. Reach for `expose()` only at the point where the bytes must leave the
/// process (an HTTP header, a helper's stdin, the config file).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads everything `reader` gives (at most `limit` bytes) as a secret. Unlike `read_to_end`,
/// every buffer it outgrows is zeroised before it is freed, so no copy of the secret is left
/// in freed memory. `InvalidData` when the bytes are not UTF-8 (the bytes are wiped too).
pub fn read_secret(reader: &mut dyn std::io::Read, limit: u64) -> std::io::Result<Secret> {
    use std::io::Read;
    let mut reader = reader.take(limit);
    let mut buffer = zeroize::Zeroizing::new(Vec::with_capacity(256));
    let mut chunk = zeroize::Zeroizing::new([0u8; 256]);
    loop {
        let read = match reader.read(&mut chunk[..]) {
            Ok(0) => break,
            Ok(read) => read,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        if buffer.len() + read > buffer.capacity() {
            let mut bigger = Vec::with_capacity((buffer.len() + read) * 2);
            bigger.extend_from_slice(&buffer);
            // The old buffer is zeroised as it is replaced.
            buffer = zeroize::Zeroizing::new(bigger);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let bytes = std::mem::take(&mut *buffer);
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Secret(text)),
        Err(err) => {
            let mut bytes = err.into_bytes();
            bytes.zeroize();
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the input is not UTF-8",
            ))
        }
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            f.write_str("Secret(<empty>)")
        } else {
            f.write_str("Secret(<redacted>)")
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        let printed = format!("{secret:?} {:?}", Some(&secret));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("redacted"));
    }

    #[test]
    fn read_secret_reads_everything_up_to_the_limit() {
        let long = "x".repeat(5000);
        let read = read_secret(&mut long.as_bytes(), 1 << 20).unwrap();
        assert_eq!(read.expose(), long);
        let cut = read_secret(&mut long.as_bytes(), 10).unwrap();
        assert_eq!(cut.expose(), "xxxxxxxxxx");
        let err = read_secret(&mut &b"\xff\xfe"[..], 10).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn expose_returns_the_value() {
        assert_eq!(Secret::from("pw").expose(), "pw");
        assert!(Secret::default().is_empty());
    }
}
