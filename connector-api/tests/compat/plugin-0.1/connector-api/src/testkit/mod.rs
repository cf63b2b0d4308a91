//! The conformance kit (feature `testkit`): checks every connector must pass.
//!
//! Describe the connector under test as a [`Subject`] — its factory, a way to make good
//! [`Settings`], some named bad ones, and optionally a hook that changes the source — and run
//! [`run_conformance`]. Each check is also a public function, so a connector's own test suite
//! can run them one at a time. The checks only use the [`Connector`] trait, so the same subject
//! works in-process (a factory linked into the test) and through the loader (an
//! [`abi::loader::PluginFactory`](crate::abi::loader::PluginFactory)).
//!
//! ```no_run
//! # async fn demo(factory: std::sync::Arc<dyn connector_api::ConnectorFactory>) {
//! use connector_api::Settings;
//! use connector_api::secrecy::SecretString;
//! use connector_api::testkit::{Subject, run_conformance};
//! use serde_json::json;
//!
//! let subject = Subject::new(factory, || {
//!     Settings::new(json!({"folder": "/tmp/source"}), SecretString::from("{}"))
//! })
//! .bad_settings("folder missing", || Settings::new(json!({}), SecretString::from("{}")));
//! run_conformance(&subject).await.assert_passed();
//! # }
//! ```
//!
//! The checks need a tokio runtime with timers (`#[tokio::test]` provides one). They run
//! imports against whatever source the good settings point at, so point them at a fixture or a
//! simulator, never at production.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::ExposeSecret;

use crate::connector::{ChangeSink, Connector, ConnectorFactory};
use crate::context::{CancellationToken, Context, MemoryLogger, Settings};
use crate::error::{ConnectorError, ErrorKind, Result};
use crate::model::{
    Change, Descriptor, ImportMode, ImportOutcome, ImportRequest, Object, ObjectType, Watermark,
};

mod rules;

pub use rules::contract_violations;

type SettingsFn = Box<dyn Fn() -> Settings + Send + Sync>;

/// A connector under test and how to configure it.
pub struct Subject {
    factory: Arc<dyn ConnectorFactory>,
    settings: SettingsFn,
    bad_settings: Vec<(String, SettingsFn)>,
    mutate_source: Option<Box<dyn Fn() + Send + Sync>>,
    invalid_watermarks: Vec<Watermark>,
    timeout: Duration,
}

impl Subject {
    /// A subject created by `factory`; `settings` makes settings for a working source (called
    /// once per connector instance the kit creates).
    pub fn new(
        factory: Arc<dyn ConnectorFactory>,
        settings: impl Fn() -> Settings + Send + Sync + 'static,
    ) -> Self {
        Self {
            factory,
            settings: Box::new(settings),
            bad_settings: Vec::new(),
            mutate_source: None,
            invalid_watermarks: vec![Watermark::new("conformance-kit: this is not a watermark")],
            timeout: Duration::from_secs(60),
        }
    }

    /// Adds settings that the factory must reject with [`ErrorKind::InvalidConfig`]; `name` says
    /// what is wrong with them and appears in failures. (The kit always also tries a
    /// configuration that is a JSON string instead of an object.)
    #[must_use]
    pub fn bad_settings(
        mut self,
        name: impl Into<String>,
        settings: impl Fn() -> Settings + Send + Sync + 'static,
    ) -> Self {
        self.bad_settings.push((name.into(), Box::new(settings)));
        self
    }

    /// Sets a hook that changes the source (adds, modifies or deletes objects). With it,
    /// [`check_source_changes`] verifies that a delta run after the change loses nothing. The
    /// hook is called once, by the last check of [`run_conformance`].
    #[must_use]
    pub fn mutate_source(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.mutate_source = Some(Box::new(hook));
        self
    }

    /// Adds a watermark the connector must reject with [`ErrorKind::InvalidWatermark`] (the kit
    /// always tries `"conformance-kit: this is not a watermark"`).
    #[must_use]
    pub fn invalid_watermark(mut self, watermark: Watermark) -> Self {
        self.invalid_watermarks.push(watermark);
        self
    }

    /// How long one check may take before it fails (default 60 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn create(&self) -> std::result::Result<Box<dyn Connector>, String> {
        self.factory
            .create((self.settings)())
            .map_err(|e| format!("the good settings were rejected: {e}"))
    }
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subject")
            .field("factory", &self.factory)
            .field(
                "bad_settings",
                &self.bad_settings.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("mutate_source", &self.mutate_source.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The connector behaved as the contract requires.
    Passed,
    /// The connector broke the contract; the text says how.
    Failed(String),
    /// The check does not apply (for example delta checks for a connector without delta
    /// support); the text says why.
    Skipped(String),
}

/// The result of one named check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's name, e.g. `full_then_delta`.
    pub name: &'static str,
    /// How it ended.
    pub outcome: Outcome,
}

impl CheckResult {
    /// Whether the check did not fail (passed or skipped).
    pub fn ok(&self) -> bool {
        !matches!(self.outcome, Outcome::Failed(_))
    }
}

impl fmt::Display for CheckResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::Passed => write!(f, "PASS {}", self.name),
            Outcome::Failed(why) => write!(f, "FAIL {}: {why}", self.name),
            Outcome::Skipped(why) => write!(f, "SKIP {}: {why}", self.name),
        }
    }
}

/// The results of [`run_conformance`], one per check, in the order they ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConformanceReport {
    /// The connector's descriptor name.
    pub connector: String,
    /// Every check's result.
    pub checks: Vec<CheckResult>,
}

impl ConformanceReport {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckResult::ok)
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.checks.iter().filter(|c| !c.ok()).collect()
    }

    /// Panics with the whole report unless every check passed or was skipped.
    ///
    /// # Panics
    /// When any check failed; the message lists every check and what was wrong.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "connector conformance failed:\n{self}");
    }
}

impl fmt::Display for ConformanceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().len();
        writeln!(
            f,
            "conformance of `{}`: {} checks, {failed} failed",
            self.connector,
            self.checks.len()
        )?;
        for check in &self.checks {
            writeln!(f, "  {check}")?;
        }
        Ok(())
    }
}

/// Runs every check against `subject` and reports each one; never panics on a failing check.
///
/// The checks, in order: [`check_descriptor`], [`check_bad_config`], [`check_full_then_delta`],
/// [`check_watermark_round_trip`], [`check_invalid_watermark`], [`check_scope_complete`],
/// [`check_export`], [`check_cancellation`], [`check_sink_error`] and, last because it changes
/// the source, [`check_source_changes`].
pub async fn run_conformance(subject: &Subject) -> ConformanceReport {
    let checks = vec![
        check_descriptor(subject).await,
        check_bad_config(subject).await,
        check_full_then_delta(subject).await,
        check_watermark_round_trip(subject).await,
        check_invalid_watermark(subject).await,
        check_scope_complete(subject).await,
        check_export(subject).await,
        check_cancellation(subject).await,
        check_sink_error(subject).await,
        check_source_changes(subject).await,
    ];
    ConformanceReport {
        connector: subject.factory.descriptor().name,
        checks,
    }
}

/// What a check body returns: `Ok(None)` passed, `Ok(Some(why))` skipped, `Err(why)` failed.
type Verdict = std::result::Result<Option<String>, String>;

async fn run_check(
    subject: &Subject,
    name: &'static str,
    body: impl Future<Output = Verdict>,
) -> CheckResult {
    let outcome = match tokio::time::timeout(subject.timeout, body).await {
        Ok(Ok(None)) => Outcome::Passed,
        Ok(Ok(Some(why))) => Outcome::Skipped(why),
        Ok(Err(why)) => Outcome::Failed(why),
        Err(_) => Outcome::Failed(format!("did not finish within {:?}", subject.timeout)),
    };
    CheckResult { name, outcome }
}

fn skip(why: impl Into<String>) -> Verdict {
    Ok(Some(why.into()))
}

/// A sink recording every batch, with optional behaviour on the first batch.
#[derive(Default)]
struct RecordingSink {
    changes: Vec<Change>,
    batches: usize,
    /// Cancel this token when the first batch arrives (then count batches after it).
    cancel_on_first: Option<CancellationToken>,
    /// Refuse the first batch with this error, and every later one.
    refuse: Option<ConnectorError>,
    batches_after_trigger: usize,
}

#[async_trait]
impl ChangeSink for RecordingSink {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        self.batches += 1;
        if self.batches > 1 && (self.cancel_on_first.is_some() || self.refuse.is_some()) {
            self.batches_after_trigger += 1;
        }
        if let Some(error) = &self.refuse {
            return Err(error.clone());
        }
        if let Some(token) = &self.cancel_on_first {
            token.cancel();
        }
        self.changes.extend(changes);
        Ok(())
    }
}

fn test_context() -> (Context, CancellationToken) {
    let token = CancellationToken::new();
    let ctx = Context::new(token.clone(), Arc::new(MemoryLogger::new()));
    (ctx, token)
}

/// Runs one import into a recording sink.
async fn import(
    connector: &dyn Connector,
    request: ImportRequest,
) -> (Result<ImportOutcome>, Vec<Change>) {
    let (ctx, _) = test_context();
    let mut sink = RecordingSink::default();
    let result = connector.import(&ctx, request, &mut sink).await;
    (result, sink.changes)
}

fn rules(
    descriptor: &Descriptor,
    mode: ImportMode,
    changes: &[Change],
    outcome: &ImportOutcome,
) -> std::result::Result<(), String> {
    let violations = contract_violations(descriptor, mode, changes, Some(outcome));
    if violations.is_empty() {
        Ok(())
    } else {
        Err(format!("{mode} run: {}", violations.join("; ")))
    }
}

fn upserts(changes: &[Change]) -> BTreeMap<(&ObjectType, &str), &Object> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(o) => Some(((&o.object_type, o.external_id.as_str()), o)),
            _ => None,
        })
        .collect()
}

/// The descriptor is sane: a name without spaces, a `major.minor.patch` version, at least one
/// object type, unique type names, and every instance describes itself as its factory does.
pub async fn check_descriptor(subject: &Subject) -> CheckResult {
    run_check(subject, "descriptor", async {
        let d = subject.factory.descriptor();
        if d.name.trim().is_empty() || d.name.contains(char::is_whitespace) {
            return Err(format!("name {:?} is empty or contains spaces", d.name));
        }
        let core = d.version.split(['-', '+']).next().unwrap_or_default();
        let parts: Vec<&str> = core.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(format!(
                "version {:?} is not semver (major.minor.patch)",
                d.version
            ));
        }
        if d.object_types.is_empty() {
            return Err("declares no object types".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = d.object_types.iter().find(|t| !seen.insert(&t.name)) {
            return Err(format!("object type `{}` is declared twice", dup.name));
        }
        let instance = subject.create()?;
        if instance.descriptor() != d {
            return Err("an instance's descriptor differs from its factory's".into());
        }
        Ok(None)
    })
    .await
}

/// Every named bad setting (and a configuration that is a JSON string) is rejected by
/// `create` with [`ErrorKind::InvalidConfig`] and a message, which must not contain any secret
/// from the settings' authentication JSON.
pub async fn check_bad_config(subject: &Subject) -> CheckResult {
    run_check(subject, "bad_config", async {
        let mut cases: Vec<(String, Settings)> = vec![(
            "configuration is a JSON string, not an object".into(),
            Settings::new(
                serde_json::Value::String("conformance-kit: not a configuration".into()),
                (subject.settings)().auth,
            ),
        )];
        cases.extend(
            subject
                .bad_settings
                .iter()
                .map(|(name, make)| (name.clone(), make())),
        );
        let mut problems = Vec::new();
        for (name, settings) in cases {
            let secrets = secret_values(&settings);
            match subject.factory.create(settings) {
                Ok(_) => problems.push(format!("`{name}` was accepted")),
                Err(e) if e.kind() != ErrorKind::InvalidConfig => {
                    problems.push(format!(
                        "`{name}` failed with {} instead of invalid_config: {e}",
                        e.kind()
                    ));
                }
                Err(e) if e.message().trim().is_empty() => {
                    problems.push(format!("`{name}` was rejected without a message"));
                }
                Err(e) => {
                    let text = e.to_string();
                    if secrets.iter().any(|s| text.contains(s.as_str())) {
                        problems.push(format!(
                            "`{name}`: the error message contains a secret from the auth settings"
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(None)
        } else {
            Err(problems.join("; "))
        }
    })
    .await
}

/// The string values (of 6 characters or more) in the settings' authentication JSON.
fn secret_values(settings: &Settings) -> Vec<String> {
    fn collect(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::String(s) if s.len() >= 6 => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
            serde_json::Value::Object(map) => map.values().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match serde_json::from_str::<serde_json::Value>(settings.auth.expose_secret()) {
        Ok(value) => collect(&value, &mut out),
        Err(_) if settings.auth.expose_secret().len() >= 6 => {
            out.push(settings.auth.expose_secret().to_owned());
        }
        Err(_) => {}
    }
    out
}

/// A full import succeeds (and returns a watermark if the connector declares delta support);
/// a delta import from that watermark with no source changes then succeeds, emits no deletes and
/// no whole-type completion, re-delivers at most the objects of the full run (unchanged), and
/// returns a watermark. Both runs must follow [`contract_violations`]'s rules.
pub async fn check_full_then_delta(subject: &Subject) -> CheckResult {
    run_check(subject, "full_then_delta", async {
        let connector = subject.create()?;
        let d = connector.descriptor();
        let (result, full) = import(&*connector, ImportRequest::full()).await;
        let outcome = result.map_err(|e| format!("the full import failed: {e}"))?;
        rules(&d, ImportMode::Full, &full, &outcome)?;
        let Some(watermark) = outcome.watermark.clone() else {
            if d.capabilities.delta {
                return Err("the full run returned no watermark, but the connector declares delta support".into());
            }
            return skip("no delta support: the full run passed, no watermark to continue from");
        };
        if !d.capabilities.delta {
            return Err("the full run returned a watermark, but the connector does not declare delta support".into());
        }
        let (result, delta) = import(&*connector, ImportRequest::delta(watermark)).await;
        let outcome = result.map_err(|e| format!("the delta import failed: {e}"))?;
        rules(&d, ImportMode::Delta, &delta, &outcome)?;
        if let Some(Change::Delete { object_type, external_id }) =
            delta.iter().find(|c| matches!(c, Change::Delete { .. }))
        {
            return Err(format!("the delta run deleted `{object_type}` {external_id} although the source did not change"));
        }
        if outcome.watermark.is_none() {
            return Err("the delta run returned no watermark".into());
        }
        let before = upserts(&full);
        let again = upserts(&delta);
        if again.len() > before.len() {
            return Err(format!(
                "the delta run re-delivered {} objects, more than the full run's {}",
                again.len(),
                before.len()
            ));
        }
        for (key, object) in again {
            match before.get(&key) {
                None => return Err(format!("the delta run emitted `{}` {}, which the full run did not", key.0, key.1)),
                Some(old) if *old != object => {
                    return Err(format!("the delta run changed `{}` {} although the source did not change", key.0, key.1));
                }
                Some(_) => {}
            }
        }
        Ok(None)
    })
    .await
}

/// The watermark of a full run is accepted by `validate_watermark`, survives being stored as
/// text (and as JSON), and a fresh instance — as after a host restart — runs a delta from it.
pub async fn check_watermark_round_trip(subject: &Subject) -> CheckResult {
    run_check(subject, "watermark_round_trip", async {
        let connector = subject.create()?;
        if !connector.descriptor().capabilities.delta {
            return skip("the connector does not declare delta support");
        }
        let (result, _) = import(&*connector, ImportRequest::full()).await;
        let watermark = result
            .map_err(|e| format!("the full import failed: {e}"))?
            .watermark
            .ok_or("the full run returned no watermark")?;
        connector
            .validate_watermark(&watermark)
            .map_err(|e| format!("its own watermark {watermark:?} was rejected: {e}"))?;
        let json = serde_json::to_string(&watermark).map_err(|e| e.to_string())?;
        let stored: Watermark = serde_json::from_str(&json).map_err(|e| e.to_string())?;
        let restored = Watermark::new(stored.as_str().to_owned());
        drop(connector);
        let fresh = subject.create()?;
        fresh
            .validate_watermark(&restored)
            .map_err(|e| format!("a fresh instance rejected the stored watermark: {e}"))?;
        let (result, _) = import(&*fresh, ImportRequest::delta(restored)).await;
        result.map_err(|e| {
            format!("a fresh instance's delta from the stored watermark failed: {e}")
        })?;
        Ok(None)
    })
    .await
}

/// Malformed watermarks are rejected with [`ErrorKind::InvalidWatermark`], both by
/// `validate_watermark` and by a delta import, which must emit nothing.
pub async fn check_invalid_watermark(subject: &Subject) -> CheckResult {
    run_check(subject, "invalid_watermark", async {
        let connector = subject.create()?;
        if !connector.descriptor().capabilities.delta {
            return skip("the connector does not declare delta support");
        }
        for bad in &subject.invalid_watermarks {
            match connector.validate_watermark(bad) {
                Ok(()) => return Err(format!("validate_watermark accepted {bad:?}")),
                Err(e) if e.kind() != ErrorKind::InvalidWatermark => {
                    return Err(format!("validate_watermark({bad:?}) failed with {} instead of invalid_watermark: {e}", e.kind()));
                }
                Err(_) => {}
            }
            let (result, changes) = import(&*connector, ImportRequest::delta(bad.clone())).await;
            match result {
                Ok(_) => return Err(format!("a delta import from {bad:?} succeeded")),
                Err(e) if e.kind() != ErrorKind::InvalidWatermark => {
                    return Err(format!("a delta import from {bad:?} failed with {} instead of invalid_watermark: {e}", e.kind()));
                }
                Err(_) if !changes.is_empty() => {
                    return Err(format!("a delta import from {bad:?} emitted {} changes before rejecting it", changes.len()));
                }
                Err(_) => {}
            }
        }
        Ok(None)
    })
    .await
}

/// Scope completion follows the contract (see [`contract_violations`]) in a full run and a
/// delta run, and a connector declaring `scope_complete` completes at least one scope in a full
/// run.
pub async fn check_scope_complete(subject: &Subject) -> CheckResult {
    run_check(subject, "scope_complete", async {
        let connector = subject.create()?;
        let d = connector.descriptor();
        let (result, full) = import(&*connector, ImportRequest::full()).await;
        let outcome = result.map_err(|e| format!("the full import failed: {e}"))?;
        rules(&d, ImportMode::Full, &full, &outcome)?;
        let markers = full
            .iter()
            .filter(|c| matches!(c, Change::ScopeComplete(_)))
            .count();
        if d.capabilities.scope_complete && markers == 0 && outcome.skipped.is_empty() {
            return Err("declares scope_complete but the full run completed no scope".into());
        }
        if let (true, Some(watermark)) = (d.capabilities.delta, outcome.watermark) {
            let (result, delta) = import(&*connector, ImportRequest::delta(watermark)).await;
            let outcome = result.map_err(|e| format!("the delta import failed: {e}"))?;
            rules(&d, ImportMode::Delta, &delta, &outcome)?;
        }
        Ok(None)
    })
    .await
}

/// A connector that does not declare [`Capabilities::export`](crate::Capabilities) answers
/// `export` with [`ErrorKind::NotSupported`] and a message.
pub async fn check_export(subject: &Subject) -> CheckResult {
    run_check(subject, "export", async {
        let connector = subject.create()?;
        let d = connector.descriptor();
        if d.capabilities.export {
            return skip("the connector declares export; the kit does not write to sources");
        }
        let object_type = d.object_types[0].name.clone();
        let change = Change::Upsert(Object::new(object_type, "conformance-kit"));
        let (ctx, _) = test_context();
        match connector.export(&ctx, vec![change]).await {
            Ok(()) => Err("export succeeded on a connector that does not declare export".into()),
            Err(e) if e.kind() != ErrorKind::NotSupported => Err(format!(
                "export failed with {} instead of not_supported: {e}",
                e.kind()
            )),
            Err(e) if e.message().trim().is_empty() => {
                Err("export was refused without a message".into())
            }
            Err(_) => Ok(None),
        }
    })
    .await
}

/// Cancellation is honoured: an import whose context is already cancelled fails with
/// [`ErrorKind::Cancelled`]; an import cancelled when its first batch arrives sends at most one
/// more batch and fails with `Cancelled` (unless it had already sent everything).
pub async fn check_cancellation(subject: &Subject) -> CheckResult {
    run_check(subject, "cancellation", async {
        let connector = subject.create()?;
        let (ctx, token) = test_context();
        token.cancel();
        let mut sink = RecordingSink::default();
        match connector.import(&ctx, ImportRequest::full(), &mut sink).await {
            Ok(_) => return Err("an import with an already cancelled context succeeded".into()),
            Err(e) if e.kind() != ErrorKind::Cancelled => {
                return Err(format!("an import with an already cancelled context failed with {} instead of cancelled: {e}", e.kind()));
            }
            Err(_) => {}
        }
        let (ctx, token) = test_context();
        let mut sink = RecordingSink {
            cancel_on_first: Some(token),
            ..RecordingSink::default()
        };
        let result = connector.import(&ctx, ImportRequest::full(), &mut sink).await;
        if sink.batches == 0 {
            return skip("the already-cancelled case passed; the source is empty, so mid-run cancellation was not exercised");
        }
        if sink.batches_after_trigger > 1 {
            return Err(format!("after cancellation the import sent {} more batches (at most one is allowed)", sink.batches_after_trigger));
        }
        match result {
            Ok(_) if sink.batches_after_trigger > 0 => {
                Err("the import kept sending after cancellation and then reported success".into())
            }
            Err(e) if e.kind() != ErrorKind::Cancelled => {
                Err(format!("the cancelled import failed with {} instead of cancelled: {e}", e.kind()))
            }
            _ => Ok(None),
        }
    })
    .await
}

/// When the sink refuses a batch, the import stops (sends nothing more) and fails.
pub async fn check_sink_error(subject: &Subject) -> CheckResult {
    run_check(subject, "sink_error", async {
        let connector = subject.create()?;
        let (ctx, _) = test_context();
        let mut sink = RecordingSink {
            refuse: Some(ConnectorError::unavailable(
                "conformance kit: the store is unavailable",
            )),
            ..RecordingSink::default()
        };
        let result = connector
            .import(&ctx, ImportRequest::full(), &mut sink)
            .await;
        if sink.batches == 0 {
            return skip("the full run sent no batch, so a refusing sink was not exercised");
        }
        if sink.batches_after_trigger > 0 {
            return Err(format!(
                "the import sent {} more batches after the sink refused one",
                sink.batches_after_trigger
            ));
        }
        match result {
            Ok(_) => Err("the import reported success although the sink refused a batch".into()),
            Err(_) => Ok(None),
        }
    })
    .await
}

/// With a [`Subject::mutate_source`] hook: full run, change the source, delta run from the full
/// run's watermark. Applying the full and delta changes must give every object a fresh full run
/// sees, with the same attributes — no change is lost. (Objects deleted from the source may
/// linger until a full run completes their scope.)
pub async fn check_source_changes(subject: &Subject) -> CheckResult {
    run_check(subject, "source_changes", async {
        let Some(mutate) = &subject.mutate_source else {
            return skip("no mutate_source hook given");
        };
        let connector = subject.create()?;
        let d = connector.descriptor();
        if !d.capabilities.delta {
            return skip("the connector does not declare delta support");
        }
        let (result, full) = import(&*connector, ImportRequest::full()).await;
        let watermark = result
            .map_err(|e| format!("the full import failed: {e}"))?
            .watermark
            .ok_or("the full run returned no watermark")?;
        mutate();
        let (result, delta) = import(&*connector, ImportRequest::delta(watermark)).await;
        let outcome = result.map_err(|e| format!("the delta import after the change failed: {e}"))?;
        rules(&d, ImportMode::Delta, &delta, &outcome)?;
        if delta.is_empty() {
            return Err("the delta run after the source changed emitted nothing".into());
        }
        let mut replica: BTreeMap<(ObjectType, String), Object> = BTreeMap::new();
        for change in full.iter().chain(&delta) {
            match change {
                Change::Upsert(o) => {
                    replica.insert((o.object_type.clone(), o.external_id.clone()), o.clone());
                }
                Change::Delete { object_type, external_id } => {
                    replica.remove(&(object_type.clone(), external_id.clone()));
                }
                Change::ScopeComplete(_) => {}
            }
        }
        let (result, fresh) = import(&*connector, ImportRequest::full()).await;
        result.map_err(|e| format!("the full import after the change failed: {e}"))?;
        for ((object_type, id), object) in upserts(&fresh) {
            match replica.get(&(object_type.clone(), id.to_owned())) {
                None => return Err(format!("the delta run lost `{object_type}` {id}: a fresh full run has it, full + delta does not")),
                Some(seen) if seen != object => {
                    return Err(format!("the delta run lost a change to `{object_type}` {id}: its attributes differ from a fresh full run's"));
                }
                Some(_) => {}
            }
        }
        Ok(None)
    })
    .await
}
