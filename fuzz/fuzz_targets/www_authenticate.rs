//! `parse_challenges` never panics on any header values; schemes come out lower-case.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reglogin::auth::parse_challenges;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    for challenge in parse_challenges(&values) {
        assert_eq!(challenge.scheme, challenge.scheme.to_ascii_lowercase());
        let _ = challenge.param("realm");
    }
});
