/*
 * A minimal C host, compiled against include/connector_abi.h by the Rust test `c_host`:
 * dlopen a connector, handshake, descriptor, create, import (counting lines in the sink
 * callback), free everything. Usage: c_host <library> <config JSON>
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "connector_abi.h"

static size_t batches, changes, logs;

static int32_t count_sink(void *data, const uint8_t *batch, size_t len) {
    (void)data;
    batches++;
    for (size_t i = 0; i < len; i++) {
        if (batch[i] == '\n') changes++;
    }
    return CONNECTOR_SINK_CONTINUE;
}

static void count_log(void *data, const uint8_t *record, size_t len) {
    (void)data, (void)record, (void)len;
    logs++;
}

#define RESOLVE(type, name)                                                  \
    type name = (type)dlsym(lib, #name);                                     \
    if (!name) { fprintf(stderr, "missing symbol %s\n", #name); return 1; }

typedef uint32_t (*version_fn)(void);
typedef int32_t (*descriptor_fn)(ConnectorBuffer *);
typedef int32_t (*create_fn)(const uint8_t *, size_t, const uint8_t *, size_t,
                             ConnectorInstance **, ConnectorBuffer *);
typedef void (*destroy_fn)(ConnectorInstance *);
typedef int32_t (*import_fn)(const ConnectorInstance *, const ConnectorCallContext *,
                             const uint8_t *, size_t, ConnectorSinkFn, void *, ConnectorBuffer *);
typedef ConnectorCancel *(*cancel_new_fn)(void);
typedef void (*cancel_free_fn)(ConnectorCancel *);
typedef void (*buffer_free_fn)(ConnectorBuffer);

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: c_host <library> <config JSON>\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }

    RESOLVE(version_fn, connector_abi_version);
    uint32_t version = connector_abi_version();
    if (version != CONNECTOR_ABI_VERSION) {
        fprintf(stderr, "library ABI %u, header ABI %u\n", version, CONNECTOR_ABI_VERSION);
        return 1;
    }
    RESOLVE(descriptor_fn, connector_descriptor);
    RESOLVE(create_fn, connector_create);
    RESOLVE(destroy_fn, connector_destroy);
    RESOLVE(import_fn, connector_import);
    RESOLVE(cancel_new_fn, connector_cancel_new);
    RESOLVE(cancel_free_fn, connector_cancel_free);
    RESOLVE(buffer_free_fn, connector_buffer_free);

    ConnectorBuffer out;
    if (connector_descriptor(&out) != CONNECTOR_STATUS_OK) return 1;
    printf("descriptor: %.*s\n", (int)out.len, (const char *)out.ptr);
    connector_buffer_free(out);

    const char *auth = "{}";
    ConnectorInstance *instance = NULL;
    int32_t status = connector_create((const uint8_t *)argv[2], strlen(argv[2]),
                                      (const uint8_t *)auth, strlen(auth), &instance, &out);
    if (status != CONNECTOR_STATUS_OK) {
        fprintf(stderr, "create: %.*s\n", (int)out.len, (const char *)out.ptr);
        connector_buffer_free(out);
        return 1;
    }
    connector_buffer_free(out);

    ConnectorCancel *cancel = connector_cancel_new();
    ConnectorCallContext ctx = {NULL, count_log, cancel};
    const char *request = "{\"mode\":\"full\"}";
    status = connector_import(instance, &ctx, (const uint8_t *)request, strlen(request),
                              count_sink, NULL, &out);
    printf("import status %d: %.*s\n", status, (int)out.len, (const char *)out.ptr);
    connector_buffer_free(out);
    connector_cancel_free(cancel);
    connector_destroy(instance);
    printf("c host: %zu changes in %zu batches, %zu log records\n", changes, batches, logs);
    return status == CONNECTOR_STATUS_OK ? 0 : 1;
}
