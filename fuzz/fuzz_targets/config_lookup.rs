//! The one-pass lookup read (`ConfigFile::parse_for_lookup`) accepts exactly what
//! `ConfigFile::parse` accepts, with the same message when it refuses, and keeps exactly the
//! entries it is asked for, each with the credentials the full parse gives.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reglogin::config::ConfigFile;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/config.json");
    // Keep the entries whose key has an even length: an arbitrary but fixed choice.
    let wanted = |key: &str| key.len() % 2 == 0;
    let full = ConfigFile::parse(path, data);
    let quick = ConfigFile::parse_for_lookup(path, data.to_vec(), wanted);
    match (&full, &quick) {
        (Ok(full), Ok(quick)) => {
            let expected: Vec<String> =
                full.auth_keys().into_iter().filter(|k| wanted(k)).collect();
            assert_eq!(quick.auth_keys(), expected, "kept entries differ");
            for key in &expected {
                assert_eq!(
                    full.file_credentials(key),
                    quick.file_credentials(key),
                    "{key}"
                );
            }
            assert_eq!(full.creds_store(), quick.creds_store());
            assert_eq!(full.cred_helpers(), quick.cred_helpers());
            assert_eq!(full.has_auth_information(), quick.has_auth_information());
        }
        (Err(full), Err(quick)) => assert_eq!(full.to_string(), quick.to_string()),
        _ => panic!("one parse accepted, the other refused"),
    }
});
