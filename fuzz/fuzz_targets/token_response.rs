//! `TokenResponse::parse` never panics; an accepted answer has a token and a lifetime of at
//! least the minimum; its error text never quotes the body.
#![no_main]

use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use reglogin::auth::{MINIMUM_TOKEN_LIFETIME_SECS, TokenResponse};

fuzz_target!(|data: &[u8]| {
    match TokenResponse::parse(data) {
        Ok(response) => {
            assert!(response.bearer_token().is_some());
            assert!(response.expires_in >= MINIMUM_TOKEN_LIFETIME_SECS);
            let _ = response.expires_at(SystemTime::UNIX_EPOCH);
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
