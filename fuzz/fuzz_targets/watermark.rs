//! The Okta watermark parser (`OktaWatermark::parse`), which reads values operators hand-edit
//! (`host watermark --set`) and whatever the store holds. Invariants: it never panics; the text
//! it writes for an accepted watermark parses back to itself; and writing never moves a
//! timestamp later (it keeps milliseconds, so finer input moves earlier by less than 1 ms —
//! the safe direction: a delta run re-reads a little more, never less).
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
    let written = parsed.to_watermark();
    let again = OktaWatermark::parse(&written).expect("its own text parses");
    assert_eq!(again.to_watermark(), written, "writing is stable");
    for (before, after) in [(parsed.u, again.u), (parsed.g, again.g)] {
        match (before, after) {
            (Some(b), Some(a)) => {
                assert!(a <= b, "{a} is later than {b}");
                assert!(b - a < chrono::Duration::milliseconds(1), "{a} vs {b}");
            }
            (None, None) => {}
            other => panic!("a key appeared or vanished: {other:?}"),
        }
    }
    let _ = parsed.require(true, true);
});
