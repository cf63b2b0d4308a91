//! `secret://` references and the chain of backends that resolves them.
//!
//! A connector's AuthJson in host.toml holds references, never values:
//! `{ Mode = "ApiKey", ApiKey = "secret://okta/contoso/apitoken" }`. Before a run the host walks
//! the JSON, replaces every string that starts with `secret://` by the value found in the first
//! backend that has it, and hands the connector the result as a [`SecretString`]. The plaintext
//! lives only in memory for the duration of the run and is zeroed when dropped.
//!
//! Backends, in the default order (configurable with `secrets.backends`):
//! * [`systemd`] — `$CREDENTIALS_DIRECTORY/okta.contoso.apitoken`, the credentials systemd passes
//!   to a service (`LoadCredentialEncrypted=`); unavailable, and skipped, outside such a service;
//! * [`env`](mod@env) — `SECRET_OKTA_CONTOSO_APITOKEN` for `secret://okta/contoso/apitoken`;
//! * [`keyring`] — the OS keyring; on Linux the kernel keyutils session keyring (no D-Bus);
//! * [`file`](mod@file) — one file per reference under a directory, refused when group/world-readable.
//!
//! Errors name the reference and the backends tried; they never contain a value.

pub mod env;
pub mod file;
pub mod input;
pub mod keyring;
pub mod systemd;

use std::fmt;

use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The scheme every reference starts with.
pub const SCHEME: &str = "secret://";

/// A parsed `secret://` reference such as `secret://okta/contoso/apitoken`.
///
/// References are names, not values: they may appear in logs and errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretRef {
    raw: String,
}

impl SecretRef {
    /// Parses a reference: `secret://` followed by one or more `/`-separated segments of
    /// ASCII letters, digits, `.`, `_` and `-` (not `.` or `..`), at most 200 characters.
    ///
    /// # Errors
    /// [`SecretError::BadReference`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let bad = |why: &str| SecretError::BadReference {
            reference: text.chars().take(200).collect(),
            reason: why.to_owned(),
        };
        let path = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it must start with secret://"))?;
        if path.is_empty() {
            return Err(bad("it names nothing after secret://"));
        }
        if text.len() > 200 {
            return Err(bad("it is longer than 200 characters"));
        }
        for segment in path.split('/') {
            if segment.is_empty() {
                return Err(bad("it has an empty path segment (`//` or a trailing `/`)"));
            }
            if segment == "." || segment == ".." {
                return Err(bad("`.` and `..` are not allowed as path segments"));
            }
            if let Some(c) = segment
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            {
                return Err(bad(&format!(
                    "it contains `{c}`; use ASCII letters, digits, `.`, `_`, `-` and `/`"
                )));
            }
        }
        Ok(Self {
            raw: text.to_owned(),
        })
    }

    /// The full reference, `secret://…`.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The part after `secret://`, e.g. `okta/contoso/apitoken`.
    pub fn path(&self) -> &str {
        &self.raw[SCHEME.len()..]
    }

    /// The path segments.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path().split('/')
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for SecretRef {
    type Err = SecretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The kinds of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// systemd service credentials (`$CREDENTIALS_DIRECTORY`).
    Systemd,
    /// Environment variables.
    Env,
    /// The OS keyring.
    Keyring,
    /// A directory of files.
    File,
}

impl BackendKind {
    /// The name used in host.toml and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Systemd => "systemd",
            BackendKind::Env => "env",
            BackendKind::Keyring => "keyring",
            BackendKind::File => "file",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a secret could not be resolved or stored. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The reference is malformed.
    #[error("invalid secret reference `{reference}`: {reason}")]
    BadReference {
        /// The reference as written (references are not secret).
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// No backend has the secret.
    #[error(
        "secret {reference} could not be resolved; tried {}. Store it with `host secret set {reference}` (value on standard input) or set the environment variable",
        tried.join(", ")
    )]
    NotFound {
        /// The reference.
        reference: String,
        /// One line per backend: `env (SECRET_X is not set)`.
        tried: Vec<String>,
    },
    /// A backend has the secret but must not be used (e.g. a group-readable file).
    #[error("secret {reference}: {backend} backend refused it: {reason}")]
    Refused {
        /// The reference.
        reference: String,
        /// The backend.
        backend: BackendKind,
        /// Why, with the fix.
        reason: String,
    },
    /// A backend failed reading or writing.
    #[error("secret {reference}: {backend} backend failed: {reason}")]
    Backend {
        /// The reference.
        reference: String,
        /// The backend.
        backend: BackendKind,
        /// What failed.
        reason: String,
    },
    /// The backend cannot store secrets (`env`, `systemd`), or is not configured.
    #[error("{0}")]
    Unsupported(String),
}

/// What one backend found for a reference.
#[derive(Debug)]
pub enum Lookup {
    /// The value.
    Found(SecretString),
    /// Not there; the string says where it looked (`SECRET_X is not set`).
    Missing(String),
    /// The backend cannot be used right now (e.g. no kernel keyring); the string says why.
    Unavailable(String),
}

/// A place secrets can come from.
pub trait Backend: Send + Sync + fmt::Debug {
    /// Which kind.
    fn kind(&self) -> BackendKind;

    /// Where this backend keeps `reference`, for messages (`environment variable SECRET_X`).
    fn location(&self, reference: &SecretRef) -> String;

    /// Looks `reference` up.
    ///
    /// # Errors
    /// [`SecretError::Refused`] or [`SecretError::Backend`] when the secret exists but must not
    /// or cannot be read; the chain stops there rather than falling through to a weaker backend.
    fn lookup(&self, reference: &SecretRef) -> Result<Lookup, SecretError>;

    /// Stores `value` under `reference`.
    ///
    /// # Errors
    /// The backend cannot store secrets, or failed.
    fn store(&self, reference: &SecretRef, value: &SecretString) -> Result<(), SecretError>;
}

/// Where a secret was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    /// The reference.
    pub reference: String,
    /// The backend that has it.
    pub backend: BackendKind,
    /// Where in that backend.
    pub location: String,
}

/// The configured backends, tried in order.
#[derive(Debug)]
pub struct SecretChain {
    backends: Vec<Box<dyn Backend>>,
}

impl SecretChain {
    /// A chain of the given backends.
    pub fn new(backends: Vec<Box<dyn Backend>>) -> Self {
        Self { backends }
    }

    /// The backends, in order.
    pub fn backends(&self) -> impl Iterator<Item = &dyn Backend> {
        self.backends.iter().map(|b| b.as_ref())
    }

    /// The backend of a kind, if configured.
    pub fn backend(&self, kind: BackendKind) -> Option<&dyn Backend> {
        self.backends().find(|b| b.kind() == kind)
    }

    /// Resolves one reference.
    ///
    /// # Errors
    /// [`SecretError::NotFound`] naming every backend tried, or the error of a backend that
    /// refused or failed.
    pub fn resolve(&self, reference: &SecretRef) -> Result<(SecretString, Found), SecretError> {
        let mut tried = Vec::new();
        for backend in &self.backends {
            match backend.lookup(reference)? {
                Lookup::Found(value) => {
                    tracing::debug!(
                        reference = %reference,
                        backend = %backend.kind(),
                        "secret reference resolved"
                    );
                    return Ok((
                        value,
                        Found {
                            reference: reference.to_string(),
                            backend: backend.kind(),
                            location: backend.location(reference),
                        },
                    ));
                }
                Lookup::Missing(why) | Lookup::Unavailable(why) => {
                    tried.push(format!("{} ({why})", backend.kind()));
                }
            }
        }
        if tried.is_empty() {
            tried.push("no backends (secrets.backends is empty)".to_owned());
        }
        Err(SecretError::NotFound {
            reference: reference.to_string(),
            tried,
        })
    }

    /// Says which backend resolves `reference`, without keeping the value.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve).
    pub fn locate(&self, reference: &SecretRef) -> Result<Found, SecretError> {
        self.resolve(reference).map(|(_value, found)| found)
    }

    /// Replaces every `secret://` string in `auth` (at any depth) by its value and returns the
    /// resulting JSON text as a secret.
    ///
    /// # Errors
    /// A malformed reference (naming its JSON path) or an unresolvable one.
    pub fn resolve_json(&self, auth: &Value) -> Result<SecretString, SecretError> {
        let mut resolved = auth.clone();
        let result = self.replace_refs(&mut resolved, "auth");
        let text = result.map(|()| {
            // Serializing a Value made of strings, numbers, maps and arrays cannot fail.
            serde_json::to_string(&resolved).unwrap_or_default()
        });
        // The clone held plaintext copies: zero them before they are freed.
        zeroize_strings(&mut resolved);
        text.map(SecretString::from)
    }

    fn replace_refs(&self, value: &mut Value, at: &str) -> Result<(), SecretError> {
        match value {
            Value::String(s) if s.starts_with(SCHEME) => {
                let reference = SecretRef::parse(s).map_err(|e| match e {
                    SecretError::BadReference { reference, reason } => SecretError::BadReference {
                        reference,
                        reason: format!("{reason} (at {at})"),
                    },
                    other => other,
                })?;
                let (secret, _found) = self.resolve(&reference)?;
                *s = secret.expose_secret().to_owned();
                Ok(())
            }
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    self.replace_refs(v, &format!("{at}.{key}"))?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    self.replace_refs(v, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Every `secret://` reference in `value`, in document order (for `host check` and messages).
pub fn references(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect_refs(value, &mut out);
    out
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.starts_with(SCHEME) => out.push(s.clone()),
        Value::Object(map) => map.values().for_each(|v| collect_refs(v, out)),
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn zeroize_strings(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Object(map) => map.values_mut().for_each(zeroize_strings),
        Value::Array(items) => items.iter_mut().for_each(zeroize_strings),
        _ => {}
    }
}

/// Removes one trailing line break (`\n` or `\r\n`), as `echo` and editors add one.
pub fn trim_line_end(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug)]
    struct MapBackend(Mutex<HashMap<String, String>>, BackendKind);

    impl Backend for MapBackend {
        fn kind(&self) -> BackendKind {
            self.1
        }
        fn location(&self, r: &SecretRef) -> String {
            format!("map entry {r}")
        }
        fn lookup(&self, r: &SecretRef) -> Result<Lookup, SecretError> {
            Ok(match self.0.lock().unwrap().get(r.as_str()) {
                Some(v) => Lookup::Found(SecretString::from(v.clone())),
                None => Lookup::Missing(format!("no map entry {r}")),
            })
        }
        fn store(&self, r: &SecretRef, v: &SecretString) -> Result<(), SecretError> {
            self.0
                .lock()
                .unwrap()
                .insert(r.to_string(), v.expose_secret().to_owned());
            Ok(())
        }
    }

    #[test]
    fn parses_valid_references() {
        let r = SecretRef::parse("secret://okta/contoso/apitoken").unwrap();
        assert_eq!(r.path(), "okta/contoso/apitoken");
        assert_eq!(
            r.segments().collect::<Vec<_>>(),
            ["okta", "contoso", "apitoken"]
        );
        assert!(SecretRef::parse("secret://a.b_c-d/E9").is_ok());
    }

    #[test]
    fn rejects_malformed_references_with_reasons() {
        for (input, needle) in [
            ("okta/contoso", "must start with secret://"),
            ("secret://", "names nothing"),
            ("secret://okta//x", "empty path segment"),
            ("secret://okta/", "empty path segment"),
            ("secret://okta/../etc", "`..`"),
            ("secret://okta/con toso", "contains ` `"),
            ("secret://ok%74a", "contains `%`"),
        ] {
            let err = SecretRef::parse(input).unwrap_err().to_string();
            assert!(err.contains(needle), "{input}: {err}");
        }
        let long = format!("secret://{}", "a".repeat(200));
        assert!(SecretRef::parse(&long).is_err());
    }

    #[test]
    fn resolve_json_replaces_every_reference_at_any_depth() {
        let backend = MapBackend(Mutex::default(), BackendKind::File);
        backend
            .0
            .lock()
            .unwrap()
            .insert("secret://a/key".into(), "v1".into());
        backend
            .0
            .lock()
            .unwrap()
            .insert("secret://b/key".into(), "v2".into());
        let chain = SecretChain::new(vec![Box::new(backend)]);
        let auth = serde_json::json!({
            "Mode": "ApiKey",
            "ApiKey": "secret://a/key",
            "Nested": {"List": ["plain", "secret://b/key"]},
            "Port": 3
        });
        let out = chain.resolve_json(&auth).unwrap();
        let v: Value = serde_json::from_str(out.expose_secret()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "Mode": "ApiKey", "ApiKey": "v1", "Nested": {"List": ["plain", "v2"]}, "Port": 3
            })
        );
        assert_eq!(references(&auth), ["secret://a/key", "secret://b/key"]);
    }

    #[test]
    fn unresolvable_reference_names_reference_and_backends_never_values() {
        let a = MapBackend(Mutex::default(), BackendKind::Env);
        let b = MapBackend(Mutex::default(), BackendKind::File);
        b.0.lock()
            .unwrap()
            .insert("secret://other".into(), "canary-value".into());
        let chain = SecretChain::new(vec![Box::new(a), Box::new(b)]);
        let err = chain
            .resolve_json(&serde_json::json!({"ApiKey": "secret://okta/x"}))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("secret://okta/x"), "{msg}");
        assert!(msg.contains("env (no map entry"), "{msg}");
        assert!(msg.contains("file (no map entry"), "{msg}");
        assert!(!msg.contains("canary-value"));
    }

    #[test]
    fn malformed_reference_in_json_names_its_path() {
        let chain = SecretChain::new(vec![]);
        let err = chain
            .resolve_json(&serde_json::json!({"Inner": {"ApiKey": "secret://bad//ref"}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("auth.Inner.ApiKey"), "{err}");
    }

    #[test]
    fn trims_one_line_end() {
        assert_eq!(trim_line_end("abc\n".into()), "abc");
        assert_eq!(trim_line_end("abc\r\n".into()), "abc");
        assert_eq!(trim_line_end("abc\n\n".into()), "abc\n");
        assert_eq!(trim_line_end("abc".into()), "abc");
    }
}
