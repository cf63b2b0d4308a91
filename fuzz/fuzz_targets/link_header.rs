//! The `Link` header parser (`okta_connector::parse_links`): every line of
//! the input is one header value, as Okta sends `self` and `next` on separate lines.
//! Invariants: it never panics, and a `next`/`self` it returns is a target written between
//! `<` and `>` in the input (it never invents or splices a URL).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_connector::parse_links;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let links = parse_links(text.split('\n'));
    for target in [&links.next, &links.this].into_iter().flatten() {
        assert!(
            text.contains(&format!("<{target}>")),
            "{target:?} is not a <target> of {text:?}"
        );
    }
});
