//! A tiny HTTP/1.1 responder on 127.0.0.1 for the end-to-end tests: one request per
//! connection, plain or TLS, every request logged.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether it came over TLS.
    pub tls: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(mut self, body: &str) -> Reply {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = body.as_bytes().to_vec();
        self
    }
}

type Handler = dyn Fn(&Request, SocketAddr) -> Reply + Send + Sync;

pub struct TestServer {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
    /// Connections that did not deliver a request (failed handshakes, TLS to a plain server).
    rejected: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn http(handler: impl Fn(&Request, SocketAddr) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(None, Arc::new(handler))
    }

    pub fn https(
        tls: Arc<rustls::ServerConfig>,
        handler: impl Fn(&Request, SocketAddr) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::start(Some(tls), Arc::new(handler))
    }

    fn start(tls: Option<Arc<rustls::ServerConfig>>, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test port");
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let rejected = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, rejected, stop) = (log.clone(), rejected.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (log, rejected) = (log.clone(), rejected.clone());
                    let (tls, handler) = (tls.clone(), handler.clone());
                    std::thread::spawn(move || {
                        let served = serve(stream, tls, &*handler, addr, &log);
                        if !served {
                            rejected.fetch_add(1, Ordering::SeqCst);
                        }
                    });
                }
            })
        };
        TestServer {
            addr,
            log,
            rejected,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn rejected(&self) -> usize {
        self.rejected.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves one request; false when none arrived.
fn serve(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &Handler,
    addr: SocketAddr,
    log: &Mutex<Vec<Request>>,
) -> bool {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    match tls {
        Some(config) => {
            let Ok(conn) = rustls::ServerConnection::new(config) else {
                return false;
            };
            let mut tls_stream = rustls::StreamOwned::new(conn, stream);
            let served = handle(&mut tls_stream, true, handler, addr, log);
            tls_stream.conn.send_close_notify();
            let _ = tls_stream.flush();
            served
        }
        None => {
            let mut stream = stream;
            // A TLS ClientHello starts with 0x16: answer as Go's server does.
            let mut first = [0u8; 1];
            match stream.peek(&mut first) {
                Ok(1) if first[0] == 0x16 => {
                    let _ = stream.write_all(
                        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
                    );
                    return false;
                }
                Ok(1) => {}
                _ => return false,
            }
            handle(&mut stream, false, handler, addr, log)
        }
    }
}

fn handle<S: Read + Write>(
    stream: &mut S,
    tls: bool,
    handler: &Handler,
    addr: SocketAddr,
    log: &Mutex<Vec<Request>>,
) -> bool {
    let Some(request) = read_request(stream, tls) else {
        return false;
    };
    log.lock().unwrap().push(request.clone());
    let reply = handler(&request, addr);
    let reason = ureq::http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut head = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
    true
}

fn read_request<S: Read>(stream: &mut S, tls: bool) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
        tls,
    })
}
