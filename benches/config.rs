//! In-process micro-benchmarks: config.json load/save and registry-address normalisation.
//! Run with `cargo bench --bench config` (bench/run runs it and copies the table into
//! docs/benchmarks.md).

use std::path::Path;

use divan::{Bencher, black_box};
use reglogin::address::RegistryAddress;
use reglogin::config::ConfigFile;

fn main() {
    divan::main();
}

/// A config in Docker's format with `entries` auths and 300 credHelpers, as bench/gen_config.py
/// writes it.
fn config_text(entries: usize) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut auths = serde_json::Map::new();
    for i in 0..entries {
        let auth = b64.encode(format!("user{i}:password-{i:08}"));
        auths.insert(
            format!("registry-{i:05}.example.com"),
            serde_json::json!({ "auth": auth }),
        );
    }
    let mut helpers = serde_json::Map::new();
    for i in 0..300 {
        helpers.insert(
            format!("{i:012}.dkr.ecr.us-east-1.amazonaws.com"),
            serde_json::Value::String("ecr-login".into()),
        );
    }
    let mut doc = serde_json::Map::new();
    doc.insert("auths".into(), serde_json::Value::Object(auths));
    doc.insert("credHelpers".into(), serde_json::Value::Object(helpers));
    reglogin::config::to_docker_bytes(&doc)
}

const SIZES: [usize; 3] = [10, 1_000, 10_000];

#[divan::bench(args = SIZES)]
fn parse(bencher: Bencher, entries: usize) {
    let text = config_text(entries);
    let path = Path::new("/bench/config.json");
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| ConfigFile::parse(path, black_box(&text)).unwrap());
}

#[divan::bench(args = SIZES)]
fn to_bytes(bencher: Bencher, entries: usize) {
    let text = config_text(entries);
    let config = ConfigFile::parse(Path::new("/bench/config.json"), &text).unwrap();
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| black_box(&config).to_bytes());
}

/// parse + to_bytes: the in-memory part of every login/logout.
#[divan::bench(args = SIZES)]
fn parse_and_to_bytes(bencher: Bencher, entries: usize) {
    let text = config_text(entries);
    let path = Path::new("/bench/config.json");
    bencher.bench(|| {
        ConfigFile::parse(path, black_box(&text))
            .unwrap()
            .to_bytes()
    });
}

const ADDRESSES: [&str; 6] = [
    "(none: Docker Hub)",
    "docker.io",
    "https://index.docker.io/v1/",
    "127.0.0.1:5000",
    "https://ghcr.io/owner/app",
    "123456789012.dkr.ecr.us-east-1.amazonaws.com",
];

#[divan::bench(args = ADDRESSES)]
fn for_login(address: &str) -> RegistryAddress {
    let server = if address.starts_with('(') {
        None
    } else {
        Some(address)
    };
    RegistryAddress::for_login(black_box(server))
}

/// Reference, not reglogin code: the same file deserialized into a borrowed, typed view (each
/// `auths` entry's string fields, everything else skipped) instead of a `serde_json::Value` tree.
/// It is the floor for a read-only command such as `get`, which needs one entry.
mod view {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Entry<'a> {
        #[serde(borrow, default)]
        pub auth: Option<Cow<'a, str>>,
        #[serde(borrow, default)]
        pub identitytoken: Option<Cow<'a, str>>,
    }

    #[derive(Deserialize)]
    pub struct View<'a> {
        #[serde(borrow, default)]
        pub auths: HashMap<Cow<'a, str>, Entry<'a>>,
        #[serde(borrow, default, rename = "credsStore")]
        pub creds_store: Option<Cow<'a, str>>,
        #[serde(borrow, default, rename = "credHelpers")]
        pub cred_helpers: HashMap<Cow<'a, str>, Cow<'a, str>>,
    }
}

#[divan::bench(args = SIZES)]
fn reference_typed_view_parse(bencher: Bencher, entries: usize) {
    let text = config_text(entries);
    bencher
        .counter(divan::counter::BytesCount::new(text.len()))
        .bench(|| {
            let view: view::View = serde_json::from_slice(black_box(&text)).unwrap();
            // what `get` does next: one lookup
            let entry = view.auths.get("registry-00005.example.com");
            let secret = entry.and_then(|e| e.auth.as_deref().or(e.identitytoken.as_deref()));
            black_box((
                secret.map(str::len),
                view.cred_helpers.len(),
                view.creds_store.is_some(),
            ))
        });
}
