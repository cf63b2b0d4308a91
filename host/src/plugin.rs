//! Loading a configured connector: library → factory → instance with resolved settings.
//!
//! Libraries are loaded through the connector-api loader ([`PluginFactory`]), which checks the
//! ABI version before anything else and keeps the library mapped for as long as any instance
//! lives. A missing file, a library that is not a connector and an ABI mismatch each get an
//! error that says which file and what to do.

use std::path::Path;

use connector_api::abi::loader::PluginFactory;
use connector_api::{Connector, ConnectorFactory, Descriptor, ErrorKind, Settings};

use crate::config::ConnectorConfig;
use crate::error::HostError;
use crate::secrets::SecretChain;

/// A connector instance and where it came from.
pub struct Loaded {
    /// The instance (keeps its library loaded).
    pub connector: Box<dyn Connector>,
    /// What the library says it is.
    pub descriptor: Descriptor,
    /// The library path, as a string for the store.
    pub library: String,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .field("library", &self.library)
            .finish()
    }
}

/// Loads the library at `path` as a connector factory.
///
/// # Errors
/// [`HostError::Config`] saying whether the file is missing, is not a connector, or implements
/// another ABI version; [`HostError::Connector`] if the plug-in itself failed.
pub fn load_factory(name: &str, path: &Path) -> Result<PluginFactory, HostError> {
    if !path.exists() {
        return Err(HostError::Config(format!(
            "connector `{name}`: library {} does not exist. Build it (`cargo build --release` in \
             the workspace) or fix `library` in host.toml; relative paths are resolved against \
             the directory of host.toml",
            path.display()
        )));
    }
    PluginFactory::load(path).map_err(|e| match e.kind() {
        // Not loadable, not a connector, or another ABI version: the configuration must change.
        ErrorKind::InvalidConfig | ErrorKind::NotFound => HostError::Config(format!(
            "connector `{name}`: {}{}",
            e.message(),
            e.remediation()
                .map(|r| format!(". {r}"))
                .unwrap_or_else(
                    || ". Check that `library` points at a connector cdylib built \
                                    against the same connector-api version as this host"
                        .into()
                )
        )),
        _ => HostError::connector(name, e),
    })
}

/// Resolves the connector's secrets and creates an instance from `factory`.
///
/// The resolved AuthJson exists only inside the [`Settings`] handed to the factory; the
/// plug-in boundary copies it into the connector, and the host's copy is zeroed on drop.
///
/// # Errors
/// A secret cannot be resolved, or the connector refuses its settings.
pub fn instantiate(
    factory: &dyn ConnectorFactory,
    config: &ConnectorConfig,
    secrets: &SecretChain,
) -> Result<Box<dyn Connector>, HostError> {
    let auth = secrets.resolve_json(&config.auth)?;
    let settings = Settings::new(config.config.clone(), auth);
    factory
        .create(settings)
        .map_err(|e| HostError::connector(&config.name, e))
}

/// Loads and instantiates the connector configured as `config`.
///
/// # Errors
/// See [`load_factory`] and [`instantiate`].
pub fn load(config: &ConnectorConfig, secrets: &SecretChain) -> Result<Loaded, HostError> {
    let factory = load_factory(&config.name, &config.library)?;
    let descriptor = factory.descriptor();
    let connector = instantiate(&factory, config, secrets)?;
    tracing::debug!(
        connector = %config.name,
        library = %config.library.display(),
        kind = %descriptor.name,
        version = %descriptor.version,
        "connector loaded"
    );
    Ok(Loaded {
        connector,
        descriptor,
        library: config.library.display().to_string(),
    })
}
