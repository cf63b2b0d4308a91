//! `host secret set|check <ref>`: store a secret, or say where it resolves from.
//!
//! Values are read from standard input only — never from the command line, where they would
//! end up in shell history and `ps` — and are never printed.

use std::io::{BufRead, IsTerminal, Read};

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use super::{App, Outcome};
use crate::error::{ExitCode, HostError};
use crate::output;
use crate::secrets::{BackendKind, Lookup, SecretRef, trim_line_end};

/// `secret` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Store a secret read from standard input (one trailing line break is dropped).
    ///
    /// Example: printf %s "$OKTA_TOKEN" | host secret set secret://okta/contoso/apitoken
    Set {
        /// The reference, e.g. secret://okta/contoso/apitoken.
        reference: SecretRef,
        /// Where to store it: the OS keyring (kernel keyring on Linux), or a private file under
        /// `secrets.dir`.
        #[arg(long, value_enum, default_value_t = StoreBackend::Keyring)]
        backend: StoreBackend,
    },
    /// Say which backend resolves a reference (never shows the value).
    Check {
        /// The reference.
        reference: SecretRef,
    },
}

/// Backends that can store secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreBackend {
    /// The OS keyring.
    Keyring,
    /// A file (mode 0600) under `secrets.dir`.
    File,
}

impl From<StoreBackend> for BackendKind {
    fn from(b: StoreBackend) -> Self {
        match b {
            StoreBackend::Keyring => BackendKind::Keyring,
            StoreBackend::File => BackendKind::File,
        }
    }
}

#[derive(Debug, Serialize)]
struct Stored {
    reference: String,
    backend: BackendKind,
    location: String,
    shadowed_by: Option<String>,
}

/// Runs `secret`.
///
/// # Errors
/// Reading standard input, or the backend, failed; or the reference does not resolve.
pub async fn run(app: &App, command: Command) -> Outcome {
    match command {
        Command::Set { reference, backend } => set(app, &reference, backend.into()),
        Command::Check { reference } => {
            let found = app.config.secrets.chain().locate(&reference)?;
            if app.json {
                output::json(&found);
            } else {
                output::println(&format!(
                    "{} resolves from {} ({})",
                    found.reference, found.backend, found.location
                ));
            }
            Ok(ExitCode::Success)
        }
    }
}

fn set(app: &App, reference: &SecretRef, kind: BackendKind) -> Outcome {
    let value = read_value(reference)?;
    let backend = app.config.secrets.backend(kind);
    backend.store(reference, &value)?;
    drop(value);
    // Read it back through the same backend, and tell whether an earlier backend wins.
    match backend.lookup(reference)? {
        Lookup::Found(_) => {}
        Lookup::Missing(why) | Lookup::Unavailable(why) => {
            return Err(HostError::Io(format!(
                "stored {reference} in {kind}, but reading it back failed: {why}"
            )));
        }
    }
    let chain = app.config.secrets.chain();
    let shadowed_by = match chain.locate(reference) {
        Ok(found) if found.backend != kind => {
            Some(format!("{} ({})", found.backend, found.location))
        }
        _ => None,
    };
    let out = Stored {
        reference: reference.to_string(),
        backend: kind,
        location: backend.location(reference),
        shadowed_by,
    };
    if !app.config.secrets.backends.contains(&kind) {
        tracing::warn!(
            "{kind} is not in secrets.backends, so runs will not look there; add it to host.toml"
        );
    }
    if app.json {
        output::json(&out);
    } else {
        output::println(&format!(
            "stored {} in {} ({})",
            out.reference, out.backend, out.location
        ));
        if let Some(s) = &out.shadowed_by {
            output::println(&format!(
                "note: runs resolve it from {s} first (earlier in secrets.backends)"
            ));
        }
    }
    Ok(ExitCode::Success)
}

/// Reads the value from stdin; on a terminal, with echo off.
fn read_value(reference: &SecretRef) -> Result<SecretString, HostError> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        let echo_off = set_echo(false);
        crate::progress::suspended(|| {
            use std::io::Write;
            let _ = write!(
                std::io::stderr(),
                "value for {reference} (input hidden, end with Enter; a PEM key or a JWK may span lines): "
            );
            let _ = std::io::stderr().flush();
        });
        let mut lines = stdin.lock();
        let read = lines
            .read_line(&mut text)
            .and_then(|_| {
                crate::secrets::input::complete_value(std::mem::take(&mut text), &mut lines)
            })
            .map(|value| text = value);
        drop(lines);
        if echo_off {
            set_echo(true);
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"\n");
        }
        read.map_err(|e| HostError::Io(format!("reading the value from the terminal: {e}")))?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut text)
            .map_err(|e| HostError::Io(format!("reading the value from standard input: {e}")))?;
    }
    let value = SecretString::from(trim_line_end(text));
    if value.expose_secret().is_empty() {
        return Err(HostError::Usage(format!(
            "no value for {reference} on standard input; pipe it in, e.g. \
             `printf %s \"$TOKEN\" | host secret set {reference}`"
        )));
    }
    Ok(value)
}

/// Turns terminal echo on or off with `stty` (no unsafe code); returns whether it worked.
fn set_echo(on: bool) -> bool {
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}
