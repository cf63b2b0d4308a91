//! Finding and loading the example plug-ins.

use std::path::PathBuf;

use connector_api::abi::loader::{PluginFactory, library_file_name, locate_library};
use connector_api::secrecy::SecretString;
use connector_api::{Connector, ConnectorFactory, Settings};
use serde_json::Value;

/// The path of example `name`'s `cdylib`: `target/<profile>/examples/` (where cargo puts example
/// libraries), or wherever [`locate_library`] finds it.
pub fn example_library(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // Test binaries live in target/<profile>/deps/.
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let candidate = profile_dir.join("examples").join(library_file_name(name));
    if candidate.is_file() {
        return candidate;
    }
    locate_library(name).unwrap_or_else(|| {
        panic!(
            "example library {} not found in {}; build it with `cargo build -p connector-api --examples` \
             (a plain `cargo test -p connector-api` builds it too)",
            library_file_name(name),
            profile_dir.join("examples").display()
        )
    })
}

/// Loads example `name` through the real loader.
pub fn load(name: &str) -> PluginFactory {
    let path = example_library(name);
    PluginFactory::load(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// Settings with `config` and an empty auth object.
pub fn settings(config: Value) -> Settings {
    Settings::new(config, SecretString::from("{}"))
}

/// Creates an instance of the stream test connector.
pub fn stream(config: Value) -> Box<dyn Connector> {
    load("stream_connector")
        .create(settings(config))
        .expect("stream connector accepts its config")
}
