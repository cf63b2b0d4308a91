//! The ABI batch decoder (`connector_api::abi::batch::decode`): the host decodes whatever
//! bytes a loaded plug-in hands its sink callback. Invariants: it never panics, and every batch
//! it accepts re-encodes to a batch that decodes to the same changes.
#![no_main]

use connector_api::abi::batch::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(changes) = decode(data) else {
        return;
    };
    let mut out = Vec::new();
    encode(&changes, &mut out);
    assert_eq!(decode(&out).expect("its own encoding decodes"), changes);
});
