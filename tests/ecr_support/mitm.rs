//! A loopback HTTPS proxy that intercepts: it accepts `CONNECT host:443`, terminates TLS with a
//! throwaway certificate for the AWS API hosts (signed by a throwaway CA), and forwards each
//! request in plain HTTP to an upstream (moto). With `HTTPS_PROXY` and `AWS_CA_BUNDLE` pointing
//! at it, a program that cannot be given an endpoint URL (the Go ECR helper) talks to moto.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::{TempDir, require_program};

pub struct MitmProxy {
    pub port: u16,
    pub ca_pem: PathBuf,
    /// The `host:port` of every CONNECT.
    pub connects: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new(require_program("openssl", "apt-get install openssl"))
        .current_dir(dir)
        .env("OPENSSL_CONF", dir.join("openssl.cnf"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl MitmProxy {
    pub fn start(upstream: String, hosts: &[&str]) -> MitmProxy {
        let dir = TempDir::new("mitm");
        let d = dir.path();
        std::fs::write(
            d.join("openssl.cnf"),
            "[req]\ndistinguished_name = dn\n[dn]\n",
        )
        .unwrap();
        let sans: Vec<String> = hosts.iter().map(|host| format!("DNS:{host}")).collect();
        std::fs::write(
            d.join("server.ext"),
            format!(
                "subjectAltName = {}\nextendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n",
                sans.join(",")
            ),
        )
        .unwrap();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        let mut ca = vec![
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=reglogin test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ];
        ca.extend_from_slice(&ec);
        ca.extend_from_slice(&[
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(d, &ca);
        let mut csr = vec![
            "req",
            "-new",
            "-subj",
            "/CN=aws",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        csr.extend_from_slice(&ec);
        openssl(d, &csr);
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(
            std::fs::File::open(d.join("server.pem")).unwrap(),
        ))
        .collect::<Result<_, _>>()
        .unwrap();
        let key = rustls_pemfile::private_key(&mut BufReader::new(
            std::fs::File::open(d.join("server.key")).unwrap(),
        ))
        .unwrap()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connects = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&connects);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let config = Arc::clone(&config);
                let upstream = upstream.clone();
                let recorded = Arc::clone(&recorded);
                std::thread::spawn(move || {
                    let _ = intercept(stream, config, &upstream, &recorded);
                });
            }
        });
        MitmProxy {
            port,
            ca_pem: d.join("ca.pem"),
            connects,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn intercept(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    upstream: &str,
    recorded: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let target = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
    }
    recorded.lock().unwrap().push(target);
    let mut raw = stream;
    raw.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    let connection = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(connection, raw);
    // One request per connection: the answer closes it.
    let (method, path, headers, body) = {
        let mut reader = BufReader::new(&mut tls);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or_default().to_owned();
        let path = words.next().unwrap_or("/").to_owned();
        let mut headers = Vec::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = header.trim_end().split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        (method, path, headers, body)
    };
    let agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut request = ureq::http::Request::builder()
        .method(method.as_str())
        .uri(format!("{upstream}{path}"));
    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length") {
            request = request.header(name, value);
        }
    }
    let mut response = agent
        .run(request.body(body).unwrap())
        .map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/x-amz-json-1.1")
        .to_owned();
    let answer = response
        .body_mut()
        .read_to_vec()
        .map_err(std::io::Error::other)?;
    write!(
        tls,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    )?;
    tls.write_all(&answer)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()
}
