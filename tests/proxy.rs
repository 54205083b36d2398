//! HTTPS_PROXY / HTTP_PROXY / NO_PROXY. The registry is given a name that does not resolve, so
//! only a proxy can reach it; the proxy is a small stub (no proxy package can resolve a made-up
//! name) that tunnels CONNECT requests to the real registry and records what it saw.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{Registry, Sandbox, assert_success, stderr_of};

const NAME: &str = "registry.reglogin.invalid";

/// A CONNECT proxy that maps `NAME:PORT` to 127.0.0.1:PORT and records each CONNECT line.
fn start_proxy(seen: Arc<Mutex<Vec<String>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || tunnel(client, &seen));
        }
    });
    port
}

fn tunnel(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    seen.lock().unwrap().push(request_line.trim().to_owned());
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let Some(port) = target.strip_prefix(&format!("{NAME}:")) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap_or(0))) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    let mut upstream_reader = upstream.try_clone().unwrap();
    let mut upstream_writer = upstream;
    let mut client_writer = client;
    let upward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut upstream_writer);
        let _ = upstream_writer.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_reader, &mut client_writer);
    let _ = client_writer.shutdown(std::net::Shutdown::Write);
    let _ = upward.join();
}

#[test]
fn the_proxy_from_the_environment_is_used_unless_no_proxy_says_otherwise() {
    let registry = Registry::htpasswd(&[("alice", "wonderland")]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let proxy = format!("http://127.0.0.1:{}", start_proxy(seen.clone()));
    let server = format!("{NAME}:{}", registry.port());
    let sandbox = Sandbox::new();
    let login = |no_proxy: &str| {
        let mut command = sandbox.cmd(&[
            "login",
            "--insecure",
            "-u",
            "alice",
            "--password-stdin",
            &server,
        ]);
        command
            .env("HTTPS_PROXY", &proxy)
            .env("HTTP_PROXY", &proxy)
            .env("NO_PROXY", no_proxy);
        common::sandbox::run_with_timeout(
            command,
            Some(b"wonderland"),
            std::time::Duration::from_secs(60),
        )
    };

    let output = login("");
    assert_success(&output);
    let requests = seen.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|line| line.starts_with(&format!("CONNECT {server} "))),
        "{requests:?}"
    );

    seen.lock().unwrap().clear();
    let output = login(NAME);
    assert_eq!(output.status.code(), Some(1), "{}", stderr_of(&output));
    assert!(
        stderr_of(&output).contains(&server),
        "{}",
        stderr_of(&output)
    );
    assert!(seen.lock().unwrap().is_empty(), "NO_PROXY was ignored");
}
