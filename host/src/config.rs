//! `host.toml`: where the store is, how secrets are resolved, the guard, and the connectors.
//!
//! ```toml
//! store = "mesh.db"                       # default: mesh.db; or a PostgreSQL URL:
//! # store = "postgres://host@db.example:5432/mesh?sslmode=verify-full"
//! # store_password = "secret://mesh/postgres"   # else PGPASSWORD or ~/.pgpass
//!
//! [secrets]
//! backends = ["systemd", "env", "keyring", "file"]  # resolution order (default: all, this order)
//! dir = "secrets"                         # the file backend's directory (default: secrets)
//! keyring_service = "identity-connectors" # the keyring service name (default)
//!
//! [guard]
//! max_delete_share = 0.2                  # per type (default 0.2 = 20%)
//! allow_deletes_up_to = 0                 # deletions never tripping the share rule (default 0)
//!
//! [connectors.okta]
//! library = "target/release/libokta_connector.so"
//! config = { OrgDomain = "contoso.okta.com", PageSize = 200 }   # or config_file = "okta.json"
//! auth = { Mode = "ApiKey", ApiKey = "secret://okta/contoso/apitoken" }  # or auth_file = "…"
//! ```
//!
//! `connectors_dir`, `[worker]` and each connector's `schedule` are what `host worker` reads:
//! see [`worker`].
//!
//! Every relative path in the file (`store`, `secrets.dir`, `library`, `config_file`,
//! `auth_file`) is resolved against the directory that contains the file, so a configuration
//! works the same whatever the current directory is. Unknown keys are errors (a typo must not be
//! silently ignored), and every error names the key and what is expected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::HostError;
use crate::guard::GuardPolicy;
use crate::scheduler::Schedule;
use crate::secrets::env::EnvBackend;
use crate::secrets::file::FileBackend;
use crate::secrets::keyring::{DEFAULT_SERVICE, KeyringBackend};
use crate::secrets::systemd::SystemdBackend;
use crate::secrets::{Backend, BackendKind, SecretChain, SecretRef};

pub mod worker;

pub use worker::WorkerConfig;

/// The default configuration file name.
pub const DEFAULT_CONFIG: &str = "host.toml";
/// The default store file name.
pub const DEFAULT_STORE: &str = "mesh.db";
/// The default directory of the file secret backend.
pub const DEFAULT_SECRETS_DIR: &str = "secrets";

/// A loaded configuration, paths resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from; `None` when no file exists and defaults are used.
    pub source: Option<PathBuf>,
    /// The directory relative paths are resolved against.
    pub base_dir: PathBuf,
    /// The store: a SQLite file or a PostgreSQL database.
    pub store: StoreLocation,
    /// `store_password`: the secret reference of a PostgreSQL store's password.
    pub store_password: Option<SecretRef>,
    /// Secret resolution.
    pub secrets: SecretsConfig,
    /// Mass-delete guard.
    pub guard: GuardPolicy,
    /// Connectors by name (inline and from `connectors_dir`).
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// The schedules `host worker` runs, by connector name.
    pub schedules: BTreeMap<String, Schedule>,
    /// `[worker]`.
    pub worker: WorkerConfig,
}

/// Where the store is (`store` in host.toml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file (the default).
    Sqlite(PathBuf),
    /// A PostgreSQL URL (never with a password: that is `store_password`).
    Postgres(String),
}

impl StoreLocation {
    /// `store` as written: a `postgres://` or `postgresql://` URL, else a SQLite file resolved
    /// against `base_dir`.
    pub fn parse(text: &str, base_dir: &Path) -> Self {
        if crate::store::postgres::is_postgres_url(text) {
            StoreLocation::Postgres(text.to_owned())
        } else {
            StoreLocation::Sqlite(base_dir.join(text))
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(url),
        }
    }
}

/// `[secrets]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretsConfig {
    /// The resolution order.
    pub backends: Vec<BackendKind>,
    /// The file backend's directory.
    pub dir: PathBuf,
    /// The keyring service name.
    pub keyring_service: String,
}

impl SecretsConfig {
    /// The defaults, with the file directory under `base_dir`.
    pub fn defaults(base_dir: &Path) -> Self {
        Self {
            backends: vec![
                BackendKind::Systemd,
                BackendKind::Env,
                BackendKind::Keyring,
                BackendKind::File,
            ],
            dir: base_dir.join(DEFAULT_SECRETS_DIR),
            keyring_service: DEFAULT_SERVICE.to_owned(),
        }
    }

    /// Builds one backend of `kind` with these settings (configured in the chain or not).
    pub fn backend(&self, kind: BackendKind) -> Box<dyn Backend> {
        match kind {
            BackendKind::Systemd => Box::new(SystemdBackend::from_env()),
            BackendKind::Env => Box::new(EnvBackend::new()),
            BackendKind::Keyring => Box::new(KeyringBackend::new(self.keyring_service.clone())),
            BackendKind::File => Box::new(FileBackend::new(self.dir.clone())),
        }
    }

    /// The resolution chain.
    pub fn chain(&self) -> SecretChain {
        SecretChain::new(self.backends.iter().map(|k| self.backend(*k)).collect())
    }
}

/// `[connectors.<name>]`, with files read and paths resolved.
#[derive(Clone)]
pub struct ConnectorConfig {
    /// The name (the table key).
    pub name: String,
    /// The connector library (`.so`).
    pub library: PathBuf,
    /// The connector's ConfigJson.
    pub config: Value,
    /// The connector's AuthJson, with `secret://` references still unresolved.
    pub auth: Value,
}

impl fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // AuthJson should hold references only, but an operator may have pasted a value.
        let auth_keys: Vec<&str> = match &self.auth {
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("library", &self.library)
            .field("config", &self.config)
            .field("auth_keys", &auth_keys)
            .finish()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: Option<String>,
    store_password: Option<String>,
    #[serde(default)]
    secrets: RawSecrets,
    #[serde(default)]
    guard: RawGuard,
    #[serde(default)]
    connectors: BTreeMap<String, RawConnector>,
    connectors_dir: Option<PathBuf>,
    #[serde(default)]
    worker: worker::RawWorker,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecrets {
    backends: Option<Vec<BackendKind>>,
    dir: Option<PathBuf>,
    keyring_service: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    max_delete_share: Option<f64>,
    allow_deletes_up_to: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    library: PathBuf,
    config: Option<toml::Table>,
    config_file: Option<PathBuf>,
    auth: Option<toml::Table>,
    auth_file: Option<PathBuf>,
    schedule: Option<worker::RawSchedule>,
}

impl fmt::Debug for RawConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawConnector")
            .field("library", &self.library)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for a directory without a configuration file.
    pub fn defaults(base_dir: &Path) -> Self {
        Self {
            source: None,
            base_dir: base_dir.to_owned(),
            store: StoreLocation::Sqlite(base_dir.join(DEFAULT_STORE)),
            store_password: None,
            secrets: SecretsConfig::defaults(base_dir),
            guard: GuardPolicy::default(),
            connectors: BTreeMap::new(),
            schedules: BTreeMap::new(),
            worker: WorkerConfig::default(),
        }
    }

    /// Loads `path`. When the file does not exist and `required` is false (the path is the
    /// default `./host.toml`), the defaults for the current directory are used.
    ///
    /// # Errors
    /// [`HostError::Config`] naming the file, the key and what is expected.
    pub fn load(path: &Path, required: bool) -> Result<Self, HostError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                let base = path.parent().filter(|p| !p.as_os_str().is_empty());
                return Ok(Self::defaults(base.unwrap_or(Path::new("."))));
            }
            Err(e) => {
                return Err(HostError::Config(format!(
                    "cannot read configuration {}: {e}",
                    path.display()
                )));
            }
        };
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let mut config = Self::parse(&text, path, &base_dir)?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses configuration text; `origin` names it in errors, relative paths are resolved
    /// against `base_dir`.
    ///
    /// # Errors
    /// [`HostError::Config`] naming the key and what is expected.
    pub fn parse(text: &str, origin: &Path, base_dir: &Path) -> Result<Self, HostError> {
        let raw: RawConfig = deserialize(text, origin)?;
        let secrets = raw.secrets.resolve(origin, base_dir)?;
        let guard = raw.guard.resolve(origin)?;
        let worker = raw.worker.resolve(origin)?;
        let (store, store_password) =
            resolve_store(raw.store, raw.store_password, origin, base_dir)?;
        let mut connectors = BTreeMap::new();
        let mut schedules = BTreeMap::new();
        for (name, raw) in raw.connectors {
            if let Some(s) = &raw.schedule {
                schedules.insert(name.clone(), s.resolve(origin, &name)?);
            }
            let connector = raw.resolve(name.clone(), origin, base_dir)?;
            connectors.insert(name, (connector, origin.to_owned()));
        }
        if let Some(dir) = raw.connectors_dir {
            worker::load_dir(&base_dir.join(dir), origin, &mut connectors, &mut schedules)?;
        }
        Ok(Self {
            source: None,
            base_dir: base_dir.to_owned(),
            store,
            store_password,
            secrets,
            guard,
            connectors: connectors.into_iter().map(|(k, (c, _))| (k, c)).collect(),
            schedules,
            worker,
        })
    }

    /// The connector called `name`.
    ///
    /// # Errors
    /// [`HostError::Config`] listing the configured names.
    pub fn connector(&self, name: &str) -> Result<&ConnectorConfig, HostError> {
        self.connectors.get(name).ok_or_else(|| {
            let file = match &self.source {
                Some(p) => p.display().to_string(),
                None => format!("{DEFAULT_CONFIG} (not found; see docs/host.md)"),
            };
            let known: Vec<&str> = self.connectors.keys().map(String::as_str).collect();
            HostError::Config(if known.is_empty() {
                format!("no connector named `{name}`: {file} configures none")
            } else {
                format!(
                    "no connector named `{name}` in {file}; configured: {}",
                    known.join(", ")
                )
            })
        })
    }

    /// Keys in connectors' AuthJson that look like credentials but hold a literal value instead
    /// of a `secret://` reference (`connectors.okta.auth.ApiKey`), for a warning. Identifiers
    /// ([`IDENTIFIER_KEYS`]: `ClientId`, `KeyId`) are not credentials.
    pub fn literal_credentials(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, c) in &self.connectors {
            if let Value::Object(map) = &c.auth {
                for (key, value) in map {
                    let k = key.to_ascii_lowercase();
                    let credential_like = ["key", "token", "secret", "password"]
                        .iter()
                        .any(|w| k.contains(w));
                    let identifier = IDENTIFIER_KEYS.iter().any(|i| i.eq_ignore_ascii_case(key));
                    if credential_like
                        && !identifier
                        && value
                            .as_str()
                            .is_some_and(|s| !s.starts_with(crate::secrets::SCHEME))
                    {
                        out.push(format!("connectors.{name}.auth.{key}"));
                    }
                }
            }
        }
        out
    }
}

/// AuthJson keys that name identifiers, not secrets (an OAuth app's client id and key id):
/// literal values are expected there.
pub const IDENTIFIER_KEYS: [&str; 2] = ["ClientId", "KeyId"];

/// `store` and `store_password`, checked: a password only for PostgreSQL, as a reference,
/// never inside the URL.
fn resolve_store(
    store: Option<String>,
    password: Option<String>,
    origin: &Path,
    base_dir: &Path,
) -> Result<(StoreLocation, Option<SecretRef>), HostError> {
    let location = StoreLocation::parse(store.as_deref().unwrap_or(DEFAULT_STORE), base_dir);
    if let StoreLocation::Postgres(url) = &location {
        let parsed = url::Url::parse(url).map_err(|e| {
            key_error(
                origin,
                "store",
                format!(
                    "not a valid PostgreSQL URL ({e}); expected postgres://user@host:port/database"
                ),
            )
        })?;
        if parsed.password().is_some() {
            return Err(key_error(origin, "store", "the URL holds a password: remove it and set `store_password = \"secret://…\"` (or PGPASSWORD, or ~/.pgpass)".into()));
        }
    }
    let password = match (password, &location) {
        (None, _) => None,
        (Some(_), StoreLocation::Sqlite(_)) => {
            return Err(key_error(origin, "store_password", "only a PostgreSQL store (`store = \"postgres://…\"`) has a password".into()));
        }
        // The value is not shown: it may be a password pasted by mistake.
        (Some(text), StoreLocation::Postgres(_)) => Some(SecretRef::parse(&text).map_err(|_| {
            key_error(origin, "store_password", "not a secret reference: write one such as \"secret://mesh/postgres\" (its value in a secret backend), never the password itself".into())
        })?),
    };
    Ok((location, password))
}

/// A configuration error at `key` of the file `origin`.
fn key_error(origin: &Path, key: &str, msg: String) -> HostError {
    HostError::Config(format!("{}: {key}: {msg}", origin.display()))
}

impl RawSecrets {
    /// `[secrets]` with defaults applied and the directory resolved against `base_dir`.
    fn resolve(self, origin: &Path, base_dir: &Path) -> Result<SecretsConfig, HostError> {
        let defaults = SecretsConfig::defaults(base_dir);
        let backends = self.backends.unwrap_or(defaults.backends);
        for (i, kind) in backends.iter().enumerate() {
            if backends[..i].contains(kind) {
                return Err(key_error(
                    origin,
                    "secrets.backends",
                    format!(
                        "`{kind}` is listed twice; list each of systemd, env, keyring, file at most once"
                    ),
                ));
            }
        }
        let keyring_service = self.keyring_service.unwrap_or(defaults.keyring_service);
        if keyring_service.is_empty() {
            return Err(key_error(
                origin,
                "secrets.keyring_service",
                "expected a non-empty service name".into(),
            ));
        }
        Ok(SecretsConfig {
            backends,
            dir: self.dir.map(|d| base_dir.join(d)).unwrap_or(defaults.dir),
            keyring_service,
        })
    }
}

impl RawGuard {
    /// `[guard]` over the default policy.
    fn resolve(self, origin: &Path) -> Result<GuardPolicy, HostError> {
        let mut guard = GuardPolicy::default();
        if let Some(share) = self.max_delete_share {
            if !(0.0..=1.0).contains(&share) {
                return Err(key_error(
                    origin,
                    "guard.max_delete_share",
                    format!("expected a share between 0 and 1 (0.2 means 20%), found {share}"),
                ));
            }
            guard.max_delete_share = share;
        }
        if let Some(floor) = self.allow_deletes_up_to {
            guard.allow_deletes_up_to = floor;
        }
        Ok(guard)
    }
}

impl RawConnector {
    /// `[connectors.<name>]` with its files read and its paths resolved against `base_dir`.
    fn resolve(
        self,
        name: String,
        origin: &Path,
        base_dir: &Path,
    ) -> Result<ConnectorConfig, HostError> {
        let key = format!("connectors.{name}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(key_error(
                origin,
                &key,
                "connector names may only contain ASCII letters, digits, `-` and `_`".into(),
            ));
        }
        let config = json_part(
            self.config,
            self.config_file,
            &format!("{key}.config"),
            base_dir,
            origin,
        )?;
        let auth = json_part(
            self.auth,
            self.auth_file,
            &format!("{key}.auth"),
            base_dir,
            origin,
        )?;
        if self.library.as_os_str().is_empty() {
            return Err(key_error(
                origin,
                &format!("{key}.library"),
                "expected the path of the connector library (a .so file)".into(),
            ));
        }
        Ok(ConnectorConfig {
            name,
            library: base_dir.join(self.library),
            config,
            auth,
        })
    }
}

fn deserialize<T: DeserializeOwned>(text: &str, origin: &Path) -> Result<T, HostError> {
    let line_of = |span: Option<std::ops::Range<usize>>| {
        span.map(|s| text[..s.start.min(text.len())].lines().count().max(1))
    };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        HostError::Config(format!(
            "{}: not valid TOML{}: {}",
            origin.display(),
            line_of(e.span())
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default(),
            e.message()
        ))
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = line_of(inner.span())
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let at = if key == "." || key.is_empty() {
            String::new()
        } else {
            format!(" {key}:")
        };
        HostError::Config(format!(
            "{}:{at} {}{line}",
            origin.display(),
            explain(inner.message())
        ))
    })
}

/// Adds what is expected to serde's terse messages.
fn explain(message: &str) -> String {
    if message.contains("unknown variant") && message.contains("env") {
        format!("{message} (secrets.backends lists systemd, env, keyring and/or file)")
    } else {
        message.to_owned()
    }
}

fn json_part(
    inline: Option<toml::Table>,
    file: Option<PathBuf>,
    key: &str,
    base_dir: &Path,
    origin: &Path,
) -> Result<Value, HostError> {
    let err = |msg: String| HostError::Config(format!("{}: {key}: {msg}", origin.display()));
    match (inline, file) {
        (Some(_), Some(_)) => Err(err(format!(
            "set either `{}` (inline) or `{}_file` (a JSON file), not both",
            key.rsplit('.').next().unwrap_or(key),
            key.rsplit('.').next().unwrap_or(key)
        ))),
        (Some(table), None) => toml_to_json(toml::Value::Table(table), key).map_err(err),
        (None, Some(file)) => {
            let path = base_dir.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                err(format!(
                    "{} is not valid JSON (line {}, column {}): {}",
                    path.display(),
                    e.line(),
                    e.column(),
                    // serde_json messages describe the syntax, never quote values.
                    e
                ))
            })?;
            if !value.is_object() {
                return Err(err(format!(
                    "{} must hold a JSON object ({{ … }})",
                    path.display()
                )));
            }
            Ok(value)
        }
        (None, None) => Ok(Value::Object(serde_json::Map::new())),
    }
}

fn toml_to_json(value: toml::Value, key: &str) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{key}: {f} cannot be represented in JSON"))?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| toml_to_json(v, &format!("{key}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(
            t.into_iter()
                .map(|(k, v)| {
                    let sub = format!("{key}.{k}");
                    toml_to_json(v, &sub).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(
            text,
            Path::new("/etc/mesh/host.toml"),
            Path::new("/etc/mesh"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn the_issue_example_parses_with_paths_resolved() {
        let c = parse(
            r#"
            store = "mesh.db"
            [connectors.okta]
            library = "target/release/libokta_connector.so"
            config = { OrgDomain = "contoso.okta.com", PageSize = 200 }
            auth = { Mode = "ApiKey", ApiKey = "secret://okta/contoso/apitoken" }
            "#,
        )
        .unwrap();
        assert_eq!(c.store, StoreLocation::Sqlite("/etc/mesh/mesh.db".into()));
        let okta = c.connector("okta").unwrap();
        assert_eq!(
            okta.library,
            Path::new("/etc/mesh/target/release/libokta_connector.so")
        );
        assert_eq!(
            okta.config,
            serde_json::json!({"OrgDomain": "contoso.okta.com", "PageSize": 200})
        );
        assert_eq!(okta.auth["ApiKey"], "secret://okta/contoso/apitoken");
        assert_eq!(c.secrets, SecretsConfig::defaults(Path::new("/etc/mesh")));
        assert_eq!(c.guard, GuardPolicy::default());
        assert!(c.literal_credentials().is_empty());
    }

    #[test]
    fn absolute_paths_are_kept_and_defaults_apply() {
        let c = parse(
            r#"
            store = "/var/lib/mesh/m.db"
            [secrets]
            backends = ["file", "env"]
            dir = "/run/secrets"
            [guard]
            max_delete_share = 0.5
            allow_deletes_up_to = 10
            [connectors.a]
            library = "/opt/lib/liba.so"
            "#,
        )
        .unwrap();
        assert_eq!(c.store, StoreLocation::Sqlite("/var/lib/mesh/m.db".into()));
        assert_eq!(c.secrets.backends, [BackendKind::File, BackendKind::Env]);
        assert_eq!(c.secrets.dir, Path::new("/run/secrets"));
        assert_eq!(c.guard.max_delete_share, 0.5);
        assert_eq!(c.guard.allow_deletes_up_to, 10);
        let a = c.connector("a").unwrap();
        assert_eq!(a.library, Path::new("/opt/lib/liba.so"));
        assert_eq!(a.config, serde_json::json!({}));
    }

    #[test]
    fn systemd_credentials_come_first_by_default_and_can_be_listed() {
        let defaults = SecretsConfig::defaults(Path::new("/etc/mesh"));
        assert_eq!(
            defaults.backends,
            [
                BackendKind::Systemd,
                BackendKind::Env,
                BackendKind::Keyring,
                BackendKind::File
            ]
        );
        let c = parse("[secrets]\nbackends = [\"env\", \"systemd\"]\n").unwrap();
        assert_eq!(c.secrets.backends, [BackendKind::Env, BackendKind::Systemd]);
        assert_eq!(
            c.secrets.backend(BackendKind::Systemd).kind(),
            BackendKind::Systemd
        );
    }

    #[test]
    fn errors_name_the_key_and_what_is_expected() {
        let cases = [
            (
                "[connectors.okta]\nconfig = {}\n",
                "connectors.okta: missing field `library`",
            ),
            (
                "[connectors.okta]\nlibrary = 3\n",
                "connectors.okta.library: invalid type: integer `3`",
            ),
            (
                "[connectors.okta]\nlibary = \"x.so\"\n",
                "unknown field `libary`",
            ),
            ("stor = \"x\"\n", "unknown field `stor`"),
            (
                "[guard]\nmax_delete_share = \"20%\"\n",
                "guard.max_delete_share: invalid type: string \"20%\", expected f64",
            ),
            (
                "[guard]\nmax_delete_share = 20\n",
                "guard.max_delete_share: expected a share between 0 and 1",
            ),
            (
                "[secrets]\nbackends = [\"vault\"]\n",
                "secrets.backends[0]: unknown variant `vault`",
            ),
            (
                "[secrets]\nbackends = [\"env\", \"env\"]\n",
                "secrets.backends: `env` is listed twice",
            ),
            (
                "[connectors.\"bad name\"]\nlibrary = \"x.so\"\n",
                "connectors.bad name: connector names may only contain",
            ),
            (
                "[connectors.o]\nlibrary = \"x.so\"\nconfig = {}\nconfig_file = \"c.json\"\n",
                "connectors.o.config: set either `config` (inline) or `config_file`",
            ),
            (
                "[connectors.o]\nlibrary = \"x.so\"\nconfig_file = \"missing.json\"\n",
                "connectors.o.config: cannot read /etc/mesh/missing.json",
            ),
            ("store = \n", "not valid TOML (line 1)"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.starts_with("/etc/mesh/host.toml:"), "{err}");
            assert!(
                err.contains(want),
                "for {text:?}\nwant: {want}\n got: {err}"
            );
        }
    }

    #[test]
    fn wrong_type_errors_give_the_line() {
        let err = parse("# c\n\n[connectors.okta]\nlibrary = 3\n").unwrap_err();
        assert!(err.contains("(line 4)"), "{err}");
    }

    #[test]
    fn config_and_auth_from_json_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.json"), r#"{"OrgDomain":"x.okta.com"}"#).unwrap();
        std::fs::write(dir.path().join("a.json"), r#"{"ApiKey":"secret://x/y"}"#).unwrap();
        std::fs::write(dir.path().join("bad.json"), r#"{"ApiKey": }"#).unwrap();
        let toml_path = dir.path().join("host.toml");
        std::fs::write(
            &toml_path,
            "[connectors.x]\nlibrary = \"l.so\"\nconfig_file = \"c.json\"\nauth_file = \"a.json\"\n",
        )
        .unwrap();
        let c = Config::load(&toml_path, true).unwrap();
        let x = c.connector("x").unwrap();
        assert_eq!(x.config["OrgDomain"], "x.okta.com");
        assert_eq!(x.auth["ApiKey"], "secret://x/y");
        assert_eq!(x.library, dir.path().join("l.so"));
        assert_eq!(c.source.as_deref(), Some(toml_path.as_path()));

        std::fs::write(
            &toml_path,
            "[connectors.x]\nlibrary = \"l.so\"\nauth_file = \"bad.json\"\n",
        )
        .unwrap();
        let err = Config::load(&toml_path, true).unwrap_err().to_string();
        assert!(
            err.contains("connectors.x.auth:") && err.contains("not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn missing_default_file_gives_defaults_but_an_explicit_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        let c = Config::load(&path, false).unwrap();
        assert!(c.source.is_none());
        assert_eq!(c.store, StoreLocation::Sqlite(dir.path().join("mesh.db")));
        let err = c.connector("okta").unwrap_err().to_string();
        assert!(err.contains("no connector named `okta`"), "{err}");
        assert!(Config::load(&path, true).is_err());
    }

    #[test]
    fn literal_credentials_are_reported_by_key_only() {
        let c = parse(
            "[connectors.okta]\nlibrary = \"x.so\"\nauth = { Mode = \"ApiKey\", ApiKey = \"canary-literal\" }\n",
        )
        .unwrap();
        assert_eq!(c.literal_credentials(), ["connectors.okta.auth.ApiKey"]);
        let oauth = parse(
            "[connectors.okta]\nlibrary = \"x.so\"\nauth = { Mode = \"PrivateKeyJwt\", ClientId = \"0oa1\", KeyId = \"kid-1\", PrivateKey = \"canary-literal\" }\n",
        )
        .unwrap();
        assert_eq!(
            oauth.literal_credentials(),
            ["connectors.okta.auth.PrivateKey"],
            "ClientId and KeyId are identifiers"
        );
        let dbg = format!("{:?}", c.connector("okta").unwrap());
        assert!(!dbg.contains("canary-literal"), "{dbg}");
    }

    #[test]
    fn a_postgres_store_and_its_password_reference() {
        let c = parse(
            r#"
            store = "postgres://svc@db.example:5432/mesh?sslmode=require"
            store_password = "secret://mesh/postgres"
            "#,
        )
        .unwrap();
        assert_eq!(
            c.store,
            StoreLocation::Postgres("postgres://svc@db.example:5432/mesh?sslmode=require".into())
        );
        assert_eq!(c.store_password.unwrap().as_str(), "secret://mesh/postgres");
        let c = parse("store = \"data/m.db\"").unwrap();
        assert_eq!(c.store, StoreLocation::Sqlite("/etc/mesh/data/m.db".into()));
        assert!(c.store_password.is_none());
        for (text, want) in [
            (
                "store = \"postgres://svc:hunter2@db/mesh\"",
                "store: the URL holds a password",
            ),
            (
                "store_password = \"secret://mesh/pg\"",
                "store_password: only a PostgreSQL store",
            ),
            (
                "store = \"postgres://svc@db/mesh\"\nstore_password = \"hunter2\"",
                "store_password: not a secret reference",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
