//! Address normalisation never panics, and `convert_to_hostname` is idempotent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reglogin::address;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let host = address::convert_to_hostname(text);
    assert_eq!(address::convert_to_hostname(host), host);
    let _ = address::login_key(Some(text));
    let _ = address::logout_keys(Some(text));
    let _ = address::lookup_key(address::image_domain(text));
    let _ = address::RegistryAddress::for_login(Some(text));
});
