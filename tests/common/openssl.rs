//! Throwaway keys and certificates made with the `openssl` CLI (OpenSSL 3), and RS256 signing.
//! A private config file is written next to the keys so the system `openssl.cnf` does not matter.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::run_checked;

const CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = reglogin-test
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("openssl.cnf");
    if !path.exists() {
        std::fs::write(&path, CONFIG).expect("writing openssl.cnf");
    }
    path
}

fn openssl() -> Command {
    Command::new(super::require_program("openssl"))
}

/// A random positive serial number for `-set_serial`.
fn serial() -> String {
    format!("0x1{}", super::random_hex(8))
}

/// Files of a key pair and its certificate.
#[derive(Clone, Debug)]
pub struct KeyAndCert {
    pub key: PathBuf,
    pub cert: PathBuf,
}

/// A self-signed CA certificate (EC P-256) named `NAME.pem`, key `NAME.key`, in `dir`.
pub fn make_ca(dir: &Path, name: &str, common_name: &str) -> KeyAndCert {
    let paths = KeyAndCert {
        key: dir.join(format!("{name}.key")),
        cert: dir.join(format!("{name}.pem")),
    };
    run_checked(
        openssl()
            .args(["req", "-x509", "-config"])
            .arg(config_file(dir))
            .args(["-extensions", "ca", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-set_serial",
            ])
            .arg(serial())
            .args(["-subj", &format!("/CN={common_name}"), "-keyout"])
            .arg(&paths.key)
            .arg("-out")
            .arg(&paths.cert),
    );
    paths
}

/// A server certificate for `localhost` and `127.0.0.1` (EC P-256), signed by `ca`.
pub fn make_server_cert(dir: &Path, name: &str, ca: &KeyAndCert) -> KeyAndCert {
    let paths = KeyAndCert {
        key: dir.join(format!("{name}.key")),
        cert: dir.join(format!("{name}.pem")),
    };
    let csr = dir.join(format!("{name}.csr"));
    run_checked(
        openssl()
            .args(["req", "-new", "-config"])
            .arg(config_file(dir))
            .args([
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ])
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&paths.key)
            .arg("-out")
            .arg(&csr),
    );
    run_checked(
        openssl()
            .args(["x509", "-req", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&ca.cert)
            .arg("-CAkey")
            .arg(&ca.key)
            .arg("-set_serial")
            .arg(serial())
            .args(["-days", "2", "-extfile"])
            .arg(config_file(dir))
            .args(["-extensions", "server", "-out"])
            .arg(&paths.cert),
    );
    paths
}

/// An RSA 2048 key with a self-signed certificate, for signing tokens (RS256).
pub fn make_rsa_signer(dir: &Path, name: &str, common_name: &str) -> KeyAndCert {
    let paths = KeyAndCert {
        key: dir.join(format!("{name}.key")),
        cert: dir.join(format!("{name}.pem")),
    };
    run_checked(
        openssl()
            .args(["req", "-x509", "-config"])
            .arg(config_file(dir))
            .args(["-extensions", "ca", "-newkey", "rsa:2048", "-nodes"])
            .args(["-days", "2", "-set_serial"])
            .arg(serial())
            .args(["-subj", &format!("/CN={common_name}"), "-keyout"])
            .arg(&paths.key)
            .arg("-out")
            .arg(&paths.cert),
    );
    paths
}

/// The DER bytes of a PEM certificate.
pub fn cert_der(cert: &Path) -> Vec<u8> {
    run_checked(openssl().args(["x509", "-outform", "DER", "-in"]).arg(cert)).stdout
}

/// An RSASSA-PKCS1-v1_5 signature over SHA-256 of `data` (JWS `RS256`).
pub fn sign_rs256(key: &Path, data: &[u8]) -> Vec<u8> {
    let mut child = openssl()
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running openssl dgst");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.len() == 256,
        "openssl dgst -sign failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
