//! systemd service credentials: `secret://okta/contoso/apitoken` → `$CREDENTIALS_DIRECTORY/okta.contoso.apitoken`.
//!
//! systemd sets `$CREDENTIALS_DIRECTORY` for a unit that uses `LoadCredential=`,
//! `LoadCredentialEncrypted=`, `SetCredential=` or `ImportCredential=`, and places one file per
//! credential there, readable only by the service's user (encrypted credentials are decrypted
//! on the way in). The credential name is the reference's path with every `/` replaced by `.`.
//! Reference segments are ASCII letters, digits, `.`, `_` and `-`, at most 191 characters in
//! all, so the name is always a valid systemd credential name (a file name and an fd name:
//! printable ASCII, no `/` or `:`, at most 255 characters). Two references that differ only by
//! `/` against `.` (`a/b.c`, `a.b/c`) share a credential; do not name secrets that way.
//!
//! The value is the file's content with one trailing line break removed, as for the file
//! backend (`systemd-creds` and `SetCredential=` keep the content exactly as given). Without
//! `$CREDENTIALS_DIRECTORY` the backend is unavailable and the chain moves on. The directory is
//! managed by systemd: the backend is read-only and does not check file modes.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::{Backend, BackendKind, Lookup, SecretError, SecretRef, trim_line_end};

/// The environment variable systemd sets to the service's credentials directory.
pub const VARIABLE: &str = "CREDENTIALS_DIRECTORY";

/// The systemd credential name for `reference`: its path with `/` replaced by `.`.
pub fn credential_name(reference: &SecretRef) -> String {
    reference.path().replace('/', ".")
}

/// Reads secrets from the systemd credentials directory.
#[derive(Debug, Clone)]
pub struct SystemdBackend {
    /// The directory, or why there is none.
    dir: Result<PathBuf, String>,
}

impl SystemdBackend {
    /// Reads the directory named by `$CREDENTIALS_DIRECTORY` in the process environment.
    pub fn from_env() -> Self {
        Self::from_variable(std::env::var_os(VARIABLE))
    }

    /// Reads the directory named by a value of `$CREDENTIALS_DIRECTORY` (`None`: unset).
    ///
    /// Like systemd's own readers, an empty or relative value counts as no directory.
    pub fn from_variable(value: Option<OsString>) -> Self {
        let dir = match value {
            None => Err(format!(
                "${VARIABLE} is not set: not a systemd service with credentials"
            )),
            Some(v) if v.is_empty() => Err(format!("${VARIABLE} is set but empty")),
            Some(v) if !Path::new(&v).is_absolute() => Err(format!(
                "${VARIABLE} is not an absolute path ({})",
                Path::new(&v).display()
            )),
            Some(v) => Ok(PathBuf::from(v)),
        };
        Self { dir }
    }

    /// Reads credentials from `dir` (tests, embedding).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Ok(dir.into()),
        }
    }

    /// The credentials directory, if there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref().ok()
    }

    fn err(reference: &SecretRef, reason: String) -> SecretError {
        SecretError::Backend {
            reference: reference.to_string(),
            backend: BackendKind::Systemd,
            reason,
        }
    }
}

impl Backend for SystemdBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Systemd
    }

    fn location(&self, reference: &SecretRef) -> String {
        let name = credential_name(reference);
        match &self.dir {
            Ok(dir) => format!("systemd credential {name} ({})", dir.join(&name).display()),
            Err(_) => format!("systemd credential {name} (${VARIABLE}/{name})"),
        }
    }

    fn lookup(&self, reference: &SecretRef) -> Result<Lookup, SecretError> {
        let dir = match &self.dir {
            Ok(dir) => dir,
            Err(why) => return Ok(Lookup::Unavailable(why.clone())),
        };
        let path = dir.join(credential_name(reference));
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lookup::Missing(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
            // The io::Error names the cause (permission denied, not UTF-8), never the bytes.
            Err(e) => {
                return Err(Self::err(
                    reference,
                    format!("reading {}: {e}", path.display()),
                ));
            }
        };
        let value = SecretString::from(trim_line_end(text));
        if value.expose_secret().is_empty() {
            return Err(Self::err(reference, format!("{} is empty", path.display())));
        }
        Ok(Lookup::Found(value))
    }

    fn store(&self, reference: &SecretRef, _value: &SecretString) -> Result<(), SecretError> {
        Err(SecretError::Unsupported(format!(
            "the systemd backend is read-only: systemd passes credentials to the service. \
             Encrypt the value with `systemd-creds encrypt --name={name} - <file>` and add \
             `LoadCredentialEncrypted={name}:<file>` to the unit, or use --backend keyring|file",
            name = credential_name(reference)
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    fn found(backend: &SystemdBackend, reference: &str) -> String {
        match backend.lookup(&r(reference)).unwrap() {
            Lookup::Found(v) => v.expose_secret().to_owned(),
            other => panic!("{reference}: {other:?}"),
        }
    }

    /// systemd's `credential_name_valid`: a valid file name and fd name.
    fn valid_for_systemd(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 255
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| (b' '..0x7f).contains(&b) && b != b'/' && b != b':')
    }

    #[test]
    fn maps_references_to_valid_credential_names() {
        assert_eq!(
            credential_name(&r("secret://okta/contoso/apitoken")),
            "okta.contoso.apitoken"
        );
        assert_eq!(
            credential_name(&r("secret://host/store/password")),
            "host.store.password"
        );
        assert_eq!(credential_name(&r("secret://tok")), "tok");
        let longest = format!("secret://{}", ["a"; 96].join("/"));
        assert_eq!(longest.len(), 200);
        for reference in [
            "secret://okta/contoso.okta-emea.com/api_token2",
            "secret://A-b_c/..x/y..",
            longest.as_str(),
        ] {
            let name = credential_name(&r(reference));
            assert!(valid_for_systemd(&name), "{reference} → {name}");
        }
    }

    #[test]
    fn reads_a_credential_and_strips_one_line_break() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("okta.contoso.apitoken"), "tok-1\n").unwrap();
        fs::write(dir.path().join("two.lines"), "tok-2\n\n").unwrap();
        fs::write(dir.path().join("crlf"), "tok-3\r\n").unwrap();
        fs::write(dir.path().join("as.is"), " tok-4 ").unwrap();
        let creds = SystemdBackend::new(dir.path());
        assert_eq!(found(&creds, "secret://okta/contoso/apitoken"), "tok-1");
        assert_eq!(found(&creds, "secret://two/lines"), "tok-2\n");
        assert_eq!(found(&creds, "secret://crlf"), "tok-3");
        assert_eq!(found(&creds, "secret://as/is"), " tok-4 ");
        assert_eq!(
            creds.location(&r("secret://okta/contoso/apitoken")),
            format!(
                "systemd credential okta.contoso.apitoken ({})",
                dir.path().join("okta.contoso.apitoken").display()
            )
        );
    }

    #[test]
    fn a_missing_credential_is_not_found_and_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let creds = SystemdBackend::new(dir.path());
        match creds.lookup(&r("secret://okta/x")).unwrap() {
            Lookup::Missing(why) => {
                assert!(why.contains(&dir.path().join("okta.x").display().to_string()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_the_variable_the_backend_is_unavailable() {
        for (value, needle) in [
            (None, "$CREDENTIALS_DIRECTORY is not set"),
            (Some(""), "set but empty"),
            (Some("run/credentials"), "not an absolute path"),
        ] {
            let creds = SystemdBackend::from_variable(value.map(OsString::from));
            assert!(creds.dir().is_none());
            match creds.lookup(&r("secret://okta/x")).unwrap() {
                Lookup::Unavailable(why) => assert!(why.contains(needle), "{why}"),
                other => panic!("{value:?}: {other:?}"),
            }
        }
        let creds = SystemdBackend::from_variable(Some("/run/credentials/host.service".into()));
        assert_eq!(
            creds.dir(),
            Some(Path::new("/run/credentials/host.service"))
        );
    }

    #[test]
    fn the_production_constructor_reads_the_process_environment() {
        let expected = std::env::var_os(VARIABLE).filter(|v| Path::new(v).is_absolute());
        assert_eq!(
            SystemdBackend::from_env().dir().map(Path::as_os_str),
            expected.as_deref()
        );
    }

    #[test]
    #[allow(clippy::print_stderr)]
    fn unreadable_or_empty_credentials_are_errors_naming_reference_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let creds = SystemdBackend::new(dir.path());
        fs::write(dir.path().join("empty"), "\n").unwrap();
        let msg = creds.lookup(&r("secret://empty")).unwrap_err().to_string();
        assert!(
            msg.contains("secret://empty") && msg.contains("is empty"),
            "{msg}"
        );

        fs::write(dir.path().join("bad.utf8"), b"canary-\xff-value").unwrap();
        let msg = creds
            .lookup(&r("secret://bad/utf8"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("secret://bad/utf8"), "{msg}");
        assert!(msg.contains("systemd backend failed"), "{msg}");
        assert!(!msg.contains("canary"), "{msg}");

        fs::create_dir(dir.path().join("a.dir")).unwrap();
        let msg = creds.lookup(&r("secret://a/dir")).unwrap_err().to_string();
        assert!(msg.contains("secret://a/dir"), "{msg}");
        assert!(
            msg.contains(&dir.path().join("a.dir").display().to_string()),
            "{msg}"
        );

        let path = dir.path().join("locked");
        fs::write(&path, "canary-locked-value").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
        if fs::read(&path).is_ok() {
            eprintln!("SKIPPED the permission case: running as root reads mode 000 files");
            return;
        }
        let err = creds.lookup(&r("secret://locked")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SecretError::Backend { .. }), "{msg}");
        assert!(msg.contains("secret://locked"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("ermission denied"), "{msg}");
        assert!(!msg.contains("canary"), "{msg}");
    }

    #[test]
    fn store_is_refused_with_the_credential_name() {
        let err = SystemdBackend::new("/nonexistent")
            .store(&r("secret://a/b"), &SecretString::from("x".to_owned()))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("LoadCredentialEncrypted=a.b:"), "{msg}");
    }
}
