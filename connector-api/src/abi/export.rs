//! The plug-in side of the C ABI (feature `plugin`): what [`export_connector!`] expands to.
//!
//! Every function here backs one exported symbol. Each one catches panics (turning them into an
//! [`ErrorKind::Internal`](crate::ErrorKind) error), validates its pointers, and runs async work
//! on the instance's own tokio runtime, built inside the plug-in so that no tokio state is shared
//! with the host.
//!
//! [`export_connector!`]: crate::export_connector

use std::ffi::c_void;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::ptr;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use secrecy::zeroize::Zeroize;

use super::{
    ConnectorBuffer, ConnectorCallContext, ConnectorCancel, ConnectorInstance, LogFn, SinkFn,
    batch, borrow_bytes, panic_message,
};
use super::{SINK_CONTINUE, STATUS_ERROR, STATUS_INVALID_ARGUMENT, STATUS_OK};
use crate::connector::{ChangeSink, Connector, ConnectorFactory};
use crate::context::{CancellationToken, Context, LogRecord, Logger, Settings};
use crate::error::{ConnectorError, Result};
use crate::export::{ExportOptions, ExportReport, ExportRequest, ExportStatus};
use crate::model::{Change, ImportRequest, Watermark};

pub use std::sync::OnceLock;

/// How many worker threads each instance's runtime gets.
const WORKER_THREADS: usize = 2;
/// How long destroying an instance waits for its runtime's tasks to wind down.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns the connector factory the macro's expression evaluates to (evaluated once).
pub type FactoryFn = fn() -> &'static dyn ConnectorFactory;

/// Boxes the macro's factory expression; a named function so a wrong type gets a clear error.
pub fn boxed_factory<F: ConnectorFactory + 'static>(factory: F) -> Box<dyn ConnectorFactory> {
    Box::new(factory)
}

/// Exposes a [`ConnectorFactory`] from a connector `cdylib` through the C ABI.
///
/// Invoke it once, at the root of a crate built with `crate-type = ["cdylib"]` (add `"rlib"` to
/// also link it into hosts and tests). `$factory` is any expression of a type implementing
/// `ConnectorFactory + 'static`; it is evaluated lazily, the first time the host asks for the
/// descriptor or an instance, and at most once successfully.
///
/// The connector crate needs only `connector-api` with feature `plugin` as a dependency. The
/// macro defines the `#[no_mangle]` symbols documented in `docs/abi.md` (and no Rust items), so
/// a crate may invoke it only once.
///
/// ```
/// use connector_api::{ConnectorError, Descriptor, FnFactory, ObjectTypeInfo};
///
/// fn descriptor() -> Descriptor {
///     Descriptor::new("hello", "0.1.0")
///         .with_description("A connector that cannot be configured")
///         .with_object_type(ObjectTypeInfo::new("Greeting"))
/// }
///
/// connector_api::export_connector!(FnFactory::new(descriptor(), |_settings| {
///     Err(ConnectorError::invalid_config("hello takes no configuration"))
/// }));
/// # fn main() {}
/// ```
///
/// A real connector passes its own factory type, e.g.
/// `export_connector!(AcmeFactory::default())` — see `docs/writing-a-connector.md`.
#[macro_export]
macro_rules! export_connector {
    ($factory:expr $(,)?) => {
        const _: () = {
            fn __connector_api_factory() -> &'static dyn $crate::ConnectorFactory {
                static FACTORY: $crate::__private::OnceLock<
                    ::std::boxed::Box<dyn $crate::ConnectorFactory>,
                > = $crate::__private::OnceLock::new();
                &**FACTORY.get_or_init(|| $crate::__private::boxed_factory($factory))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn connector_abi_version() -> u32 {
                $crate::abi::ABI_VERSION
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_descriptor(
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe { $crate::__private::descriptor(__connector_api_factory, out) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_create(
                config: *const u8,
                config_len: usize,
                auth: *const u8,
                auth_len: usize,
                out_instance: *mut *mut $crate::abi::ConnectorInstance,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe {
                    $crate::__private::create(
                        __connector_api_factory,
                        config,
                        config_len,
                        auth,
                        auth_len,
                        out_instance,
                        out,
                    )
                }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_destroy(
                instance: *mut $crate::abi::ConnectorInstance,
            ) {
                unsafe { $crate::__private::destroy(instance) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_check(
                instance: *const $crate::abi::ConnectorInstance,
                ctx: *const $crate::abi::ConnectorCallContext,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe { $crate::__private::check(instance, ctx, out) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_import(
                instance: *const $crate::abi::ConnectorInstance,
                ctx: *const $crate::abi::ConnectorCallContext,
                request: *const u8,
                request_len: usize,
                sink: ::std::option::Option<$crate::abi::SinkFn>,
                sink_data: *mut ::std::ffi::c_void,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe {
                    $crate::__private::import(
                        instance,
                        ctx,
                        request,
                        request_len,
                        sink,
                        sink_data,
                        out,
                    )
                }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_export(
                instance: *const $crate::abi::ConnectorInstance,
                ctx: *const $crate::abi::ConnectorCallContext,
                batch: *const u8,
                batch_len: usize,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe { $crate::__private::export(instance, ctx, batch, batch_len, out) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_export_changes(
                instance: *const $crate::abi::ConnectorInstance,
                ctx: *const $crate::abi::ConnectorCallContext,
                options: *const u8,
                options_len: usize,
                batch: *const u8,
                batch_len: usize,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe {
                    $crate::__private::export_changes(
                        instance,
                        ctx,
                        $crate::__private::Bytes::new(options, options_len),
                        $crate::__private::Bytes::new(batch, batch_len),
                        out,
                    )
                }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_validate_watermark(
                instance: *const $crate::abi::ConnectorInstance,
                watermark: *const u8,
                watermark_len: usize,
                out: *mut $crate::abi::ConnectorBuffer,
            ) -> i32 {
                unsafe {
                    $crate::__private::validate_watermark(instance, watermark, watermark_len, out)
                }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn connector_cancel_new() -> *mut $crate::abi::ConnectorCancel {
                $crate::__private::cancel_new()
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_cancel(cancel: *const $crate::abi::ConnectorCancel) {
                unsafe { $crate::__private::cancel(cancel) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_cancel_free(
                cancel: *mut $crate::abi::ConnectorCancel,
            ) {
                unsafe { $crate::__private::cancel_free(cancel) }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn connector_buffer_free(buffer: $crate::abi::ConnectorBuffer) {
                unsafe { $crate::__private::buffer_free(buffer) }
            }

            // The exported signatures must be exactly the ABI's.
            const _: $crate::abi::AbiVersionFn = connector_abi_version;
            const _: $crate::abi::DescriptorFn = connector_descriptor;
            const _: $crate::abi::CreateFn = connector_create;
            const _: $crate::abi::DestroyFn = connector_destroy;
            const _: $crate::abi::CheckFn = connector_check;
            const _: $crate::abi::ImportFn = connector_import;
            const _: $crate::abi::ExportFn = connector_export;
            const _: $crate::abi::ExportChangesFn = connector_export_changes;
            const _: $crate::abi::ValidateWatermarkFn = connector_validate_watermark;
            const _: $crate::abi::CancelNewFn = connector_cancel_new;
            const _: $crate::abi::CancelFn = connector_cancel;
            const _: $crate::abi::CancelFreeFn = connector_cancel_free;
            const _: $crate::abi::BufferFreeFn = connector_buffer_free;
        };
    };
}

/// One created connector with the runtime its operations run on.
struct Instance {
    connector: ManuallyDrop<Arc<dyn Connector>>,
    runtime: ManuallyDrop<tokio::runtime::Runtime>,
}

impl Instance {
    /// Runs `future` to completion on this instance's runtime, on the calling thread, turning a
    /// panic into an `Internal` error.
    fn block_on<T>(&self, what: &str, future: impl Future<Output = Result<T>>) -> Result<T> {
        match self.runtime.block_on(CatchUnwind(future)) {
            Ok(result) => result,
            Err(message) => Err(panicked(what, &message)),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: each field is taken exactly once, here, and never used again.
        let (connector, runtime) = unsafe {
            (
                ManuallyDrop::take(&mut self.connector),
                ManuallyDrop::take(&mut self.runtime),
            )
        };
        // The connector's resources (HTTP pools, timers) are released inside its runtime, and
        // before the runtime itself goes.
        {
            let _entered = runtime.enter();
            drop(connector);
        }
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }
}

/// A future that turns a panic while polling into `Err(message)`.
struct CatchUnwind<F>(F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::result::Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of the only field; it is never moved out.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(&*payload))),
        }
    }
}

fn panicked(what: &str, message: &str) -> ConnectorError {
    ConnectorError::internal(format!("the connector panicked during {what}: {message}"))
        .with_remediation("This is a bug in the connector; report it with the host's log")
}

/// Runs an entry point: initialises `out`, catches panics, and writes the payload or the error.
///
/// # Safety
/// `out` must be null or valid for writing a `ConnectorBuffer`.
unsafe fn entry(
    out: *mut ConnectorBuffer,
    what: &str,
    body: impl FnOnce() -> Result<Vec<u8>>,
) -> i32 {
    if out.is_null() {
        return STATUS_INVALID_ARGUMENT;
    }
    // SAFETY: `out` is non-null and writable per the caller's contract.
    unsafe { out.write(ConnectorBuffer::empty()) };
    let result = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => Err(panicked(what, &panic_message(&*payload))),
    };
    let (status, bytes) = match result {
        Ok(bytes) => (STATUS_OK, bytes),
        Err(error) => (STATUS_ERROR, error_json(&error)),
    };
    // SAFETY: as above.
    unsafe { out.write(into_buffer(bytes)) };
    status
}

fn error_json(error: &ConnectorError) -> Vec<u8> {
    serde_json::to_vec(error).unwrap_or_else(|_| {
        br#"{"kind":"internal","message":"the connector's error could not be serialised"}"#.to_vec()
    })
}

fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| ConnectorError::internal(format!("serialising the {what}: {e}")))
}

fn into_buffer(bytes: Vec<u8>) -> ConnectorBuffer {
    if bytes.capacity() == 0 {
        return ConnectorBuffer::empty();
    }
    let mut bytes = ManuallyDrop::new(bytes);
    ConnectorBuffer {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        cap: bytes.capacity(),
    }
}

/// # Safety
/// See [`borrow_bytes`](super::borrow_bytes); the bytes must outlive the entry point call.
unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    // SAFETY: forwarded from the caller.
    unsafe { borrow_bytes(ptr, len) }.ok_or_else(|| {
        ConnectorError::internal(format!("{what} pointer is null but length is {len}"))
    })
}

/// # Safety
/// `instance` must be null or a live pointer returned by `connector_create`.
unsafe fn instance_ref<'a>(instance: *const ConnectorInstance) -> Result<&'a Instance> {
    if instance.is_null() {
        return Err(ConnectorError::internal(
            "the connector instance pointer is null",
        ));
    }
    // SAFETY: `connector_create` hands out `Box<Instance>` pointers cast to `ConnectorInstance`.
    Ok(unsafe { &*instance.cast::<Instance>() })
}

/// The host's per-operation context, made into a [`Context`]; disconnects the host's log callback
/// when dropped, so nothing calls it after the entry point returns (even if the connector kept a
/// clone of the context in a background task).
struct Operation {
    ctx: Context,
    log_target: Arc<Mutex<Option<LogTarget>>>,
}

impl Operation {
    /// # Safety
    /// `ctx` must be null or valid for the duration of the entry point call, and its `cancel`
    /// null or a live handle from `connector_cancel_new`.
    unsafe fn new(ctx: *const ConnectorCallContext) -> Self {
        // SAFETY: per the caller's contract.
        let call = unsafe { ctx.as_ref() }.copied();
        let token = match call {
            // SAFETY: `cancel` is null or a `Box<CancellationToken>` from `connector_cancel_new`.
            Some(c) if !c.cancel.is_null() => {
                unsafe { &*c.cancel.cast::<CancellationToken>() }.clone()
            }
            _ => CancellationToken::new(),
        };
        let target = call.and_then(|c| {
            c.log.map(|log| LogTarget {
                log,
                user_data: c.user_data,
            })
        });
        let log_target = Arc::new(Mutex::new(target));
        let logger = HostLogger {
            target: Arc::clone(&log_target),
        };
        Self {
            ctx: Context::new(token, Arc::new(logger)),
            log_target,
        }
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        *self
            .log_target
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

struct LogTarget {
    log: LogFn,
    user_data: *mut c_void,
}

// SAFETY: the ABI requires a host's log callback to accept calls from any plug-in thread; calls
// are serialised by the mutex around the target.
unsafe impl Send for LogTarget {}

/// Forwards log records to the host's callback while the operation runs.
struct HostLogger {
    target: Arc<Mutex<Option<LogTarget>>>,
}

impl Logger for HostLogger {
    fn log(&self, record: LogRecord) {
        let Ok(json) = serde_json::to_vec(&record) else {
            return;
        };
        let target = self
            .target
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(t) = target.as_ref() {
            // SAFETY: the target is only present while the operation's entry point runs, during
            // which the host guarantees `user_data` is valid; the bytes are borrowed for the call.
            unsafe { (t.log)(t.user_data, json.as_ptr(), json.len()) };
        }
    }
}

/// The host's sink callback as a [`ChangeSink`].
struct HostSink {
    sink: SinkFn,
    sink_data: *mut c_void,
    buffer: Vec<u8>,
}

// SAFETY: the sink is only used by the import future, which runs on the thread that called
// `connector_import` (`block_on`), during that call.
unsafe impl Send for HostSink {}

#[async_trait]
impl ChangeSink for HostSink {
    async fn send(&mut self, changes: Vec<Change>) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        self.buffer.clear();
        batch::encode(&changes, &mut self.buffer);
        self.deliver(&self.buffer)
    }

    /// Hands the connector's JSON lines to the host as they are (no decoding and encoding
    /// again); the host refuses a malformed batch.
    async fn send_encoded(&mut self, batch: Vec<u8>) -> Result<()> {
        if batch.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.deliver(&batch)
    }
}

impl HostSink {
    /// Calls the host's sink with `bytes`.
    fn deliver(&self, bytes: &[u8]) -> Result<()> {
        // SAFETY: the host guarantees `sink` and `sink_data` are valid during `connector_import`;
        // the bytes are borrowed for the call only.
        let code = unsafe { (self.sink)(self.sink_data, bytes.as_ptr(), bytes.len()) };
        if code == SINK_CONTINUE {
            Ok(())
        } else {
            Err(ConnectorError::cancelled(
                "the host stopped the import (its sink refused a batch, or the run was cancelled)",
            ))
        }
    }
}

/// `connector_descriptor`.
///
/// # Safety
/// `out` must be null or valid for writing.
pub unsafe fn descriptor(factory: FactoryFn, out: *mut ConnectorBuffer) -> i32 {
    // SAFETY: forwarded.
    unsafe {
        entry(out, "descriptor", || {
            to_json(&factory().descriptor(), "descriptor")
        })
    }
}

/// `connector_create`.
///
/// # Safety
/// The byte arguments must be valid for their lengths; `out_instance` and `out` must be null or
/// writable.
pub unsafe fn create(
    factory: FactoryFn,
    config: *const u8,
    config_len: usize,
    auth: *const u8,
    auth_len: usize,
    out_instance: *mut *mut ConnectorInstance,
    out: *mut ConnectorBuffer,
) -> i32 {
    if out_instance.is_null() {
        return STATUS_INVALID_ARGUMENT;
    }
    // SAFETY: non-null and writable per the caller's contract.
    unsafe { out_instance.write(ptr::null_mut()) };
    let body = || {
        // SAFETY: forwarded from the caller.
        let config = unsafe { arg_bytes(config, config_len, "config") }?;
        // SAFETY: forwarded from the caller.
        let auth = unsafe { arg_bytes(auth, auth_len, "auth") }?;
        let config: serde_json::Value = if config.is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_slice(config).map_err(|e| {
                ConnectorError::invalid_config(format!("the configuration is not valid JSON: {e}"))
            })?
        };
        let auth = match String::from_utf8(auth.to_vec()) {
            Ok(text) => SecretString::from(text),
            Err(e) => {
                e.into_bytes().zeroize();
                return Err(ConnectorError::invalid_config(
                    "the authentication settings are not valid UTF-8",
                ));
            }
        };
        let settings = Settings::new(config, auth);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name("connector-worker")
            .enable_all()
            .build()
            .map_err(|e| {
                ConnectorError::internal(format!("starting the connector's runtime: {e}"))
            })?;
        let connector = {
            let _entered = runtime.enter();
            factory().create(settings)
        };
        let connector = match connector {
            Ok(connector) => connector,
            Err(e) => {
                runtime.shutdown_background();
                return Err(e);
            }
        };
        let instance = Box::new(Instance {
            connector: ManuallyDrop::new(Arc::from(connector)),
            runtime: ManuallyDrop::new(runtime),
        });
        // SAFETY: `out_instance` is non-null and writable (checked above).
        unsafe { out_instance.write(Box::into_raw(instance).cast()) };
        Ok(Vec::new())
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "create", body) }
}

/// `connector_destroy`.
///
/// # Safety
/// `instance` must be null or a pointer from `connector_create` with no running operation, not
/// used afterwards.
pub unsafe fn destroy(instance: *mut ConnectorInstance) {
    if instance.is_null() {
        return;
    }
    // SAFETY: per the caller's contract, we own the box now.
    let instance = unsafe { Box::from_raw(instance.cast::<Instance>()) };
    // A panic in a connector's destructor must not unwind into the host; there is nobody left
    // to report it to.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(instance)));
}

/// `connector_check`.
///
/// # Safety
/// `instance` live, `ctx` null or valid during the call, `out` null or writable.
pub unsafe fn check(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    out: *mut ConnectorBuffer,
) -> i32 {
    let body = || {
        // SAFETY: forwarded.
        let instance = unsafe { instance_ref(instance) }?;
        // SAFETY: forwarded.
        let op = unsafe { Operation::new(ctx) };
        let connector = &**instance.connector;
        let report = instance.block_on("check", connector.check(&op.ctx))?;
        to_json(&report, "check report")
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "check", body) }
}

/// `connector_import`.
///
/// # Safety
/// `instance` live, `ctx` null or valid during the call, `request` valid for `request_len`,
/// `sink`/`sink_data` valid during the call, `out` null or writable.
pub unsafe fn import(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    request: *const u8,
    request_len: usize,
    sink: Option<SinkFn>,
    sink_data: *mut c_void,
    out: *mut ConnectorBuffer,
) -> i32 {
    let body = || {
        // SAFETY: forwarded.
        let instance = unsafe { instance_ref(instance) }?;
        // SAFETY: forwarded.
        let request = unsafe { arg_bytes(request, request_len, "import request") }?;
        let request: ImportRequest = serde_json::from_slice(request).map_err(|e| {
            ConnectorError::internal(format!("the host's import request is not valid: {e}"))
        })?;
        let sink = sink.ok_or_else(|| ConnectorError::internal("the sink callback is null"))?;
        let mut sink = HostSink {
            sink,
            sink_data,
            buffer: Vec::new(),
        };
        // SAFETY: forwarded.
        let op = unsafe { Operation::new(ctx) };
        let connector = &**instance.connector;
        let outcome = instance.block_on("import", connector.import(&op.ctx, request, &mut sink))?;
        to_json(&outcome, "import outcome")
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "import", body) }
}

/// `connector_export`: the legacy form of `connector_export_changes` — every change gets its
/// line number as key, no dry run, and success only if every change was applied or unchanged.
///
/// # Safety
/// As [`import`], with `batch` valid for `batch_len`.
pub unsafe fn export(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    batch_ptr: *const u8,
    batch_len: usize,
    out: *mut ConnectorBuffer,
) -> i32 {
    let body = || {
        // SAFETY: forwarded.
        let instance = unsafe { instance_ref(instance) }?;
        // SAFETY: forwarded.
        let bytes = unsafe { arg_bytes(batch_ptr, batch_len, "export batch") }?;
        let request = ExportRequest::numbered(batch::decode(bytes)?);
        // SAFETY: forwarded.
        let op = unsafe { Operation::new(ctx) };
        let report = run_export(instance, &op, request)?;
        match report.outcomes.iter().find(|o| !o.status.is_success()) {
            None => Ok(Vec::new()),
            Some(o) => Err(match &o.status {
                ExportStatus::Failed { error } => {
                    error.clone().context(format!("export: change {}", o.key))
                }
                other => ConnectorError::internal(format!(
                    "export: change {} was not applied: {other}",
                    o.key
                )),
            }),
        }
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "export", body) }
}

/// A borrowed byte argument of an entry point: pointer and length.
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    ptr: *const u8,
    len: usize,
}

impl Bytes {
    /// Wraps a pointer and length exactly as the host passed them (checked when read).
    pub fn new(ptr: *const u8, len: usize) -> Self {
        Self { ptr, len }
    }

    /// # Safety
    /// See [`arg_bytes`].
    unsafe fn read<'a>(self, what: &str) -> Result<&'a [u8]> {
        // SAFETY: forwarded.
        unsafe { arg_bytes(self.ptr, self.len, what) }
    }
}

/// Runs the connector's export and checks its report answers the request.
fn run_export(instance: &Instance, op: &Operation, request: ExportRequest) -> Result<ExportReport> {
    let keys = request.clone();
    let connector = &**instance.connector;
    let report = instance.block_on("export", connector.export(&op.ctx, request))?;
    report
        .matches(&keys)
        .map_err(|e| e.context("the connector's export report is inconsistent"))?;
    Ok(report)
}

/// `connector_export_changes`.
///
/// # Safety
/// As [`import`], with `options` and `batch` valid for their lengths.
pub unsafe fn export_changes(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    options: Bytes,
    batch_bytes: Bytes,
    out: *mut ConnectorBuffer,
) -> i32 {
    let body = || {
        // SAFETY: forwarded.
        let instance = unsafe { instance_ref(instance) }?;
        // SAFETY: forwarded.
        let options = unsafe { options.read("export options") }?;
        let options: ExportOptions = if options.is_empty() {
            ExportOptions::default()
        } else {
            serde_json::from_slice(options).map_err(|e| {
                ConnectorError::internal(format!("the host's export options are not valid: {e}"))
            })?
        };
        // SAFETY: forwarded.
        let changes = batch::decode_export(unsafe { batch_bytes.read("export batch") }?)?;
        let request = ExportRequest::new(changes).with_dry_run(options.dry_run);
        // SAFETY: forwarded.
        let op = unsafe { Operation::new(ctx) };
        let report = run_export(instance, &op, request)?;
        let mut bytes = Vec::new();
        batch::encode_outcomes(&report.outcomes, &mut bytes);
        Ok(bytes)
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "export", body) }
}

/// `connector_validate_watermark`.
///
/// # Safety
/// `instance` live, `watermark` valid for `watermark_len`, `out` null or writable.
pub unsafe fn validate_watermark(
    instance: *const ConnectorInstance,
    watermark: *const u8,
    watermark_len: usize,
    out: *mut ConnectorBuffer,
) -> i32 {
    let body = || {
        // SAFETY: forwarded.
        let instance = unsafe { instance_ref(instance) }?;
        // SAFETY: forwarded.
        let bytes = unsafe { arg_bytes(watermark, watermark_len, "watermark") }?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ConnectorError::invalid_watermark("the watermark is not valid UTF-8"))?;
        let _entered = instance.runtime.enter();
        instance
            .connector
            .validate_watermark(&Watermark::new(text))?;
        Ok(Vec::new())
    };
    // SAFETY: forwarded.
    unsafe { entry(out, "validate_watermark", body) }
}

/// `connector_cancel_new`.
pub fn cancel_new() -> *mut ConnectorCancel {
    catch_unwind(|| Box::into_raw(Box::new(CancellationToken::new())).cast())
        .unwrap_or(ptr::null_mut())
}

/// `connector_cancel`.
///
/// # Safety
/// `cancel` must be null or a live handle from `connector_cancel_new`.
pub unsafe fn cancel(cancel: *const ConnectorCancel) {
    if cancel.is_null() {
        return;
    }
    // SAFETY: a live `Box<CancellationToken>` per the caller's contract.
    let token = unsafe { &*cancel.cast::<CancellationToken>() };
    let _ = catch_unwind(AssertUnwindSafe(|| token.cancel()));
}

/// `connector_cancel_free`.
///
/// # Safety
/// `cancel` must be null or a handle from `connector_cancel_new` that no running operation uses,
/// not used afterwards.
pub unsafe fn cancel_free(cancel: *mut ConnectorCancel) {
    if cancel.is_null() {
        return;
    }
    // SAFETY: we own the box per the caller's contract.
    let token = unsafe { Box::from_raw(cancel.cast::<CancellationToken>()) };
    let _ = catch_unwind(AssertUnwindSafe(move || drop(token)));
}

/// `connector_buffer_free`.
///
/// # Safety
/// `buffer` must be empty or returned by this plug-in and not freed before.
pub unsafe fn buffer_free(buffer: ConnectorBuffer) {
    if buffer.ptr.is_null() || buffer.cap == 0 {
        return;
    }
    // SAFETY: the buffer was made by `into_buffer` from a `Vec<u8>` with these raw parts.
    drop(unsafe { Vec::from_raw_parts(buffer.ptr, buffer.len, buffer.cap) });
}
