//! The host side of the C ABI (feature `loader`): load a connector `cdylib` as a
//! [`ConnectorFactory`].
//!
//! ```no_run
//! use connector_api::ConnectorFactory;
//! use connector_api::abi::loader::{PluginFactory, locate_library};
//!
//! let path = locate_library("okta_connector").expect("built with cargo build");
//! let factory = PluginFactory::load(&path)?;
//! println!("loaded {} {}", factory.descriptor().name, factory.descriptor().version);
//! # Ok::<(), connector_api::ConnectorError>(())
//! ```
//!
//! # How the boundary is bridged
//!
//! * Blocking plug-in calls (`check`, `import`, `export`) run on tokio's blocking pool
//!   (`spawn_blocking`), so the host's async workers never block: call them from within a
//!   tokio runtime (multi-thread or current-thread). `create` and `validate_watermark` call
//!   the plug-in directly; they are quick.
//! * Import batches are copied on that blocking thread and handed, as the JSON lines they are,
//!   to the host's async [`ChangeSink::send_encoded`] through a bounded channel (whose default
//!   decodes them and calls `send`); the plug-in's sink callback returns only after the sink
//!   accepted the batch (or failed, which stops the plug-in). The sink's own error, a malformed
//!   batch's included, is what `import` returns in that case.
//! * The operation's [`Context`] cancellation is watched while the call runs and forwarded with
//!   `connector_cancel`; dropping the import future cancels the plug-in's operation too.
//! * Log records arrive through a callback and go to the context's [`Logger`].
//!
//! # Unloading
//!
//! Libraries are never unloaded. On Unix they are opened with `RTLD_NODELETE`, so even
//! `dlclose` keeps the code mapped: threads a plug-in leaves behind (a runtime worker still
//! shutting down, a thread-local destructor) can never run unmapped code. In addition every
//! instance and every in-flight call keeps the library's handle alive through an `Arc`.

use std::ffi::c_void;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};

use super::{
    ABI_VERSION, AbiVersionFn, BufferFreeFn, CancelFn, CancelFreeFn, CancelNewFn, CheckFn,
    ConnectorBuffer, ConnectorCallContext, ConnectorCancel, ConnectorInstance, CreateFn,
    DescriptorFn, DestroyFn, ExportChangesFn, ImportFn, SINK_CONTINUE, SINK_STOP, STATUS_ERROR,
    STATUS_OK, ValidateWatermarkFn, batch, borrow_bytes, panic_message, symbols,
};
use crate::connector::{ChangeSink, Connector, ConnectorFactory};
use crate::context::{Context, Level, LogRecord, Logger, Settings};
use crate::error::{ConnectorError, Result};
use crate::export::{ExportOptions, ExportReport, ExportRequest};
use crate::model::{CheckReport, Descriptor, ImportOutcome, ImportRequest, Watermark};

/// Finds the `cdylib` of connector crate `crate_name` near the running executable.
///
/// `crate_name` may use `-` or `_` (`okta-connector` and `okta_connector` are the same); the
/// file name follows the platform (`libokta_connector.so`, `libokta_connector.dylib`,
/// `okta_connector.dll`). Looked for, in order: next to the executable, in its `deps/`
/// subdirectory, and in its parent directory. That covers a workspace build
/// (`target/<profile>/`), a dependency's `cdylib` (`target/<profile>/deps/`) and test binaries
/// (which live in `target/<profile>/deps/`).
pub fn locate_library(crate_name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let file = library_file_name(crate_name);
    let mut candidates = vec![dir.join(&file), dir.join("deps").join(&file)];
    if let Some(parent) = dir.parent() {
        candidates.push(parent.join(&file));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// The platform's file name for the `cdylib` of crate `crate_name`, e.g. `libfoo_bar.so`.
pub fn library_file_name(crate_name: &str) -> String {
    format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        crate_name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// The entry points of one loaded library. Lives as long as anything of the library can run.
struct Api {
    path: PathBuf,
    abi_version: u32,
    descriptor: DescriptorFn,
    create: CreateFn,
    destroy: DestroyFn,
    check: CheckFn,
    import: ImportFn,
    /// `None` for plug-ins built against connector-api 0.x (see `docs/abi.md`).
    export_changes: Option<ExportChangesFn>,
    validate_watermark: ValidateWatermarkFn,
    cancel_new: CancelNewFn,
    cancel: CancelFn,
    cancel_free: CancelFreeFn,
    buffer_free: BufferFreeFn,
    // Kept so the handle stays open; see the module docs on unloading.
    _library: libloading::Library,
}

impl Api {
    fn load(path: &Path) -> Result<Api> {
        let library = open_existing(path)?;
        let shown = path.display().to_string();
        let missing = |name: &str, e: libloading::Error| not_a_plugin(&shown, name, &e);
        let abi_version = abi_version_of(&library, &shown)?;
        macro_rules! resolve {
            ($name:expr, $ty:ty) => {
                // SAFETY: the library declared ABI version `ABI_VERSION`, in which this symbol
                // has exactly this signature (see `docs/abi.md`).
                unsafe { library.get::<$ty>($name) }
                    .map(|s| *s)
                    .map_err(|e| missing($name, e))?
            };
        }
        Ok(Api {
            path: path.to_path_buf(),
            abi_version,
            descriptor: resolve!(symbols::DESCRIPTOR, DescriptorFn),
            create: resolve!(symbols::CREATE, CreateFn),
            destroy: resolve!(symbols::DESTROY, DestroyFn),
            check: resolve!(symbols::CHECK, CheckFn),
            import: resolve!(symbols::IMPORT, ImportFn),
            // SAFETY: as for `resolve!`; the symbol is optional within ABI version 1.
            export_changes: unsafe { library.get::<ExportChangesFn>(symbols::EXPORT_CHANGES) }
                .ok()
                .map(|s| *s),
            validate_watermark: resolve!(symbols::VALIDATE_WATERMARK, ValidateWatermarkFn),
            cancel_new: resolve!(symbols::CANCEL_NEW, CancelNewFn),
            cancel: resolve!(symbols::CANCEL, CancelFn),
            cancel_free: resolve!(symbols::CANCEL_FREE, CancelFreeFn),
            buffer_free: resolve!(symbols::BUFFER_FREE, BufferFreeFn),
            _library: library,
        })
    }

    /// Calls an entry point that fills an out-buffer; copies the payload and frees the buffer.
    fn call(&self, what: &str, f: impl FnOnce(*mut ConnectorBuffer) -> i32) -> Result<Vec<u8>> {
        let mut out = ConnectorBuffer::empty();
        let status = f(&mut out);
        // SAFETY: the plug-in filled `out` with a buffer it allocated (or left it empty).
        let bytes = unsafe { borrow_bytes(out.ptr, out.len) }
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        // SAFETY: returned unchanged, exactly once.
        unsafe { (self.buffer_free)(out) };
        match status {
            STATUS_OK => Ok(bytes),
            STATUS_ERROR => Err(decode_error(what, &bytes)),
            other => Err(ConnectorError::internal(format!(
                "connector {what} returned unexpected status {other}"
            ))),
        }
    }
}

/// Opens the library at `path`, which must exist.
fn open_existing(path: &Path) -> Result<libloading::Library> {
    let shown = path.display();
    if !path.exists() {
        return Err(
            ConnectorError::not_found(format!("connector library {shown} does not exist"))
                .with_remediation(
                    "Build the connector (cargo build --release) and check the configured path",
                ),
        );
    }
    open(path).map_err(|e| {
        ConnectorError::invalid_config(format!(
            "connector library {shown} could not be loaded: {e}"
        ))
        .with_remediation(
            "Point the host at a connector cdylib built for this platform (lib<name>.so)",
        )
    })
}

fn not_a_plugin(shown: &str, name: &str, e: &libloading::Error) -> ConnectorError {
    ConnectorError::invalid_config(format!(
        "{shown} is not a connector plug-in: it does not export `{name}` ({e})"
    ))
    .with_remediation(
        "Build the connector as a cdylib that invokes connector_api::export_connector!",
    )
}

/// Resolves and calls `connector_abi_version`, before anything else is looked up or called,
/// and refuses any version but [`ABI_VERSION`].
fn abi_version_of(library: &libloading::Library, shown: &str) -> Result<u32> {
    // SAFETY: `connector_abi_version` is declared by every ABI version as `uint32_t(void)`.
    let abi_version: AbiVersionFn = unsafe { library.get::<AbiVersionFn>(symbols::ABI_VERSION) }
        .map(|s| *s)
        .map_err(|e| not_a_plugin(shown, symbols::ABI_VERSION, &e))?;
    // SAFETY: as above; the function takes no arguments and has no preconditions.
    let abi_version = unsafe { abi_version() };
    if abi_version != ABI_VERSION {
        return Err(ConnectorError::invalid_config(format!(
            "connector library {shown} implements connector ABI version {abi_version}, \
             but this host supports ABI version {ABI_VERSION}"
        ))
        .with_remediation(format!(
            "Rebuild the connector against a connector-api release with ABI version {ABI_VERSION}, \
             or use a host that supports ABI version {abi_version}"
        )));
    }
    Ok(abi_version)
}

/// Decodes a plug-in's error JSON. An error of a kind this host does not know (a newer
/// plug-in) keeps its message and hint and becomes [`ErrorKind::Internal`](crate::ErrorKind).
fn decode_error(what: &str, bytes: &[u8]) -> ConnectorError {
    if let Ok(error) = serde_json::from_slice::<ConnectorError>(bytes) {
        return error;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    match (text("kind"), text("message")) {
        (Some(kind), Some(message)) => {
            let error = ConnectorError::internal(format!("{message} (error kind `{kind}`)"));
            match text("remediation") {
                Some(hint) => error.with_remediation(hint),
                None => error,
            }
        }
        _ => ConnectorError::internal(format!(
            "connector {what} failed with an unreadable error: {}",
            String::from_utf8_lossy(bytes)
        )),
    }
}

#[cfg(unix)]
fn open(path: &Path) -> std::result::Result<libloading::Library, libloading::Error> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    // SAFETY: loading runs the library's initialisers; connector libraries are trusted code the
    // operator configured, and Rust cdylibs have no initialisers of their own.
    unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL | libc::RTLD_NODELETE) }
        .map(Into::into)
}

#[cfg(not(unix))]
fn open(path: &Path) -> std::result::Result<libloading::Library, libloading::Error> {
    // SAFETY: as above.
    let library = unsafe { libloading::Library::new(path) }?;
    // Without RTLD_NODELETE, one reference is leaked instead: the library's count never drops to
    // zero, so it is never unloaded either.
    // SAFETY: re-opening an already loaded library only bumps its reference count.
    std::mem::forget(unsafe { libloading::Library::new(path) }?);
    Ok(library)
}

/// A connector loaded from a `cdylib`, usable wherever a linked-in [`ConnectorFactory`] is.
///
/// Loading checks the ABI version first and reads the descriptor once. Instances created from
/// it (and their in-flight calls) keep the library loaded; it is never unloaded.
pub struct PluginFactory {
    api: Arc<Api>,
    descriptor: Descriptor,
}

impl PluginFactory {
    /// Loads the connector library at `path`.
    ///
    /// # Errors
    /// * [`ErrorKind::NotFound`](crate::ErrorKind) if the file does not exist;
    /// * [`ErrorKind::InvalidConfig`](crate::ErrorKind) if it cannot be loaded, is not a connector
    ///   plug-in (a symbol is missing), or implements a different ABI version (the message names
    ///   both versions);
    /// * the plug-in's own error if its descriptor cannot be produced.
    pub fn load(path: &Path) -> Result<PluginFactory> {
        let api = Arc::new(Api::load(path)?);
        let bytes = api.call("descriptor", |out| {
            // SAFETY: `out` is a valid, writable buffer.
            unsafe { (api.descriptor)(out) }
        })?;
        let descriptor = serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::protocol(format!(
                "connector library {} returned an unreadable descriptor: {e}",
                path.display()
            ))
        })?;
        Ok(PluginFactory { api, descriptor })
    }

    /// The path the library was loaded from.
    pub fn path(&self) -> &Path {
        &self.api.path
    }

    /// The ABI version the library reported (always [`ABI_VERSION`] once loaded).
    pub fn abi_version(&self) -> u32 {
        self.api.abi_version
    }
}

impl fmt::Debug for PluginFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginFactory")
            .field("path", &self.api.path)
            .field("name", &self.descriptor.name)
            .field("version", &self.descriptor.version)
            .finish()
    }
}

impl ConnectorFactory for PluginFactory {
    fn descriptor(&self) -> Descriptor {
        self.descriptor.clone()
    }

    fn create(&self, settings: Settings) -> Result<Box<dyn Connector>> {
        let config = serde_json::to_vec(&settings.config).map_err(|e| {
            ConnectorError::invalid_config(format!("the configuration cannot be serialised: {e}"))
        })?;
        // Borrowed, not copied: the plug-in makes (and zeroises) its own copy.
        let auth = settings.auth.expose_secret().as_bytes();
        let mut instance: *mut ConnectorInstance = ptr::null_mut();
        self.api.call("create", |out| {
            // SAFETY: both byte slices are valid during the call; the out pointers are writable.
            unsafe {
                (self.api.create)(
                    config.as_ptr(),
                    config.len(),
                    auth.as_ptr(),
                    auth.len(),
                    &mut instance,
                    out,
                )
            }
        })?;
        let instance = NonNull::new(instance).ok_or_else(|| {
            ConnectorError::internal("connector create reported success without an instance")
        })?;
        Ok(Box::new(PluginConnector {
            instance: Arc::new(Instance {
                api: Arc::clone(&self.api),
                ptr: instance,
            }),
            descriptor: self.descriptor.clone(),
        }))
    }
}

/// One plug-in instance; destroyed when the last connector handle and in-flight call let go.
struct Instance {
    api: Arc<Api>,
    ptr: NonNull<ConnectorInstance>,
}

// SAFETY: the ABI requires instances to be usable from any thread, concurrently (the Rust
// plug-in side holds a `Send + Sync` connector and runtime).
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: no operation is running (each holds an `Arc<Instance>`), and the pointer is
        // never used again.
        unsafe { (self.api.destroy)(self.ptr.as_ptr()) };
    }
}

/// A plug-in cancellation handle, freed when the operation and its watcher are done.
struct CancelHandle {
    api: Arc<Api>,
    ptr: NonNull<ConnectorCancel>,
}

// SAFETY: `connector_cancel` is thread-safe by the ABI; freeing happens once, in `Drop`.
unsafe impl Send for CancelHandle {}
// SAFETY: as above.
unsafe impl Sync for CancelHandle {}

impl CancelHandle {
    fn new(api: &Arc<Api>) -> Result<Arc<CancelHandle>> {
        // SAFETY: no preconditions.
        let ptr = unsafe { (api.cancel_new)() };
        let ptr = NonNull::new(ptr).ok_or_else(|| {
            ConnectorError::internal("the plug-in could not create a cancellation handle")
        })?;
        Ok(Arc::new(CancelHandle {
            api: Arc::clone(api),
            ptr,
        }))
    }

    fn cancel(&self) {
        // SAFETY: the handle is live until `Drop`.
        unsafe { (self.api.cancel)(self.ptr.as_ptr()) };
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        // SAFETY: the last reference is gone, so no operation uses the handle any more.
        unsafe { (self.api.cancel_free)(self.ptr.as_ptr()) };
    }
}

/// Cancels the plug-in's operation if the host drops the operation's future before it ends.
struct CancelOnDrop(Option<Arc<CancelHandle>>);

impl CancelOnDrop {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
}

/// What a blocking plug-in call needs to build its [`ConnectorCallContext`].
struct CallEnv {
    logger: Arc<dyn Logger>,
    cancel: Arc<CancelHandle>,
}

impl CallEnv {
    /// The C context; valid while `self` is.
    fn raw(&self) -> ConnectorCallContext {
        ConnectorCallContext {
            user_data: ptr::from_ref(&self.logger).cast_mut().cast(),
            log: Some(host_log),
            cancel: self.cancel.ptr.as_ptr(),
        }
    }
}

/// The host's log callback: `user_data` is the `Arc<dyn Logger>` of a [`CallEnv`].
unsafe extern "C" fn host_log(user_data: *mut c_void, record: *const u8, len: usize) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `CallEnv::raw` passes a pointer to its `Arc<dyn Logger>`, alive during the call.
        let logger = unsafe { &*user_data.cast::<Arc<dyn Logger>>() };
        // SAFETY: the plug-in lends `len` bytes for the duration of the call.
        let Some(bytes) = (unsafe { borrow_bytes(record, len) }) else {
            return;
        };
        match serde_json::from_slice::<LogRecord>(bytes) {
            Ok(record) => logger.log(record),
            Err(e) => logger.log(
                LogRecord::new(
                    Level::Warn,
                    "plugin_log_unreadable",
                    format!("the plug-in sent a log record that is not valid JSON: {e}"),
                )
                .field("bytes", len),
            ),
        }
    }));
}

/// One batch (the plug-in's JSON lines, copied) on its way to the async sink, with the channel
/// to acknowledge it on. The sink decodes it ([`ChangeSink::send_encoded`]).
struct Delivery {
    batch: Vec<u8>,
    accepted: oneshot::Sender<bool>,
}

/// The state behind the host's sink callback during one import.
struct SinkBridge {
    deliveries: mpsc::Sender<Delivery>,
}

impl SinkBridge {
    fn deliver(&self, bytes: &[u8]) -> i32 {
        let (accepted, answer) = oneshot::channel();
        let batch = bytes.to_vec();
        if self
            .deliveries
            .blocking_send(Delivery { batch, accepted })
            .is_err()
        {
            return SINK_STOP;
        }
        match answer.blocking_recv() {
            Ok(true) => SINK_CONTINUE,
            _ => SINK_STOP,
        }
    }
}

/// The host's sink callback: `sink_data` is the import's [`SinkBridge`].
unsafe extern "C" fn host_sink(sink_data: *mut c_void, batch: *const u8, len: usize) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `connector_import` receives a pointer to a `SinkBridge` alive during the call.
        let bridge = unsafe { &*sink_data.cast::<SinkBridge>() };
        // SAFETY: the plug-in lends `len` bytes for the duration of the call.
        match unsafe { borrow_bytes(batch, len) } {
            Some(bytes) => bridge.deliver(bytes),
            None => SINK_STOP,
        }
    }))
    .unwrap_or(SINK_STOP)
}

/// A connector instance living in a plug-in.
struct PluginConnector {
    instance: Arc<Instance>,
    descriptor: Descriptor,
}

impl fmt::Debug for PluginConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginConnector")
            .field("name", &self.descriptor.name)
            .field("path", &self.instance.api.path)
            .finish()
    }
}

impl PluginConnector {
    /// Runs a blocking plug-in call on the blocking pool, forwarding cancellation meanwhile.
    async fn run_blocking(
        &self,
        ctx: &Context,
        what: &'static str,
        call: impl FnOnce(&Instance, &ConnectorCallContext, *mut ConnectorBuffer) -> i32
        + Send
        + 'static,
    ) -> Result<Vec<u8>> {
        let cancel = CancelHandle::new(&self.instance.api)?;
        let mut on_drop = CancelOnDrop(Some(Arc::clone(&cancel)));
        let env = CallEnv {
            logger: Arc::clone(ctx.logger()),
            cancel: Arc::clone(&cancel),
        };
        if ctx.is_cancelled() {
            cancel.cancel();
        }
        let instance = Arc::clone(&self.instance);
        let mut task = tokio::task::spawn_blocking(move || {
            let raw = env.raw();
            instance.api.call(what, |out| call(&instance, &raw, out))
        });
        let mut forwarded = ctx.is_cancelled();
        let result = loop {
            tokio::select! {
                joined = &mut task => break joined,
                () = ctx.cancellation().cancelled(), if !forwarded => {
                    forwarded = true;
                    cancel.cancel();
                }
            }
        };
        on_drop.disarm();
        result.map_err(|e| joined_error(what, e))?
    }
}

/// Hands the batches a running import delivers to the host's `sink` until the plug-in call
/// returns, forwarding the context's cancellation meanwhile. Returns the joined call and the
/// sink's error, if it refused a batch.
async fn pump<T>(
    ctx: &Context,
    sink: &mut dyn ChangeSink,
    cancel: &CancelHandle,
    incoming: &mut mpsc::Receiver<Delivery>,
    task: &mut tokio::task::JoinHandle<T>,
) -> (
    std::result::Result<T, tokio::task::JoinError>,
    Option<ConnectorError>,
) {
    let mut sink_error: Option<ConnectorError> = None;
    let mut forwarded = ctx.is_cancelled();
    let mut receiving = true;
    let joined = loop {
        tokio::select! {
            delivery = incoming.recv(), if receiving => {
                let Some(Delivery { batch, accepted }) = delivery else {
                    // The plug-in call returned; only the join is left.
                    receiving = false;
                    continue;
                };
                let ok = if sink_error.is_some() || ctx.is_cancelled() {
                    false
                } else {
                    match sink.send_encoded(batch).await {
                        Ok(()) => true,
                        Err(e) => {
                            sink_error = Some(e);
                            false
                        }
                    }
                };
                // A sink may cancel the run while storing a batch: tell the plug-in before
                // it resumes, so it stops at once.
                if ctx.is_cancelled() && !forwarded {
                    forwarded = true;
                    cancel.cancel();
                }
                let _ = accepted.send(ok);
            }
            joined = &mut *task => break joined,
            () = ctx.cancellation().cancelled(), if !forwarded => {
                forwarded = true;
                cancel.cancel();
            }
        }
    };
    (joined, sink_error)
}

fn joined_error(what: &str, e: tokio::task::JoinError) -> ConnectorError {
    if e.is_panic() {
        let message = panic_message(&*e.into_panic());
        ConnectorError::internal(format!("the host's {what} bridge panicked: {message}"))
    } else {
        ConnectorError::internal(format!("the host's {what} bridge was stopped: {e}"))
    }
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ConnectorError::protocol(format!("the plug-in returned an unreadable {what}: {e}"))
    })
}

#[async_trait]
impl Connector for PluginConnector {
    fn descriptor(&self) -> Descriptor {
        self.descriptor.clone()
    }

    async fn check(&self, ctx: &Context) -> Result<CheckReport> {
        let bytes = self
            .run_blocking(ctx, "check", |instance, raw, out| {
                // SAFETY: live instance; context and out buffer valid during the call.
                unsafe { (instance.api.check)(instance.ptr.as_ptr(), raw, out) }
            })
            .await?;
        parse(&bytes, "check report")
    }

    async fn import(
        &self,
        ctx: &Context,
        request: ImportRequest,
        sink: &mut dyn ChangeSink,
    ) -> Result<ImportOutcome> {
        let request = serde_json::to_vec(&request)
            .map_err(|e| ConnectorError::internal(format!("serialising the request: {e}")))?;
        let cancel = CancelHandle::new(&self.instance.api)?;
        let mut on_drop = CancelOnDrop(Some(Arc::clone(&cancel)));
        if ctx.is_cancelled() {
            cancel.cancel();
        }
        let env = CallEnv {
            logger: Arc::clone(ctx.logger()),
            cancel: Arc::clone(&cancel),
        };
        let (deliveries, mut incoming) = mpsc::channel::<Delivery>(1);
        let bridge = SinkBridge { deliveries };
        let instance = Arc::clone(&self.instance);
        let mut task = tokio::task::spawn_blocking(move || {
            let raw = env.raw();
            instance.api.call("import", |out| {
                // SAFETY: live instance; context, request, bridge and out buffer are valid
                // during the call, and `host_sink` matches `SinkFn`.
                unsafe {
                    (instance.api.import)(
                        instance.ptr.as_ptr(),
                        &raw,
                        request.as_ptr(),
                        request.len(),
                        Some(host_sink),
                        ptr::from_ref(&bridge).cast_mut().cast(),
                        out,
                    )
                }
            })
        });

        let (joined, sink_error) = pump(ctx, sink, &cancel, &mut incoming, &mut task).await;
        on_drop.disarm();
        let result = joined.map_err(|e| joined_error("import", e))?;
        if let Some(e) = sink_error {
            return Err(e);
        }
        let bytes = result?;
        parse(&bytes, "import outcome")
    }

    fn validate_watermark(&self, watermark: &Watermark) -> Result<()> {
        let text = watermark.as_str().as_bytes();
        self.instance.api.call("validate_watermark", |out| {
            // SAFETY: live instance; the watermark bytes and out buffer are valid during the call.
            unsafe {
                (self.instance.api.validate_watermark)(
                    self.instance.ptr.as_ptr(),
                    text.as_ptr(),
                    text.len(),
                    out,
                )
            }
        })?;
        Ok(())
    }

    async fn export(&self, ctx: &Context, request: ExportRequest) -> Result<ExportReport> {
        let Some(export_changes) = self.instance.api.export_changes else {
            return Err(ConnectorError::not_supported(format!(
                "export not supported by this plug-in (built against connector-api 0.x): {} \
                 does not export `{}`",
                self.instance.api.path.display(),
                symbols::EXPORT_CHANGES
            ))
            .with_remediation("Rebuild the connector against connector-api 1.0 or later"));
        };
        let options = serde_json::to_vec(&ExportOptions::new(request.dry_run))
            .map_err(|e| ConnectorError::internal(format!("serialising export options: {e}")))?;
        let mut bytes = Vec::new();
        batch::encode_export(&request.changes, &mut bytes);
        let answer = self
            .run_blocking(ctx, "export", move |instance, raw, out| {
                // SAFETY: live instance; context, options, batch and out buffer are valid during
                // the call, and the symbol has the `ExportChangesFn` signature in ABI 1.
                unsafe {
                    export_changes(
                        instance.ptr.as_ptr(),
                        raw,
                        options.as_ptr(),
                        options.len(),
                        bytes.as_ptr(),
                        bytes.len(),
                        out,
                    )
                }
            })
            .await?;
        let report = ExportReport::new(batch::decode_outcomes(&answer)?);
        report
            .matches(&request)
            .map_err(|e| e.context("the plug-in's export report"))?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn file_names_follow_the_platform() {
        let name = library_file_name("okta-connector");
        assert!(name.contains("okta_connector"), "{name}");
        assert!(name.ends_with(std::env::consts::DLL_SUFFIX));
    }

    #[test]
    fn plugin_errors_decode_even_with_unknown_kinds() {
        let known = decode_error(
            "import",
            br#"{"kind":"rate_limited","message":"slow down"}"#,
        );
        assert_eq!(known.kind(), ErrorKind::RateLimited);
        // 1.1's kind: known here; a 1.0 host reads it like `quota_exceeded` below.
        let expired = decode_error(
            "import",
            br#"{"kind":"watermark_expired","message":"too old","remediation":"run full"}"#,
        );
        assert_eq!(expired.kind(), ErrorKind::WatermarkExpired);
        assert_eq!(expired.remediation(), Some("run full"));
        let newer = decode_error(
            "import",
            br#"{"kind":"quota_exceeded","message":"out of quota","remediation":"buy more"}"#,
        );
        assert_eq!(newer.kind(), ErrorKind::Internal);
        assert_eq!(
            newer.message(),
            "out of quota (error kind `quota_exceeded`)"
        );
        assert_eq!(newer.remediation(), Some("buy more"));
        let garbage = decode_error("check", b"not json");
        assert!(garbage.message().contains("unreadable error"), "{garbage}");
    }

    #[test]
    fn missing_library_is_not_found() {
        let err = PluginFactory::load(Path::new("/nonexistent/libnothing.so")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(
            err.message().contains("/nonexistent/libnothing.so"),
            "{err}"
        );
        assert!(err.message().contains("does not exist"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused() {
        let path = std::env::temp_dir().join(format!("not-a-library-{}.so", std::process::id()));
        std::fs::write(&path, b"plain text, not ELF").unwrap();
        let err = PluginFactory::load(&path).unwrap_err();
        std::fs::remove_file(&path).ok();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(err.message().contains("could not be loaded"), "{err}");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_library_that_is_not_a_connector_is_refused() {
        // The C library this very process runs on: it loads fine but is no connector.
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc_path = maps
            .lines()
            .filter_map(|line| line.split_whitespace().nth(5))
            .find(|path| {
                Path::new(path)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"))
            })
            .map(Path::new)
            .expect("libc is mapped into every process");
        let err = PluginFactory::load(libc_path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfig);
        assert!(
            err.message().contains("is not a connector plug-in"),
            "{err}"
        );
        assert!(err.message().contains("connector_abi_version"), "{err}");
        assert!(
            err.remediation().unwrap().contains("export_connector!"),
            "{err}"
        );
    }
}
