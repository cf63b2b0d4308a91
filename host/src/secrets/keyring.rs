//! The OS keyring through `keyring-core`; on Linux the kernel keyutils store.
//!
//! The kernel keyring needs no daemon and no D-Bus, which is what headless servers and CI
//! have. Entries live in the caller's *session* keyring (and are linked to the user's persistent
//! keyring when the kernel offers one), described as `keyring:<path>@<service>` — for
//! `secret://okta/contoso/apitoken` with the default service: `keyring:okta/contoso/apitoken@identity-connectors`.
//! They vanish at reboot. A login session normally has a session keyring; elsewhere (CI, a
//! container, systemd units) start one with `keyctl session - <command>` (Debian package
//! `keyutils`), and store the secret from within that session.

use std::fmt;
use std::sync::Arc;

use keyring_core::Error as KeyringError;
use keyring_core::api::CredentialStoreApi;
use secrecy::{ExposeSecret, SecretString};

use super::{Backend, BackendKind, Lookup, SecretError, SecretRef};

/// The default keyring service name.
pub const DEFAULT_SERVICE: &str = "identity-connectors";

/// Reads and writes secrets in the OS keyring.
pub struct KeyringBackend {
    service: String,
}

impl fmt::Debug for KeyringBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringBackend")
            .field("service", &self.service)
            .finish()
    }
}

impl KeyringBackend {
    /// Entries are stored under `service`, one per reference path.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, reference: &SecretRef) -> Result<keyring_core::Entry, KeyringError> {
        let store: Arc<linux_keyutils_keyring_store::Store> =
            linux_keyutils_keyring_store::Store::new()?;
        store.build(&self.service, reference.path(), None)
    }

    /// Whether a kernel session keyring can be used by this process, and if not, why.
    pub fn probe(&self) -> Result<(), String> {
        let probe = SecretRef::parse("secret://host/keyring-probe").map_err(|e| e.to_string())?;
        match self.entry(&probe).and_then(|e| e.get_password().map(drop)) {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(describe(&e)),
        }
    }

    /// Removes the entry for `reference` (tests, rotation).
    ///
    /// # Errors
    /// The keyring failed; a missing entry is not an error.
    pub fn delete(&self, reference: &SecretRef) -> Result<(), SecretError> {
        match self.entry(reference).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(e) => Err(SecretError::Backend {
                reference: reference.to_string(),
                backend: BackendKind::Keyring,
                reason: describe(&e),
            }),
        }
    }
}

/// A message for a keyring error that never includes secret bytes.
fn describe(e: &KeyringError) -> String {
    match e {
        KeyringError::NoStorageAccess(inner) => format!(
            "the kernel session keyring is not accessible ({inner}); run the host inside \
             `keyctl session - …` or from a login session"
        ),
        KeyringError::PlatformFailure(inner) => format!("keyutils failed: {inner}"),
        KeyringError::NoEntry => "no such entry".to_owned(),
        // These variants carry the stored bytes: never format them.
        KeyringError::BadEncoding(_) => "the stored value is not valid UTF-8".to_owned(),
        KeyringError::BadDataFormat(..) => "the stored value is malformed".to_owned(),
        KeyringError::Invalid(what, why) => format!("{what} is invalid: {why}"),
        KeyringError::TooLong(what, limit) => format!("{what} is longer than {limit}"),
        KeyringError::Ambiguous(items) => format!("{} entries match", items.len()),
        other => format!("{other}"),
    }
}

impl Backend for KeyringBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Keyring
    }

    fn location(&self, reference: &SecretRef) -> String {
        format!(
            "kernel keyring entry keyring:{}@{}",
            reference.path(),
            self.service
        )
    }

    fn lookup(&self, reference: &SecretRef) -> Result<Lookup, SecretError> {
        match self.entry(reference).and_then(|e| e.get_password()) {
            Ok(value) => Ok(Lookup::Found(SecretString::from(value))),
            Err(KeyringError::NoEntry) => Ok(Lookup::Missing(format!(
                "no entry keyring:{}@{}",
                reference.path(),
                self.service
            ))),
            Err(e @ (KeyringError::NoStorageAccess(_) | KeyringError::PlatformFailure(_))) => {
                Ok(Lookup::Unavailable(describe(&e)))
            }
            Err(e) => Err(SecretError::Backend {
                reference: reference.to_string(),
                backend: BackendKind::Keyring,
                reason: describe(&e),
            }),
        }
    }

    fn store(&self, reference: &SecretRef, value: &SecretString) -> Result<(), SecretError> {
        self.entry(reference)
            .and_then(|e| e.set_password(value.expose_secret()))
            .map_err(|e| SecretError::Backend {
                reference: reference.to_string(),
                backend: BackendKind::Keyring,
                reason: describe(&e),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::print_stderr)]
    fn stores_reads_and_deletes_in_the_session_keyring() {
        let keyring = KeyringBackend::new(format!("host-unit-{}", std::process::id()));
        if let Err(reason) = keyring.probe() {
            eprintln!("SKIPPED: the kernel keyring is unavailable here: {reason}");
            return;
        }
        let reference = SecretRef::parse("secret://unit/keyring/token").unwrap();
        assert!(matches!(
            keyring.lookup(&reference).unwrap(),
            Lookup::Missing(_)
        ));
        keyring
            .store(&reference, &SecretString::from("unit-value".to_owned()))
            .unwrap();
        let found = keyring.lookup(&reference).unwrap();
        keyring.delete(&reference).unwrap();
        match found {
            Lookup::Found(v) => assert_eq!(v.expose_secret(), "unit-value"),
            other => panic!("{other:?}"),
        }
        assert!(
            keyring
                .location(&reference)
                .contains("keyring:unit/keyring/token@host-unit-")
        );
    }

    #[test]
    fn error_descriptions_never_include_stored_bytes() {
        let e = KeyringError::BadEncoding(b"canary-bytes".to_vec());
        assert!(!describe(&e).contains("canary"));
        let e = KeyringError::BadDataFormat(
            b"canary-bytes".to_vec(),
            Box::new(std::io::Error::other("x")),
        );
        assert!(!describe(&e).contains("canary"));
    }
}
