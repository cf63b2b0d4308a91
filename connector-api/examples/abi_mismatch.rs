//! A test library that claims a different ABI version, to prove hosts refuse it before calling
//! anything else. It deliberately exports nothing but `connector_abi_version`: a host that called
//! any other symbol would fail to resolve it instead of producing the version error.

/// Reports `ABI_VERSION + 1`.
#[unsafe(no_mangle)]
pub extern "C" fn connector_abi_version() -> u32 {
    connector_api::abi::ABI_VERSION + 1
}
