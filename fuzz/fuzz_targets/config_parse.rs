//! `ConfigFile::parse` never panics; what it accepts, its own output parses back to the same
//! document (apart from the `auths` object Docker always writes) and re-encodes to the same bytes.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use reglogin::config::ConfigFile;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/config.json");
    let Ok(first) = ConfigFile::parse(path, data) else {
        return;
    };
    let once = first.to_bytes();
    let second = ConfigFile::parse(path, &once).expect("reglogin refused its own output");
    let mut a = first.document().clone();
    let mut b = second.document().clone();
    a.remove("auths");
    b.remove("auths");
    assert_eq!(a, b, "round trip changed the document");
    assert_eq!(second.to_bytes(), once, "to_bytes is not stable");
    // Every key's credentials decode without panicking.
    for key in second.auth_keys() {
        let _ = second.file_credentials(&key);
    }
});
