//! Where a PostgreSQL store is and how to reach it: the URL from `host.toml`
//! (`postgres://user@host:port/db?sslmode=require`), the password (from the host's secret chain,
//! else `PGPASSWORD`, else the password file `PGPASSFILE` or `~/.pgpass`, as libpq reads them),
//! and TLS with rustls when `sslmode` asks for it:
//!
//! | sslmode | TLS | server certificate |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (default), `allow` | when the server offers it | not checked |
//! | `require` | always | not checked without a root certificate file; with one, as `verify-ca` (as libpq) |
//! | `verify-ca` | always | signed by a trusted root |
//! | `verify-full` | always | signed by a trusted root and valid for the host name |
//!
//! Trusted roots: the PEM file `sslrootcert` (URL parameter), else `PGSSLROOTCERT`, else
//! `~/.postgresql/root.crt`. Missing parts of the URL come from `PGHOST`, `PGPORT`, `PGUSER`,
//! `PGDATABASE` and `PGSSLMODE`. A password inside the URL is refused: it would show in every
//! message; put it in `store_password` as a `secret://` reference.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use postgres::config::SslMode;
use postgres::{Client, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use secrecy::{ExposeSecret, SecretString};

use crate::store::{Result, StoreError};

/// How long connecting may take before it fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed store URL with its password and TLS settings.
pub struct PgTarget {
    config: postgres::Config,
    password: Option<SecretString>,
    tls: Option<ClientConfig>,
    location: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("location", &self.location)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// The URL's parts, defaults applied.
struct Parts {
    user: String,
    host: String,
    port: u16,
    dbname: String,
    sslmode: String,
    rootcert: Option<PathBuf>,
    application_name: Option<String>,
}

/// Whether `store` in host.toml names a PostgreSQL store rather than a SQLite file.
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

impl PgTarget {
    /// Parses `url`; `password` is the resolved `store_password`, if configured.
    ///
    /// # Errors
    /// The URL is malformed, holds a password, has an unknown parameter or `sslmode`, or the
    /// root certificates cannot be read.
    pub fn parse(url: &str, password: Option<SecretString>) -> Result<Self> {
        let parts = Parts::parse(url)?;
        let mut config = postgres::Config::new();
        config
            .user(&parts.user)
            .host(&parts.host)
            .port(parts.port)
            .dbname(&parts.dbname)
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name(parts.application_name.as_deref().unwrap_or("host"));
        let location = format!(
            "postgres://{}@{}:{}/{}",
            parts.user, parts.host, parts.port, parts.dbname
        );
        let (mode, tls) = tls_config(&parts, &location)?;
        config.ssl_mode(mode);
        let password = password
            .or_else(|| std::env::var("PGPASSWORD").ok().map(SecretString::from))
            .or_else(|| pgpass(&parts));
        Ok(Self {
            config,
            password,
            tls,
            location,
        })
    }

    /// The URL without a password, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// A [`StoreError::Postgres`] for a failure that is not the server's.
    pub fn failure(&self, what: &str, message: &str) -> StoreError {
        StoreError::Postgres {
            location: self.location.clone(),
            what: what.to_owned(),
            code: None,
            message: message.to_owned(),
        }
    }

    /// Opens a connection.
    ///
    /// # Errors
    /// The server cannot be reached, refused the password, or TLS failed.
    pub fn connect(&self) -> Result<Client> {
        let mut config = self.config.clone();
        if let Some(password) = &self.password {
            config.password(password.expose_secret());
        }
        let connected = match &self.tls {
            None => config.connect(NoTls),
            Some(tls) => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls.clone())),
        };
        connected.map_err(super::session::pg(self, "connecting"))
    }
}

impl Parts {
    fn parse(text: &str) -> Result<Self> {
        let bad = url_error;
        let url = url::Url::parse(text).map_err(|e| {
            bad(format!(
                "not a URL ({e}); expected postgres://user@host:port/database"
            ))
        })?;
        if url.password().is_some() {
            return Err(bad(
                "the URL holds a password: remove it and set `store_password = \"secret://…\"` \
                 in host.toml (or PGPASSWORD, or ~/.pgpass)"
                    .into(),
            ));
        }
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let decode = |s: &str| {
            url::form_urlencoded::parse(s.as_bytes())
                .map(|(k, v)| format!("{k}{v}"))
                .collect::<String>()
        };
        let user = Some(decode(url.username()))
            .filter(|u| !u.is_empty())
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        let mut parts = Parts {
            host: url
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
                .filter(|h| !h.is_empty())
                .or_else(|| env("PGHOST"))
                .unwrap_or_else(|| "localhost".into()),
            port: match url.port() {
                Some(p) => p,
                None => env("PGPORT").and_then(|p| p.parse().ok()).unwrap_or(5432),
            },
            dbname: Some(decode(url.path().trim_start_matches('/')))
                .filter(|d| !d.is_empty())
                .or_else(|| env("PGDATABASE"))
                .unwrap_or_else(|| user.clone()),
            user,
            sslmode: env("PGSSLMODE").unwrap_or_else(|| "prefer".into()),
            rootcert: env("PGSSLROOTCERT").map(PathBuf::from),
            application_name: None,
        };
        parts.apply_query(&url)?;
        Ok(parts)
    }

    /// The URL's parameters: `sslmode`, `sslrootcert`, `application_name`.
    fn apply_query(&mut self, url: &url::Url) -> Result<()> {
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => self.sslmode = value.into_owned(),
                "sslrootcert" => self.rootcert = Some(PathBuf::from(value.as_ref())),
                "application_name" => self.application_name = Some(value.into_owned()),
                other => {
                    return Err(url_error(format!(
                        "unknown URL parameter `{other}`: supported are sslmode, sslrootcert \
                         and application_name"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn url_error(message: String) -> StoreError {
    StoreError::Postgres {
        location: "host.toml `store`".into(),
        what: "reading the PostgreSQL URL".into(),
        code: None,
        message,
    }
}

/// The client's SSL mode and rustls configuration for `parts.sslmode`.
fn tls_config(parts: &Parts, location: &str) -> Result<(SslMode, Option<ClientConfig>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mode = match parts.sslmode.as_str() {
        "disable" => return Ok((SslMode::Disable, None)),
        "allow" | "prefer" => SslMode::Prefer,
        "require" | "verify-ca" | "verify-full" => SslMode::Require,
        other => {
            return Err(StoreError::Postgres {
                location: location.to_owned(),
                what: "reading sslmode".into(),
                code: None,
                message: format!(
                    "unknown sslmode `{other}`: use disable, prefer, require, verify-ca or \
                     verify-full"
                ),
            });
        }
    };
    // As libpq: with a root certificate at hand, `require` checks the chain like `verify-ca`.
    let checks = match parts.sslmode.as_str() {
        "require" if root_file(parts).is_some() => "verify-ca",
        other => other,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match checks {
        "verify-ca" | "verify-full" => {
            let roots = root_store(parts, location)?;
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| tls_failure(location, &e.to_string()))?;
            if checks == "verify-ca" {
                Arc::new(CaOnly(webpki))
            } else {
                webpki
            }
        }
        _ => Arc::new(EncryptOnly(provider.clone())),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_failure(location, &e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok((mode, Some(config)))
}

fn tls_failure(location: &str, message: &str) -> StoreError {
    StoreError::Postgres {
        location: location.to_owned(),
        what: "setting up TLS".into(),
        code: None,
        message: message.to_owned(),
    }
}

/// The root certificate file: `sslrootcert` (or `PGSSLROOTCERT`), else `~/.postgresql/root.crt`,
/// if it exists.
fn root_file(parts: &Parts) -> Option<PathBuf> {
    parts
        .rootcert
        .clone()
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt")))
        .filter(|p| p.exists())
}

/// The trusted roots for `verify-ca` and `verify-full` (and `require` with a root file).
fn root_store(parts: &Parts, location: &str) -> Result<RootCertStore> {
    let Some(path) = root_file(parts) else {
        return Err(tls_failure(
            location,
            &format!(
                "sslmode={} needs the root certificate(s) to trust: set sslrootcert=<PEM file> in \
                 the URL (or PGSSLROOTCERT), or put them in ~/.postgresql/root.crt",
                parts.sslmode
            ),
        ));
    };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_failure(location, &format!("reading {}: {e}", path.display())))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(tls_failure(
            location,
            &format!("{} holds no usable certificate", path.display()),
        ));
    }
    Ok(roots)
}

/// `sslmode=require`/`prefer`: the connection is encrypted and the handshake signed, but the
/// certificate is not checked (as libpq does without a root certificate).
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The password for `parts` from the password file, as libpq finds it: `PGPASSFILE`, else
/// `~/.pgpass`, ignored unless only its owner can read it.
fn pgpass(parts: &Parts) -> Option<SecretString> {
    let path = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pgpass")))?;
    pgpass_in(&path, parts)
}

/// The password for `parts` in the password file `path`.
fn pgpass_in(path: &Path, parts: &Parts) -> Option<SecretString> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            "password file ignored: group or others can read it (chmod 0600 it)"
        );
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let port = parts.port.to_string();
    let wanted = [parts.host.as_str(), &port, &parts.dbname, &parts.user];
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .find_map(|line| {
            let fields = pgpass_fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = [h, p, d, u]
                .iter()
                .zip(wanted)
                .all(|(field, want)| *field == "*" || *field == want);
            matches.then(|| SecretString::from(password.clone()))
        })
}

/// The `:`-separated fields of a password file line, with `\:` and `\\` unescaped.
fn pgpass_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_becomes_a_location_without_secrets() {
        let t =
            PgTarget::parse("postgres://svc@db.example:6543/mesh?sslmode=disable", None).unwrap();
        assert_eq!(t.location(), "postgres://svc@db.example:6543/mesh");
        let err = PgTarget::parse("postgres://svc:hunter2@db/mesh", None).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("store_password"), "{err}");
        let err = PgTarget::parse("postgres://svc@db/mesh?sslmode=maybe", None).unwrap_err();
        assert!(err.to_string().contains("unknown sslmode `maybe`"), "{err}");
        let err = PgTarget::parse("postgres://svc@db/mesh?sslmod=require", None).unwrap_err();
        assert!(
            err.to_string().contains("unknown URL parameter `sslmod`"),
            "{err}"
        );
        let err = PgTarget::parse(
            "postgres://svc@db/mesh?sslmode=verify-full&sslrootcert=/nonexistent.pem",
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sslrootcert"), "{err}");
        let t = PgTarget::parse("postgres://svc@db/mesh", Some("pw-x".to_owned().into())).unwrap();
        assert!(!format!("{t:?}").contains("pw-x"));
    }

    #[test]
    fn password_file_lines_match_like_libpq() {
        assert_eq!(
            pgpass_fields(r"db\:1:5432:*:svc:p\:w\\x"),
            ["db:1", "5432", "*", "svc", r"p:w\x"]
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(&file, "# c\nother:*:*:*:no\ndb:5432:*:svc:yes\n").unwrap();
        let parts = Parts {
            user: "svc".into(),
            host: "db".into(),
            port: 5432,
            dbname: "mesh".into(),
            sslmode: "disable".into(),
            rootcert: None,
            application_name: None,
        };
        let chmod = |mode| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        chmod(0o600);
        assert_eq!(pgpass_in(&file, &parts).unwrap().expose_secret(), "yes");
        chmod(0o644);
        assert!(
            pgpass_in(&file, &parts).is_none(),
            "a file others can read is ignored"
        );
    }
}
