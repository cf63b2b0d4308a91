/*
 * connector_abi.h — the C ABI of identity connector plug-ins, version 1.
 *
 * A connector plug-in is a shared library (built from Rust with
 * connector_api::export_connector!) exporting the functions below. A host — in Rust, C, Python
 * or anything that can call C — loads it, checks connector_abi_version() FIRST, and only then
 * resolves and calls the rest. The full specification is docs/abi.md; this header and
 * connector_api::abi (Rust) state the same contract and change together.
 *
 * Conventions
 * -----------
 * - Everything that is not a number or a pointer crosses as UTF-8 JSON bytes (pointer + length,
 *   not NUL-terminated). JSON shapes are those of the Rust connector_api types, see docs/abi.md.
 * - Ownership: each side frees only what it allocated.
 *     * Bytes the HOST passes in (config, auth, requests, batches, watermarks) are borrowed for
 *       the duration of the call; the plug-in copies what it keeps.
 *     * Buffers the PLUG-IN returns (ConnectorBuffer out-parameters) belong to the host, which
 *       must return each one exactly once to connector_buffer_free — on success and on error.
 *     * Bytes the plug-in passes to HOST CALLBACKS (log records, batches) are borrowed for the
 *       duration of the callback only; copy them to keep them.
 * - Every function that takes `ConnectorBuffer *out` first sets *out to {NULL, 0, 0}, then
 *   returns CONNECTOR_STATUS_OK (out holds the documented payload, possibly empty) or
 *   CONNECTOR_STATUS_ERROR (out holds a ConnectorError JSON). If `out` itself is NULL it returns
 *   CONNECTOR_STATUS_INVALID_ARGUMENT and writes nothing.
 * - No function unwinds or aborts because of a connector bug: panics become
 *   CONNECTOR_STATUS_ERROR with an "internal" error.
 * - Calls block until done. Instances are thread-safe: several operations may run at once on
 *   one instance, from different threads.
 */
#ifndef CONNECTOR_ABI_H
#define CONNECTOR_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version this header describes. A host refuses a library whose
 * connector_abi_version() differs, naming both versions. */
#define CONNECTOR_ABI_VERSION 1u

/* Return codes of the entry points. */
#define CONNECTOR_STATUS_OK 0               /* success; *out holds the payload (maybe empty) */
#define CONNECTOR_STATUS_ERROR 1            /* failure; *out holds a ConnectorError JSON      */
#define CONNECTOR_STATUS_INVALID_ARGUMENT 2 /* a required pointer was NULL; nothing written  */

/* Return codes of the host's sink callback. */
#define CONNECTOR_SINK_CONTINUE 0 /* the batch was accepted; go on                       */
#define CONNECTOR_SINK_STOP 1     /* stop the import (sink failed or run cancelled)      */

/* A byte buffer allocated by the plug-in. Read `len` bytes at `ptr`; give the struct back,
 * unchanged, to connector_buffer_free exactly once. `cap` is opaque. {NULL, 0, 0} is empty and
 * freeing it is a no-op. */
typedef struct ConnectorBuffer {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} ConnectorBuffer;

/* Opaque instance, owned by the plug-in: connector_create -> connector_destroy. */
typedef struct ConnectorInstance ConnectorInstance;

/* Opaque cancellation handle, owned by the plug-in: connector_cancel_new -> connector_cancel_free. */
typedef struct ConnectorCancel ConnectorCancel;

/* Host log callback: receives one LogRecord JSON, e.g.
 *   {"level":"info","event":"page_fetched","message":"…","fields":{"objects":200}}
 * `record` is borrowed for the call. Calls for one operation are serialised but may come from
 * any thread; none happens after the operation's entry point returned. Must not call back into
 * the plug-in (except connector_cancel). */
typedef void (*ConnectorLogFn)(void *user_data, const uint8_t *record, size_t len);

/* Host sink callback: receives one batch of changes as JSON lines (one Change per line, each
 * ending in '\n'). `batch` is borrowed for the call. Called synchronously from inside
 * connector_import, never concurrently; the plug-in produces nothing more until it returns
 * (backpressure). Return CONNECTOR_SINK_CONTINUE once the batch is stored, or
 * CONNECTOR_SINK_STOP to make the import stop with a "cancelled" error. */
typedef int32_t (*ConnectorSinkFn)(void *sink_data, const uint8_t *batch, size_t len);

/* Per-operation context for check, import and export. The pointer to it may be NULL (no logs,
 * not cancellable). It and `user_data` must stay valid until the call returns. */
typedef struct ConnectorCallContext {
    void *user_data;               /* passed to `log` unchanged                          */
    ConnectorLogFn log;            /* NULL drops log records                             */
    const ConnectorCancel *cancel; /* NULL: the operation cannot be cancelled            */
} ConnectorCallContext;

/* Handshake: the library's ABI version. Call this first, and nothing else if it differs from
 * CONNECTOR_ABI_VERSION. Never fails. */
uint32_t connector_abi_version(void);

/* The connector's Descriptor JSON (name, version, description, object_types, capabilities).
 * Needs no configuration. */
int32_t connector_descriptor(ConnectorBuffer *out);

/* Validates settings and creates an instance; does not contact the source system.
 * config: the connector's configuration JSON (empty means {}).
 * auth:   the authentication JSON with secrets resolved; SECRET — the plug-in zeroes its copy
 *         and never logs it; the host should zero its own buffer after the call.
 * On success *out_instance is the new instance and *out is empty; on error *out_instance is
 * NULL and *out holds the error (an "invalid_config" error names the offending field).
 * Returns CONNECTOR_STATUS_INVALID_ARGUMENT if out_instance is NULL. */
int32_t connector_create(const uint8_t *config, size_t config_len,
                         const uint8_t *auth, size_t auth_len,
                         ConnectorInstance **out_instance, ConnectorBuffer *out);

/* Destroys an instance. No operation may be running on it; do not use it afterwards.
 * NULL is ignored. May block briefly while the instance's worker threads stop. */
void connector_destroy(ConnectorInstance *instance);

/* Checks connectivity and credentials without importing. Payload: CheckReport JSON
 * {"checks":[…],"warnings":[…]}. */
int32_t connector_check(const ConnectorInstance *instance, const ConnectorCallContext *ctx,
                        ConnectorBuffer *out);

/* Runs one import. request: ImportRequest JSON, {"mode":"full"} or
 * {"mode":"delta","watermark":"<stored watermark>"}. Batches of changes go to `sink`
 * (required) with `sink_data`. Payload on success: ImportOutcome JSON
 * {"watermark":"…"|null,"skipped":[…],"stats":{…}} — store the watermark only now, after every
 * batch was accepted. On error no watermark exists: keep the previous one. */
int32_t connector_import(const ConnectorInstance *instance, const ConnectorCallContext *ctx,
                         const uint8_t *request, size_t request_len,
                         ConnectorSinkFn sink, void *sink_data, ConnectorBuffer *out);

/* LEGACY (the export of connector-api 0.x; new hosts use connector_export_changes).
 * Applies a batch of changes (JSON lines, as the sink receives them). Payload: empty, and only
 * if every change was applied or unchanged; otherwise an error naming the first change that was
 * not (changes before it may have been applied). Read-only connectors answer "not_supported".
 * Hosts must not require this symbol. */
int32_t connector_export(const ConnectorInstance *instance, const ConnectorCallContext *ctx,
                         const uint8_t *batch, size_t batch_len, ConnectorBuffer *out);

/* OPTIONAL (added by connector-api 1.0 within ABI version 1): resolve it with dlsym and treat a
 * missing symbol as "export not supported by this plug-in (built against connector-api 0.x)".
 * Exports changes with a per-change outcome.
 * options: ExportOptions JSON, {"dry_run":true} (empty means {"dry_run":false}); with dry_run
 *          nothing is written and outcomes say what would happen.
 * batch:   JSON lines, one Change per line with its idempotency key added:
 *          {"op":"upsert","type":"Group","id":"g1","attrs":{"name":"Ops"},"key":"k1"}
 *          (a line without "key" gets its 1-based line number as key).
 * Payload on success: JSON lines, one ChangeOutcome per change, in order, with its key:
 *   {"key":"k1","status":"applied"}                  (optionally "assigned_id":"…")
 *   {"key":"k2","status":"unchanged"}                (re-sending an applied change)
 *   {"key":"k3","status":"skipped","reason":"…"}     (not attempted, e.g. cancelled)
 *   {"key":"k4","status":"failed","error":{ConnectorError JSON}}
 * Treat an unknown status as failed, never as applied. On error (status 1) nothing was
 * attempted. Cancellation is checked between changes: the rest come back "skipped". */
int32_t connector_export_changes(const ConnectorInstance *instance,
                                 const ConnectorCallContext *ctx,
                                 const uint8_t *options, size_t options_len,
                                 const uint8_t *batch, size_t batch_len, ConnectorBuffer *out);

/* Checks that a watermark (UTF-8 text, as returned by an import) can be used for a delta run.
 * Payload: empty; error kind "invalid_watermark" says what is wrong. */
int32_t connector_validate_watermark(const ConnectorInstance *instance,
                                     const uint8_t *watermark, size_t watermark_len,
                                     ConnectorBuffer *out);

/* A fresh cancellation handle (NULL only if allocation failed). Put it in the
 * ConnectorCallContext of one or more operations. */
ConnectorCancel *connector_cancel_new(void);

/* Requests cancellation: operations using the handle stop promptly and fail with a "cancelled"
 * error. Thread-safe; may be called from any thread while the operation runs, and more than
 * once. NULL is ignored. */
void connector_cancel(const ConnectorCancel *cancel);

/* Frees a handle once no running operation uses it. NULL is ignored. */
void connector_cancel_free(ConnectorCancel *cancel);

/* Frees a buffer this plug-in returned. Exactly once per buffer; empty buffers are a no-op. */
void connector_buffer_free(ConnectorBuffer buffer);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CONNECTOR_ABI_H */
