//! The C-ABI plug-in boundary: the only module of this crate with `unsafe` code.
//!
//! A connector crate built as a `cdylib` invokes [`export_connector!`](crate::export_connector)
//! once (feature `plugin`); a host loads the library with [`loader::PluginFactory`] (feature
//! `loader`) and gets a [`ConnectorFactory`](crate::ConnectorFactory) whose connectors talk to the
//! plug-in. The host's runner cannot tell a loaded connector from a linked-in one.
//!
//! Only the `#[repr(C)]` types of this module and byte buffers cross the boundary:
//!
//! * settings, requests, outcomes, descriptors, errors and log records cross as JSON;
//! * the changes of an import cross as [`batch`]es (JSON lines of [`Change`](crate::Change)), so
//!   the per-object cost of the boundary is negligible;
//! * every entry point returns a [`STATUS_OK`]/[`STATUS_ERROR`] code, and on error a JSON
//!   [`ConnectorError`](crate::ConnectorError) in its out-buffer;
//! * buffers are freed by the side that allocated them: the plug-in's with
//!   `connector_buffer_free`; the host's callbacks only ever receive borrowed pointers that are
//!   valid for the duration of the call.
//!
//! The full specification — symbols, ownership, threading, cancellation, logging and versioning
//! rules — is `docs/abi.md`; the C declarations are `include/connector_abi.h`. This module is the
//! Rust statement of the same contract, and the two must change together.
//!
//! # Versioning
//!
//! [`ABI_VERSION`] is bumped whenever any of the following changes incompatibly: a symbol's name
//! or signature, a `#[repr(C)]` layout, a status or sink code, the meaning of a buffer's ownership,
//! or the JSON shape of a type that crosses the boundary (adding an optional JSON field that old
//! readers ignore is compatible; renaming or removing one is not). Hosts refuse libraries whose
//! `connector_abi_version()` differs from their own before calling anything else.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::marker::{PhantomData, PhantomPinned};

pub mod batch;

#[cfg(feature = "plugin")]
#[doc(hidden)]
pub mod export;

#[cfg(feature = "loader")]
pub mod loader;

/// The version of the C ABI implemented by this crate.
///
/// A host loads a library only if the library's `connector_abi_version()` returns exactly this
/// number. See the module documentation for what bumps it.
pub const ABI_VERSION: u32 = 1;

/// The entry point succeeded; its out-buffer (if any) holds the documented success payload.
pub const STATUS_OK: i32 = 0;
/// The entry point failed; its out-buffer holds a JSON [`ConnectorError`](crate::ConnectorError).
pub const STATUS_ERROR: i32 = 1;
/// A required pointer argument was null; nothing was written.
pub const STATUS_INVALID_ARGUMENT: i32 = 2;

/// Returned by a host's sink callback to let the import continue.
pub const SINK_CONTINUE: i32 = 0;
/// Returned by a host's sink callback to make the import stop (the sink failed or the host
/// cancelled the run). The plug-in's import then fails with [`ErrorKind::Cancelled`](crate::ErrorKind).
pub const SINK_STOP: i32 = 1;

/// A byte buffer allocated by the plug-in and handed to the host.
///
/// The host reads `len` bytes at `ptr` and must give the buffer back, unchanged, to
/// `connector_buffer_free` exactly once. `cap` is the allocation's capacity: opaque to the host.
/// An empty buffer is `{NULL, 0, 0}`; freeing it is a no-op.
#[repr(C)]
#[derive(Debug)]
pub struct ConnectorBuffer {
    /// Start of the bytes, or null when empty.
    pub ptr: *mut u8,
    /// Number of bytes.
    pub len: usize,
    /// Allocation capacity (opaque to the host).
    pub cap: usize,
}

impl ConnectorBuffer {
    /// The empty buffer `{NULL, 0, 0}`.
    pub const fn empty() -> Self {
        Self {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }
}

/// An opaque connector instance owned by the plug-in (created by `connector_create`, destroyed
/// by `connector_destroy`).
#[repr(C)]
#[derive(Debug)]
pub struct ConnectorInstance {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// An opaque cancellation handle owned by the plug-in (created by `connector_cancel_new`,
/// triggered by `connector_cancel`, destroyed by `connector_cancel_free`).
#[repr(C)]
#[derive(Debug)]
pub struct ConnectorCancel {
    _opaque: [u8; 0],
    _marker: PhantomData<(*mut u8, PhantomPinned)>,
}

/// A host callback receiving one log record as UTF-8 JSON (a [`LogRecord`](crate::LogRecord)).
///
/// Arguments: the operation's `user_data`, then the borrowed bytes (valid only during the call).
/// Calls for one operation are serialised, may come from any plug-in thread, and never happen
/// after the operation's entry point has returned.
pub type LogFn = unsafe extern "C" fn(user_data: *mut c_void, record: *const u8, len: usize);

/// A host callback receiving one batch of changes (JSON lines, see [`batch`]).
///
/// Arguments: the `sink_data` passed to `connector_import`, then the borrowed bytes (valid only
/// during the call). Returns [`SINK_CONTINUE`] once the host has accepted the batch, or
/// [`SINK_STOP`] to stop the import. Called synchronously from within `connector_import`, never
/// concurrently: the plug-in produces nothing more until the callback returns (backpressure).
pub type SinkFn = unsafe extern "C" fn(sink_data: *mut c_void, batch: *const u8, len: usize) -> i32;

/// Per-operation context the host passes to `connector_check`, `connector_import` and
/// `connector_export`. The pointer to it may be null (no logging, not cancellable).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ConnectorCallContext {
    /// Passed back to `log` unchanged.
    pub user_data: *mut c_void,
    /// Receives the operation's log records; null drops them.
    pub log: Option<LogFn>,
    /// The operation's cancellation handle; null means the operation cannot be cancelled.
    pub cancel: *const ConnectorCancel,
}

/// `uint32_t connector_abi_version(void)`: the library's ABI version. Called first.
pub type AbiVersionFn = unsafe extern "C" fn() -> u32;
/// `int32_t connector_descriptor(ConnectorBuffer *out)`: the descriptor JSON.
pub type DescriptorFn = unsafe extern "C" fn(out: *mut ConnectorBuffer) -> i32;
/// `connector_create(config, config_len, auth, auth_len, out_instance, out)`: validates the
/// settings and creates an instance; on error `out` holds the error JSON.
pub type CreateFn = unsafe extern "C" fn(
    config: *const u8,
    config_len: usize,
    auth: *const u8,
    auth_len: usize,
    out_instance: *mut *mut ConnectorInstance,
    out: *mut ConnectorBuffer,
) -> i32;
/// `void connector_destroy(ConnectorInstance *)`: destroys an instance with no running operation.
pub type DestroyFn = unsafe extern "C" fn(instance: *mut ConnectorInstance);
/// `connector_check(instance, ctx, out)`: on success `out` holds a `CheckReport` JSON.
pub type CheckFn = unsafe extern "C" fn(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    out: *mut ConnectorBuffer,
) -> i32;
/// `connector_import(instance, ctx, request, request_len, sink, sink_data, out)`: runs an import,
/// calling `sink` with each batch; on success `out` holds an `ImportOutcome` JSON.
pub type ImportFn = unsafe extern "C" fn(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    request: *const u8,
    request_len: usize,
    sink: Option<SinkFn>,
    sink_data: *mut c_void,
    out: *mut ConnectorBuffer,
) -> i32;
/// `connector_export(instance, ctx, batch, batch_len, out)`: writes a batch of changes; on
/// success `out` is empty.
pub type ExportFn = unsafe extern "C" fn(
    instance: *const ConnectorInstance,
    ctx: *const ConnectorCallContext,
    batch: *const u8,
    batch_len: usize,
    out: *mut ConnectorBuffer,
) -> i32;
/// `connector_validate_watermark(instance, watermark, len, out)`: on success `out` is empty.
pub type ValidateWatermarkFn = unsafe extern "C" fn(
    instance: *const ConnectorInstance,
    watermark: *const u8,
    watermark_len: usize,
    out: *mut ConnectorBuffer,
) -> i32;
/// `ConnectorCancel *connector_cancel_new(void)`: a fresh, un-cancelled handle (null on failure).
pub type CancelNewFn = unsafe extern "C" fn() -> *mut ConnectorCancel;
/// `void connector_cancel(const ConnectorCancel *)`: requests cancellation; thread-safe.
pub type CancelFn = unsafe extern "C" fn(cancel: *const ConnectorCancel);
/// `void connector_cancel_free(ConnectorCancel *)`: frees a handle no operation uses any more.
pub type CancelFreeFn = unsafe extern "C" fn(cancel: *mut ConnectorCancel);
/// `void connector_buffer_free(ConnectorBuffer)`: frees a buffer the plug-in returned.
pub type BufferFreeFn = unsafe extern "C" fn(buffer: ConnectorBuffer);

/// The exported symbol names, in the order a host resolves them.
pub mod symbols {
    /// `connector_abi_version`, resolved and called before anything else.
    pub const ABI_VERSION: &str = "connector_abi_version";
    /// `connector_descriptor`.
    pub const DESCRIPTOR: &str = "connector_descriptor";
    /// `connector_create`.
    pub const CREATE: &str = "connector_create";
    /// `connector_destroy`.
    pub const DESTROY: &str = "connector_destroy";
    /// `connector_check`.
    pub const CHECK: &str = "connector_check";
    /// `connector_import`.
    pub const IMPORT: &str = "connector_import";
    /// `connector_export`.
    pub const EXPORT: &str = "connector_export";
    /// `connector_validate_watermark`.
    pub const VALIDATE_WATERMARK: &str = "connector_validate_watermark";
    /// `connector_cancel_new`.
    pub const CANCEL_NEW: &str = "connector_cancel_new";
    /// `connector_cancel`.
    pub const CANCEL: &str = "connector_cancel";
    /// `connector_cancel_free`.
    pub const CANCEL_FREE: &str = "connector_cancel_free";
    /// `connector_buffer_free`.
    pub const BUFFER_FREE: &str = "connector_buffer_free";
}

/// Borrows `len` bytes at `ptr` (which may be null when `len` is 0).
///
/// # Safety
/// Unless `len` is 0, `ptr` must point to `len` readable bytes that stay valid and unmodified
/// for `'a`.
#[cfg(any(feature = "plugin", feature = "loader"))]
unsafe fn borrow_bytes<'a>(ptr: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        Some(&[])
    } else if ptr.is_null() {
        None
    } else {
        // SAFETY: non-null and, per the caller's contract, valid for `len` bytes during 'a.
        Some(unsafe { std::slice::from_raw_parts(ptr, len) })
    }
}

/// The text of a panic payload, for the `Internal` error that replaces it.
#[cfg(any(feature = "plugin", feature = "loader"))]
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}
