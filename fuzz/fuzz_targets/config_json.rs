//! ConfigJson and AuthJson parsing and validation (`Config::from_settings`). The first byte
//! picks which one the rest of the input is; the other is a fixed valid value. In a fuzzed
//! AuthJson every `$K` becomes a canary token, so the fuzzer can put the token anywhere (a
//! value, a key, half a string, a number…).
//! Invariants: it never panics; an accepted configuration is within the documented limits and
//! sends the token only over https or to loopback; no error message and no Debug output ever
//! carries the canary.
#![no_main]

use connector_api::Settings;
use libfuzzer_sys::fuzz_target;
use okta_connector::config::Config;
use secrecy::SecretString;
use serde_json::{Value, json};

const CANARY: &str = "fuzz-canary-0123456789";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let (config, auth) = if which % 2 == 0 {
        let Ok(config) = serde_json::from_slice::<Value>(rest) else {
            return;
        };
        (
            config,
            json!({"Mode": "ApiKey", "ApiKey": CANARY}).to_string(),
        )
    } else {
        (
            json!({"OrgDomain": "contoso.okta.com"}),
            String::from_utf8_lossy(rest).replace("$K", CANARY),
        )
    };
    let settings = Settings::new(config, SecretString::from(auth));
    match Config::from_settings(&settings) {
        Ok((config, token)) => {
            assert!((1..=200).contains(&config.page_size));
            assert!((1..=10_000).contains(&config.group_page_size));
            assert!((1..=1_000).contains(&config.member_page_size));
            assert!(config.max_retries <= 20);
            assert!(config.rate_limit_share > 0.0 && config.rate_limit_share <= 1.0);
            let url = &config.base_url;
            let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
                || url.host_str().is_some_and(|h| h.starts_with("127."));
            assert!(
                url.scheme() == "https" || (url.scheme() == "http" && loopback),
                "{url}"
            );
            assert!(url.username().is_empty() && url.password().is_none());
            let shown = format!("{config:?} {token:?}");
            assert!(!shown.contains(CANARY), "{shown}");
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains(CANARY), "{shown}");
        }
    }
});
