//! What a host hands a connector: settings at creation, and a [`Context`] per operation.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Configuration a connector instance is created from.
///
/// `config` is the connector's own JSON configuration (non-secret). `auth` is the connector's
/// authentication JSON with every secret reference already resolved by the host; it is kept
/// as a [`SecretString`] so it never prints and is zeroed when dropped.
pub struct Settings {
    /// Non-secret configuration (for the Okta connector: `OrgDomain`, `PageSize`, …).
    pub config: Value,
    /// Authentication JSON with secrets resolved, e.g. `{"Mode":"ApiKey","ApiKey":"…"}`.
    pub auth: SecretString,
}

impl Settings {
    /// Creates settings from a configuration value and the resolved authentication JSON text.
    pub fn new(config: Value, auth: SecretString) -> Self {
        Self { config, auth }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("config", &self.config)
            .field("auth", &"[redacted]")
            .finish()
    }
}

/// Severity of a [`LogRecord`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics (per request, per page).
    Debug,
    /// Normal progress (run started, watermark advanced).
    Info,
    /// Something degraded but the operation continues (rate-limit waits, skipped types).
    Warn,
    /// The operation is failing.
    Error,
}

/// One structured log record emitted by a connector.
///
/// `event` is a stable machine name (e.g. `page_fetched`, `rate_limit_wait`) that hosts may use
/// for progress displays and counters; `fields` carry its typed values. Records must never
/// contain credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Severity.
    pub level: Level,
    /// Stable event name.
    pub event: String,
    /// Human-readable message.
    pub message: String,
    /// Structured values, ordered by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, Value>,
}

impl LogRecord {
    /// Creates a record without fields.
    pub fn new(level: Level, event: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            level,
            event: event.into(),
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds a structured field.
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }
}

/// Receives a connector's log records; implemented by the host.
pub trait Logger: Send + Sync {
    /// Handles one record. Must not block for long and must not panic.
    fn log(&self, record: LogRecord);
}

/// A logger that drops every record.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullLogger;

impl Logger for NullLogger {
    fn log(&self, _record: LogRecord) {}
}

/// A logger that keeps every record in memory, for tests and diagnostics.
#[derive(Debug, Default, Clone)]
pub struct MemoryLogger {
    records: Arc<Mutex<Vec<LogRecord>>>,
}

impl MemoryLogger {
    /// Creates an empty logger.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every record logged so far.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Logger for MemoryLogger {
    fn log(&self, record: LogRecord) {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(record);
    }
}

/// A cheaply clonable cancellation flag shared between a host and a running operation.
///
/// Once cancelled it stays cancelled. Connectors check [`is_cancelled`](Self::is_cancelled)
/// between units of work or race [`cancelled`](Self::cancelled) against their I/O.
#[derive(Clone, Default)]
pub struct CancellationToken {
    inner: Arc<CancelInner>,
}

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl CancellationToken {
    /// Creates a token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation and wakes every task waiting in [`cancelled`](Self::cancelled).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(
            &mut *self
                .inner
                .wakers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether cancellation has been requested.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// A future that completes once cancellation is requested.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
        }
    }
}

impl fmt::Debug for CancellationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellationToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Future returned by [`CancellationToken::cancelled`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled {
    token: CancellationToken,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.token.is_cancelled() {
            return Poll::Ready(());
        }
        let mut wakers = self
            .token
            .inner
            .wakers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Re-check under the lock: `cancel` sets the flag before taking the wakers.
        if self.token.is_cancelled() {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// Per-operation context: cancellation and logging.
///
/// One struct instead of long argument lists, so the API can grow without breaking connectors.
#[derive(Clone)]
pub struct Context {
    cancel: CancellationToken,
    logger: Arc<dyn Logger>,
}

impl Context {
    /// Creates a context from a cancellation token and a logger.
    pub fn new(cancel: CancellationToken, logger: Arc<dyn Logger>) -> Self {
        Self { cancel, logger }
    }

    /// A context that is never cancelled and records logs in memory; returns the logger too.
    #[cfg(any(test, feature = "testkit"))]
    pub fn for_tests() -> (Self, MemoryLogger) {
        let logger = MemoryLogger::new();
        (
            Self::new(CancellationToken::new(), Arc::new(logger.clone())),
            logger,
        )
    }

    /// The operation's cancellation token.
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    /// Whether the host asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The host's logger.
    pub fn logger(&self) -> &Arc<dyn Logger> {
        &self.logger
    }

    /// Sends one record to the host's logger.
    pub fn log(&self, record: LogRecord) {
        self.logger.log(record);
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_debug_redacts_auth() {
        let s = Settings::new(
            serde_json::json!({"OrgDomain": "x.okta.com"}),
            SecretString::from("{\"ApiKey\":\"canary-123\"}"),
        );
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("canary-123"), "{dbg}");
        assert!(dbg.contains("x.okta.com"));
    }

    #[tokio::test]
    async fn cancelled_future_wakes_on_cancel() {
        let token = CancellationToken::new();
        let waiter = tokio::spawn({
            let token = token.clone();
            async move { token.cancelled().await }
        });
        tokio::task::yield_now().await;
        assert!(!token.is_cancelled());
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("waiter woke")
            .unwrap();
        assert!(token.is_cancelled());
        // Already-cancelled tokens complete immediately.
        token.cancelled().await;
    }

    #[test]
    fn memory_logger_keeps_records() {
        let (ctx, logs) = Context::for_tests();
        ctx.log(LogRecord::new(Level::Info, "page_fetched", "page 1").field("objects", 200));
        let recs = logs.records();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].fields["objects"], 200);
    }
}
