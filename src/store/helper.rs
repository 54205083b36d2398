//! A store kept by an external `docker-credential-<name>` program: spawning it, feeding it
//! secrets on stdin only, bounding how long it may take and how much it may print, and turning
//! its answers into results with Docker's error texts.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::StoreError;
use crate::credentials::Credentials;
use crate::helper_protocol::{NOT_FOUND_MESSAGE, WireCredentials};

/// A helper that prints more than this is broken or hostile; its output is cut off.
const MAX_HELPER_OUTPUT: u64 = 4 << 20;

/// How long to wait for the end of a helper's output once the helper itself has exited.
const OUTPUT_GRACE_AFTER_EXIT: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub struct HelperStore {
    name: String,
    timeout: Duration,
}

impl HelperStore {
    pub fn new(name: &str, timeout: Duration) -> HelperStore {
        HelperStore {
            name: name.to_owned(),
            timeout,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    pub fn get(&self, key: &str) -> Result<Option<Credentials>, StoreError> {
        let output = match self.run("get", key.as_bytes()) {
            Ok(output) => output,
            Err(failure) if failure.is_not_found() => return Ok(None),
            Err(failure) => return Err(failure.into_error("getting")),
        };
        let wire: WireCredentials =
            serde_json::from_slice(&output).map_err(|err| StoreError::Helper {
                action: "getting",
                err: format!("{}: invalid JSON on stdout: {err}", self.program()),
                out: String::new(),
            })?;
        let creds = wire.into_credentials();
        Ok((!creds.is_empty()).then_some(creds))
    }

    pub fn store(&self, key: &str, creds: &Credentials) -> Result<(), StoreError> {
        let line = WireCredentials::from_credentials(key, creds).to_go_json_line();
        self.run("store", line.expose().as_bytes())
            .map(drop)
            .map_err(|failure| failure.into_error("storing"))
    }

    /// Erases `key`; Ok(false) when the helper had nothing for it.
    pub fn erase(&self, key: &str) -> Result<bool, StoreError> {
        match self.run("erase", key.as_bytes()) {
            Ok(_) => Ok(true),
            Err(failure) if failure.is_not_found() => Ok(false),
            Err(failure) => Err(failure.into_error("erasing")),
        }
    }

    /// Server URL → username, for every credential the helper holds.
    pub fn list(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let output = self
            .run("list", b"unused")
            .map_err(|failure| failure.into_error("listing"))?;
        serde_json::from_slice(&output).map_err(|err| StoreError::Helper {
            action: "listing",
            err: format!("{}: invalid JSON on stdout: {err}", self.program()),
            out: String::new(),
        })
    }

    fn run(&self, action: &str, input: &[u8]) -> Result<Vec<u8>, HelperFailure> {
        let program = self.program();
        let mut child = Command::new(&program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|err| HelperFailure {
                err: if err.kind() == std::io::ErrorKind::NotFound {
                    format!("exec: \"{program}\": executable file not found in $PATH")
                } else {
                    format!("exec: \"{program}\": {err}")
                },
                out: String::new(),
            })?;

        // Write and read on their own threads: a helper that reads only after printing, or
        // prints a lot before reading, must not deadlock us.
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let mut input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
            zeroize::Zeroize::zeroize(&mut input);
            // Dropping stdin here closes it: the helper reads until end of input.
        });
        let stdout = child.stdout.take().expect("stdout is piped");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (finished_reading, reading_finished) = mpsc::channel();
        let reader_output = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut stdout = stdout.take(MAX_HELPER_OUTPUT);
            let mut chunk = [0u8; 8192];
            while let Ok(read @ 1..) = stdout.read(&mut chunk) {
                reader_output
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .extend_from_slice(&chunk[..read]);
            }
            let _ = finished_reading.send(());
        });

        let started = Instant::now();
        crate::debug_line!("running {program} {action}");
        let status = wait_with_deadline(&mut child, self.timeout);
        crate::debug_line!(
            "{program} {action}: {} after {:.1} ms",
            status.map_or_else(|| "no answer".to_owned(), |status| status.to_string()),
            started.elapsed().as_secs_f64() * 1000.0
        );
        let _ = writer.join();
        let Some(status) = status else {
            return Err(HelperFailure {
                err: format!(
                    "{program} {action}: no answer after {} s (set REGLOGIN_HELPER_TIMEOUT to wait longer)",
                    self.timeout.as_secs_f64()
                ),
                out: String::new(),
            });
        };
        // A child the helper left running may hold stdout open long after the helper answered
        // (Docker then waits for it). Whatever the helper printed before it exited is already in
        // the pipe, so a short wait for the end of output is enough; then reglogin moves on.
        let remaining = self.timeout.saturating_sub(started.elapsed());
        let _ = reading_finished.recv_timeout(remaining.min(OUTPUT_GRACE_AFTER_EXIT));
        let output = std::mem::take(
            &mut *output
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if status.success() {
            Ok(output)
        } else {
            let code = status.code().map_or_else(
                || "killed by a signal".to_owned(),
                |code| format!("exit status {code}"),
            );
            Err(HelperFailure {
                err: format!("{program}: {code}"),
                out: String::from_utf8_lossy(&output).trim().to_owned(),
            })
        }
    }
}

fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(200);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

struct HelperFailure {
    err: String,
    out: String,
}

impl HelperFailure {
    fn is_not_found(&self) -> bool {
        self.out == NOT_FOUND_MESSAGE
    }

    fn into_error(self, action: &'static str) -> StoreError {
        StoreError::Helper {
            action,
            err: self.err,
            out: self.out,
        }
    }
}
