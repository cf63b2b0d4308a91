//! The Okta watermark parser (`OktaWatermark::parse`), which reads values operators hand-edit
//! (`host watermark --set`) and whatever the store holds. Invariants: it never panics, and a
//! watermark it accepts round-trips through its own text unchanged.
#![no_main]

use connector_api::Watermark;
use libfuzzer_sys::fuzz_target;
use okta_connector::watermark::OktaWatermark;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = OktaWatermark::parse(&Watermark::new(text)) else {
        return;
    };
    let again = OktaWatermark::parse(&parsed.to_watermark()).expect("its own text parses");
    assert_eq!(parsed, again);
    let _ = parsed.require(true, true);
});
