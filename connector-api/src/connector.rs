//! The connector trait, its factory, and the sink changes are emitted into.

use std::fmt;

use async_trait::async_trait;

use crate::context::{Context, Settings};
use crate::error::{ConnectorError, Result};
use crate::export::{ExportReport, ExportRequest};
use crate::model::{Change, CheckReport, Descriptor, ImportOutcome, ImportRequest, Watermark};

/// Receives the changes of a running import; implemented by the host.
///
/// `send` is where backpressure happens: the host may take as long as it needs to store a
/// batch, and the connector does not produce more until the call returns.
#[async_trait]
pub trait ChangeSink: Send {
    /// Accepts a batch of changes, in order.
    ///
    /// # Errors
    /// Returns an error when the host cannot accept more (for example the store failed or the
    /// run was cancelled). The connector must stop and return that error from `import`.
    async fn send(&mut self, changes: Vec<Change>) -> Result<()>;

    /// Accepts a batch as the plug-in boundary carries it: JSON lines, one [`Change`] per line
    /// (see [`abi::batch`](crate::abi::batch)). The plug-in loader calls this for every batch a
    /// plug-in delivers.
    ///
    /// The default decodes the batch with [`abi::batch::decode`](crate::abi::batch::decode)
    /// and calls [`send`](Self::send). A host may override it to read the changes without
    /// building [`Object`](crate::Object)s; it must then accept and refuse exactly what
    /// `decode` does, apply the changes as `send` would, and apply nothing of a malformed
    /// batch.
    ///
    /// # Errors
    /// As [`send`](Self::send); a malformed batch is an
    /// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error naming the line, in the
    /// context "the connector sent a malformed batch".
    async fn send_encoded(&mut self, batch: Vec<u8>) -> Result<()> {
        let changes = crate::abi::batch::decode(&batch)
            .map_err(|e| e.context("the connector sent a malformed batch"))?;
        self.send(changes).await
    }
}

/// A [`ChangeSink`] that keeps every change in memory, for tests and small tools.
#[derive(Debug, Default, Clone)]
pub struct VecSink {
    /// Every change received, in order.
    pub changes: Vec<Change>,
}

#[async_trait]
impl ChangeSink for VecSink {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        self.changes.extend(changes);
        Ok(())
    }
}

/// A configured connection to one source system.
///
/// Implementations are created by a [`ConnectorFactory`] from [`Settings`], are shared between
/// threads, and may run several operations at once (each with its own [`Context`]).
///
/// # Contract
///
/// What every implementation must guarantee, and what the conformance kit
/// (`testkit` feature) checks:
///
/// * **Ordering.** Changes passed to the sink are applied by the host in the order given. For any
///   one object, the last change emitted in a run wins.
/// * **Idempotence.** Re-emitting an unchanged object is harmless; a delta run may re-deliver
///   objects already seen. Losing a change is never acceptable: an object modified while a run is
///   in progress, or shortly before it, must appear in this run or in the next delta run.
/// * **Watermarks.** The new watermark is only ever returned in the `Ok` of
///   [`import`](Connector::import), after every change it covers was accepted by the sink. An
///   import that fails or is cancelled returns `Err` and therefore no watermark, so the host keeps
///   the previous one. A watermark returned by a full run must be usable for the next delta run.
///   Malformed watermarks are rejected with [`ErrorKind::InvalidWatermark`](crate::ErrorKind).
/// * **Scope completion.** A connector emits [`Change::ScopeComplete`] for a scope only after it
///   has emitted *every* object of that scope that currently exists in the source, during this
///   run. The host then deletes stored objects of the scope that this run did not emit — but only
///   if the run as a whole succeeds. A scope that was skipped, read partially, or failed must never
///   be marked complete. Delta runs may complete sub-scopes they re-read entirely (for example
///   the members of one group) but never a whole type they only read changes of.
/// * **Deletes.** Objects the source reports as gone (for example a deprovisioned user) are
///   emitted as [`Change::Delete`]; deleting an object the host does not have is harmless.
/// * **Deletes by reference (1.1).** [`Change::DeleteWhere`] removes every stored object of a
///   type whose attribute equals a value (the memberships of a user deleted at the source,
///   when the connector does not know the user's groups). It is applied like a delete, at the
///   end of a successful run, and spares objects of the type the run upserts after it (the last
///   change wins). A connector emits it — or any kind beyond 1.0's — **only if the host lists
///   it in [`ImportRequest::accepts`](crate::ImportRequest)**; otherwise it gets the same
///   result another way (for example by re-reading the affected member lists and completing
///   their scopes). The conformance kit fails a run that emits a kind its request did not
///   accept.
/// * **Expired watermarks (1.1).** When a delta run cannot start from a watermark because the
///   source's change history no longer reaches back to it (or the source refuses it), the
///   connector fails with [`ErrorKind::WatermarkExpired`](crate::ErrorKind) — never a silently
///   incomplete delta. A host may then run a full import.
/// * **Cancellation.** When [`Context::is_cancelled`] becomes true the connector stops promptly
///   (within one request or page) and returns [`ErrorKind::Cancelled`](crate::ErrorKind).
/// * **Errors.** Failures are classified with [`ErrorKind`](crate::ErrorKind) and never contain
///   credentials. A connector never reports success after silently dropping data.
/// * **Panics.** Implementations should not panic; the plug-in boundary turns a panic into an
///   [`ErrorKind::Internal`](crate::ErrorKind) error, but the run is lost.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Describes the connector (same as its factory's descriptor).
    fn descriptor(&self) -> Descriptor;

    /// Verifies that the source is reachable and the credentials work, without importing.
    ///
    /// # Errors
    /// The classified reason the connection does not work.
    async fn check(&self, ctx: &Context) -> Result<CheckReport>;

    /// Runs one import, streaming changes into `sink`, and returns the new watermark.
    ///
    /// # Errors
    /// Any failure that prevents a complete, correct run: the host records it and keeps the
    /// previous watermark. Partial problems that leave the rest correct are reported in
    /// [`ImportOutcome::skipped`] instead.
    async fn import(
        &self,
        ctx: &Context,
        request: ImportRequest,
        sink: &mut dyn ChangeSink,
    ) -> Result<ImportOutcome>;

    /// Checks that a watermark (for example one an operator edited) can be used for a delta run.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidWatermark`](crate::ErrorKind) naming what is wrong.
    fn validate_watermark(&self, watermark: &Watermark) -> Result<()> {
        let _ = watermark;
        Ok(())
    }

    /// Writes changes to the source system and reports an outcome per change.
    ///
    /// # Export contract
    ///
    /// * The report holds exactly one [`ChangeOutcome`](crate::ChangeOutcome) per requested
    ///   change, in order, with the change's key ([`ExportReport::matches`]).
    /// * `Applied` and `Unchanged` are reported only for changes the target now holds. A
    ///   change that is refused or fails is `Failed` with a classified error; the export goes on
    ///   with the next change unless the failure makes the rest pointless (then they are
    ///   `Skipped` with the reason).
    /// * Re-sending a change that was applied is harmless and reports `Unchanged`.
    /// * With [`ExportRequest::dry_run`] nothing is written; outcomes say what would happen.
    /// * Cancellation ([`Context::is_cancelled`]) is checked between changes: the changes not
    ///   reached are reported [`not_attempted`](crate::ChangeOutcome::not_attempted), never
    ///   applied, and the report of what was done is returned as `Ok`.
    /// * `Err` means nothing was attempted (for example the connector is read-only, or the
    ///   target rejected the credentials before the first change).
    ///
    /// The default reports [`ErrorKind::NotSupported`](crate::ErrorKind): connectors are
    /// read-only unless they declare [`Capabilities::export`](crate::Capabilities) and the
    /// [`exportable`](crate::Capabilities::exportable) types and kinds.
    ///
    /// # Errors
    /// `NotSupported` by default; otherwise the classified reason nothing could be attempted.
    async fn export(&self, ctx: &Context, request: ExportRequest) -> Result<ExportReport> {
        let _ = (ctx, request);
        let name = self.descriptor().name;
        Err(ConnectorError::not_supported(format!(
            "the {name} connector is read-only: export is not supported"
        ))
        .with_remediation("Use this connector for imports only"))
    }
}

/// Creates connector instances; what a plug-in library exports and what a host loads.
pub trait ConnectorFactory: Send + Sync {
    /// Describes the connector without needing any configuration.
    fn descriptor(&self) -> Descriptor;

    /// Validates `settings` and creates an instance. Must not contact the source system.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`](crate::ErrorKind) naming the offending field and what is
    /// expected.
    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>>;
}

impl fmt::Debug for dyn Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Connector({})", self.descriptor().name)
    }
}

impl fmt::Debug for dyn ConnectorFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectorFactory({})", self.descriptor().name)
    }
}

/// A factory from a descriptor and a constructor function, for connectors linked into a host.
pub struct FnFactory<F> {
    descriptor: Descriptor,
    create: F,
}

impl<F> FnFactory<F>
where
    F: Fn(Settings) -> Result<Box<dyn Connector>> + Send + Sync,
{
    /// Wraps `create`, which validates settings and builds an instance.
    pub fn new(descriptor: Descriptor, create: F) -> Self {
        Self { descriptor, create }
    }
}

impl<F> ConnectorFactory for FnFactory<F>
where
    F: Fn(Settings) -> Result<Box<dyn Connector>> + Send + Sync,
{
    fn descriptor(&self) -> Descriptor {
        self.descriptor.clone()
    }

    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>> {
        (self.create)(settings)
    }
}

impl<F> fmt::Debug for FnFactory<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnFactory")
            .field("name", &self.descriptor.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Object};

    #[tokio::test]
    async fn send_encoded_decodes_by_default_and_refuses_a_malformed_batch_whole() {
        let changes = vec![
            Change::Upsert(Object::new("User", "u1").with("n", 1)),
            Change::delete("User", "u2"),
        ];
        let mut bytes = Vec::new();
        crate::abi::batch::encode(&changes, &mut bytes);
        let mut sink = VecSink::default();
        sink.send_encoded(bytes.clone()).await.unwrap();
        assert_eq!(sink.changes, changes);

        bytes.extend_from_slice(b"{\"op\":\"upsert\"}\n");
        let err = sink.send_encoded(bytes).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(err.to_string().contains("malformed batch"), "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
        assert_eq!(
            sink.changes.len(),
            2,
            "nothing of the malformed batch is applied"
        );
    }
}
