//! The helper wire format: whatever a helper prints that parses as `WireCredentials` survives
//! `to_go_json_line` and parses back to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reglogin::helper_protocol::WireCredentials;

fuzz_target!(|data: &[u8]| {
    let Ok(wire) = serde_json::from_slice::<WireCredentials>(data) else {
        return;
    };
    let line = wire.to_go_json_line();
    assert!(line.expose().ends_with('\n'));
    let back: WireCredentials =
        serde_json::from_str(line.expose()).expect("own helper line refused");
    assert_eq!(back.server_url, wire.server_url);
    assert_eq!(back.username, wire.username);
    assert_eq!(back.secret, wire.secret);
    let _ = back.into_credentials();
});
