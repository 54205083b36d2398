//! The system's trusted CA certificates, found where OpenSSL and Go look for them.
//!
//! Same sources as `rustls-native-certs` (`SSL_CERT_FILE` / `SSL_CERT_DIR`, else the
//! distribution's bundle file plus its certificate directories), read at a fraction of the cost:
//! on Debian the directory holds the very certificates the bundle concatenates, and decoding
//! each twice with a constant-time base64 decoder was most of a login's CPU time. Certificates
//! already seen in the bundle are recognised by their PEM text and not decoded again; the rest
//! are decoded with a fast (not constant-time: these are public certificates) decoder.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::CertificateDer;

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// A file larger than this in a certificate directory is not a certificate file.
const MAX_CERT_FILE: u64 = 16 << 20;

/// The system's roots. Unreadable files and malformed certificates are skipped, as Go's
/// `SystemCertPool` skips them.
pub fn system_roots() -> Vec<CertificateDer<'static>> {
    let (file, dirs) = locations();
    let mut loader = Loader::default();
    if let Some(file) = &file {
        loader.read_file(file);
    }
    for dir in &dirs {
        loader.read_dir(dir);
    }
    loader.certs
}

/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set (then only they count), else the probe.
fn locations() -> (Option<PathBuf>, Vec<PathBuf>) {
    let file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let dirs: Vec<PathBuf> = std::env::var_os("SSL_CERT_DIR")
        .map(|dirs| {
            std::env::split_paths(&dirs)
                .filter(|dir| !dir.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if file.is_some() || !dirs.is_empty() {
        return (file, dirs);
    }
    let probed = openssl_probe::probe();
    (probed.cert_file, probed.cert_dir)
}

#[derive(Default)]
struct Loader {
    certs: Vec<CertificateDer<'static>>,
    /// Certificates already decoded, by the length and the last bytes of their PEM body: the
    /// tail is signature bytes, so two different certificates do not share it.
    seen_bodies: HashSet<(usize, [u8; BODY_KEY_TAIL])>,
    /// Files already read, by (device, inode): the directory's hash links point at one file.
    seen_files: HashSet<(u64, u64)>,
}

const BODY_KEY_TAIL: usize = 48;

impl Loader {
    fn read_file(&mut self, path: &Path) {
        use std::os::unix::fs::MetadataExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            return;
        };
        if !metadata.is_file()
            || metadata.len() > MAX_CERT_FILE
            || !self.seen_files.insert((metadata.dev(), metadata.ino()))
        {
            return;
        }
        if let Ok(bytes) = std::fs::read(path) {
            self.add_pem(&bytes);
        }
    }

    fn read_dir(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            self.read_file(&entry.path());
        }
    }

    fn add_pem(&mut self, mut text: &[u8]) {
        while let Some(start) = memchr::memmem::find(text, BEGIN) {
            let after_begin = &text[start + BEGIN.len()..];
            let Some(end) = memchr::memmem::find(after_begin, END) else {
                return;
            };
            let body = after_begin[..end].trim_ascii();
            text = &after_begin[end + END.len()..];
            let key = body_key(body);
            if self.seen_bodies.contains(&key) {
                continue;
            }
            let mut base64_text = Vec::with_capacity(body.len());
            for line in body.split(|&byte| byte == b'\n') {
                base64_text.extend_from_slice(line.trim_ascii());
            }
            if let Ok(der) = BASE64.decode(&base64_text) {
                self.certs.push(CertificateDer::from(der));
                self.seen_bodies.insert(key);
            }
        }
    }
}

fn body_key(body: &[u8]) -> (usize, [u8; BODY_KEY_TAIL]) {
    let mut tail = [0u8; BODY_KEY_TAIL];
    let take = body.len().min(BODY_KEY_TAIL);
    tail[..take].copy_from_slice(&body[body.len() - take..]);
    (body.len(), tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_roots_as_rustls_native_certs() {
        let mut ours: Vec<Vec<u8>> = system_roots()
            .iter()
            .map(|cert| cert.as_ref().to_vec())
            .collect();
        let mut theirs: Vec<Vec<u8>> = rustls_native_certs::load_native_certs()
            .certs
            .iter()
            .map(|cert| cert.as_ref().to_vec())
            .collect();
        ours.sort();
        ours.dedup();
        theirs.sort();
        theirs.dedup();
        assert!(!ours.is_empty(), "no system roots found");
        assert_eq!(ours.len(), theirs.len());
        assert!(ours == theirs, "the certificate sets differ");
    }

    #[test]
    fn directory_certificates_missing_from_the_bundle_are_added_once() {
        let ours = system_roots();
        let Some(sample) = ours.first() else {
            return;
        };
        let body = BASE64.encode(sample.as_ref());
        let pem = |body: &str| {
            let mut text = String::from("junk\n-----BEGIN CERTIFICATE-----\n");
            for line in body.as_bytes().chunks(64) {
                text.push_str(std::str::from_utf8(line).unwrap());
                text.push('\n');
            }
            text.push_str("-----END CERTIFICATE-----\n");
            text
        };
        let mut loader = Loader::default();
        loader.add_pem(pem(&body).as_bytes());
        loader.add_pem(format!("{}{}", pem(&body), pem(&body)).as_bytes());
        assert_eq!(loader.certs.len(), 1);
        assert_eq!(loader.certs[0].as_ref(), sample.as_ref());
        loader.add_pem(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n");
        loader.add_pem(b"-----BEGIN CERTIFICATE-----\nAAAA");
        assert_eq!(loader.certs.len(), 1);
    }
}
