//! A directory of files: `secret://okta/contoso/apitoken` → `<dir>/okta/contoso/apitoken`.
//!
//! Each file holds one value (a single trailing line break is ignored). A file that the group or
//! others can access in any way (`mode & 0o077 != 0`) is refused, not skipped: an operator must
//! fix its permissions (`chmod 600`). `host secret set --backend file` creates directories with
//! mode 0700 and files with mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use super::{Backend, BackendKind, Lookup, SecretError, SecretRef, trim_line_end};

/// Reads secrets from files under a directory.
#[derive(Debug, Clone)]
pub struct FileBackend {
    dir: PathBuf,
}

impl FileBackend {
    /// Files live under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `reference`.
    pub fn path_of(&self, reference: &SecretRef) -> PathBuf {
        // Segments were validated by `SecretRef::parse`: no `..`, no separators, no `/` start.
        reference
            .segments()
            .fold(self.dir.clone(), |path, segment| path.join(segment))
    }

    fn err(&self, reference: &SecretRef, reason: String) -> SecretError {
        SecretError::Backend {
            reference: reference.to_string(),
            backend: BackendKind::File,
            reason,
        }
    }
}

impl Backend for FileBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::File
    }

    fn location(&self, reference: &SecretRef) -> String {
        format!("file {}", self.path_of(reference).display())
    }

    fn lookup(&self, reference: &SecretRef) -> Result<Lookup, SecretError> {
        let path = self.path_of(reference);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lookup::Missing(format!(
                    "{} does not exist",
                    path.display()
                )));
            }
            Err(e) => return Err(self.err(reference, format!("{}: {e}", path.display()))),
        };
        if !meta.is_file() {
            return Err(self.err(reference, format!("{} is not a file", path.display())));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::Refused {
                reference: reference.to_string(),
                backend: BackendKind::File,
                reason: format!(
                    "{} is accessible by group or others (mode {mode:03o}); run `chmod 600 {}`",
                    path.display(),
                    path.display()
                ),
            });
        }
        let text = fs::read_to_string(&path)
            .map_err(|e| self.err(reference, format!("reading {}: {e}", path.display())))?;
        let value = SecretString::from(trim_line_end(text));
        if value.expose_secret().is_empty() {
            return Err(self.err(reference, format!("{} is empty", path.display())));
        }
        Ok(Lookup::Found(value))
    }

    fn store(&self, reference: &SecretRef, value: &SecretString) -> Result<(), SecretError> {
        let path = self.path_of(reference);
        let parent = path.parent().unwrap_or(&self.dir);
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(|e| self.err(reference, format!("creating {}: {e}", parent.display())))?;
        // Write a private temporary file, then rename: readers never see a partial value.
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(value.expose_secret().as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.err(reference, format!("writing {}: {e}", path.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    #[test]
    fn stores_private_files_and_reads_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBackend::new(dir.path().join("secrets"));
        let reference = r("secret://okta/contoso/apitoken");
        assert!(matches!(
            files.lookup(&reference).unwrap(),
            Lookup::Missing(_)
        ));
        files
            .store(&reference, &SecretString::from("tok-1".to_owned()))
            .unwrap();
        let path = dir.path().join("secrets/okta/contoso/apitoken");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        match files.lookup(&reference).unwrap() {
            Lookup::Found(v) => assert_eq!(v.expose_secret(), "tok-1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ignores_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBackend::new(dir.path());
        let path = dir.path().join("tok");
        fs::write(&path, "abc\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        match files.lookup(&r("secret://tok")).unwrap() {
            Lookup::Found(v) => assert_eq!(v.expose_secret(), "abc"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_group_or_world_accessible_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileBackend::new(dir.path());
        let path = dir.path().join("tok");
        fs::write(&path, "canary-file-secret").unwrap();
        for mode in [0o640, 0o604, 0o660, 0o610] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = files.lookup(&r("secret://tok")).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, SecretError::Refused { .. }),
                "{mode:o}: {msg}"
            );
            assert!(msg.contains("chmod 600"), "{msg}");
            assert!(!msg.contains("canary-file-secret"));
        }
    }
}
