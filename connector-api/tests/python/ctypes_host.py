#!/usr/bin/env python3
"""A non-Rust host for the connector C ABI, using only Python's ctypes.

Usage: ctypes_host.py <path to libdirectory_connector.so> <expected ABI version> [people]

It loads the directory example connector, checks the ABI version before anything else,
reads the descriptor, shows that bad settings come back as an invalid_config error, creates
an instance over a generated folder, runs a full import counting objects in a Python sink
callback (and log records in a log callback), validates the returned watermark, and frees
every buffer, handle and instance it was given. Exits non-zero with a message on any failure.
"""

import ctypes
import json
import os
import sys
import tempfile

STATUS_OK, STATUS_ERROR = 0, 1
SINK_CONTINUE = 0


class Buffer(ctypes.Structure):
    """ConnectorBuffer: bytes allocated by the plug-in, freed with connector_buffer_free."""

    _fields_ = [
        ("ptr", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("cap", ctypes.c_size_t),
    ]


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
SINK_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


class CallContext(ctypes.Structure):
    """ConnectorCallContext: per-operation logging and cancellation."""

    _fields_ = [
        ("user_data", ctypes.c_void_p),
        ("log", LOG_FN),
        ("cancel", ctypes.c_void_p),
    ]


def fail(message):
    print(f"ctypes host: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def bind(lib):
    """Declares the signatures from include/connector_abi.h."""
    u8p, size, voidp = ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p
    out = ctypes.POINTER(Buffer)
    sigs = {
        "connector_descriptor": (ctypes.c_int32, [out]),
        "connector_create": (
            ctypes.c_int32,
            [u8p, size, u8p, size, ctypes.POINTER(voidp), out],
        ),
        "connector_destroy": (None, [voidp]),
        "connector_check": (ctypes.c_int32, [voidp, ctypes.POINTER(CallContext), out]),
        "connector_import": (
            ctypes.c_int32,
            [voidp, ctypes.POINTER(CallContext), u8p, size, SINK_FN, voidp, out],
        ),
        "connector_validate_watermark": (ctypes.c_int32, [voidp, u8p, size, out]),
        "connector_export_changes": (
            ctypes.c_int32,
            [voidp, ctypes.POINTER(CallContext), u8p, size, u8p, size, out],
        ),
        "connector_cancel_new": (voidp, []),
        "connector_cancel": (None, [voidp]),
        "connector_cancel_free": (None, [voidp]),
        "connector_buffer_free": (None, [Buffer]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes


def take(lib, buf):
    """Copies a plug-in buffer into Python bytes and gives it back to the plug-in."""
    data = ctypes.string_at(buf.ptr, buf.len) if buf.len else b""
    lib.connector_buffer_free(buf)
    return data


def call(lib, what, fn, *args):
    """Runs an entry point that fills an out-buffer; returns (status, decoded JSON or None)."""
    buf = Buffer()
    status = fn(*args, ctypes.byref(buf))
    data = take(lib, buf)
    if status not in (STATUS_OK, STATUS_ERROR):
        fail(f"{what} returned unexpected status {status}")
    return status, (json.loads(data) if data else None)


def make_source(folder, people):
    with open(os.path.join(folder, "people.json"), "w") as f:
        json.dump(
            [
                {"id": f"p{n}", "name": f"Person {n}", "updated": f"2024-01-01T00:00:{n % 60:02}Z"}
                for n in range(people)
            ],
            f,
        )
    with open(os.path.join(folder, "groups.csv"), "w") as f:
        f.write("id,name,members\n")
        f.write("g1,Everyone," + ";".join(f"p{n}" for n in range(people)) + "\n")
        f.write("g2,Nobody,\n")


def export(lib, instance, folder):
    """Dry run, real run and re-send of two changes; returns the statuses of each run."""
    lines = [
        {"op": "upsert", "type": "Person", "id": "p-new", "attrs": {"name": "New"}, "key": "k1"},
        {"op": "upsert", "type": "GroupMember", "id": "g1:p-new", "scope": "g1", "key": "k2"},
    ]
    batch = "".join(json.dumps(line) + "\n" for line in lines).encode()
    people = os.path.join(folder, "people.json")

    def run(dry_run):
        options = json.dumps({"dry_run": dry_run}).encode()
        buf = Buffer()
        status = lib.connector_export_changes(
            instance, None, options, len(options), batch, len(batch), ctypes.byref(buf)
        )
        data = take(lib, buf)
        if status != STATUS_OK:
            fail(f"export failed: {status} {data!r}")
        outcomes = [json.loads(line) for line in data.splitlines() if line.strip()]
        if [o["key"] for o in outcomes] != ["k1", "k2"]:
            fail(f"export outcomes do not answer the keys in order: {outcomes}")
        failed = outcomes[1]
        if failed["status"] != "failed" or failed["error"]["kind"] != "not_supported":
            fail(f"a membership in a CSV table was not refused: {failed}")
        return [o["status"] for o in outcomes]

    runs = []
    for dry_run in (True, False, False):
        runs.append(run(dry_run))
        with open(people) as f:
            written = "p-new" in f.read()
        if written == dry_run:
            fail(f"after an export with dry_run={dry_run}, people.json holds p-new: {written}")
    if runs != [["applied", "failed"], ["applied", "failed"], ["unchanged", "failed"]]:
        fail(f"unexpected export outcomes: {runs}")
    return runs


def main():
    if len(sys.argv) < 3:
        fail("usage: ctypes_host.py <library> <expected ABI version> [people]")
    path, expected = sys.argv[1], int(sys.argv[2])
    people = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    lib = ctypes.CDLL(path)

    # 1. The handshake comes first: nothing else is called on a library of another version.
    lib.connector_abi_version.restype = ctypes.c_uint32
    lib.connector_abi_version.argtypes = []
    version = lib.connector_abi_version()
    if version != expected:
        fail(f"{path} implements ABI version {version}, this host supports {expected}")
    bind(lib)

    # 2. The descriptor.
    status, descriptor = call(lib, "descriptor", lib.connector_descriptor)
    if status != STATUS_OK or descriptor["name"] != "directory":
        fail(f"unexpected descriptor: {status} {descriptor}")
    types = [t["name"] for t in descriptor["object_types"]]

    # 3. Bad settings come back as a JSON error, and no instance.
    instance = ctypes.c_void_p()
    config, auth = b'{"folder": 42}', b"{}"
    status, error = call(
        lib, "create", lib.connector_create,
        config, len(config), auth, len(auth), ctypes.byref(instance),
    )
    if status != STATUS_ERROR or error["kind"] != "invalid_config" or instance.value:
        fail(f"bad config was not refused as invalid_config: {status} {error}")

    with tempfile.TemporaryDirectory() as folder:
        make_source(folder, people)
        config = json.dumps({"folder": folder}).encode()
        status, error = call(
            lib, "create", lib.connector_create,
            config, len(config), auth, len(auth), ctypes.byref(instance),
        )
        if status != STATUS_OK or not instance.value:
            fail(f"create failed: {error}")

        # 4. A full import; the sink callback counts objects per type.
        counts, markers, logs = {}, [], []

        @SINK_FN
        def sink(_data, batch, length):
            for line in ctypes.string_at(batch, length).splitlines():
                change = json.loads(line)
                if change["op"] == "upsert":
                    counts[change["type"]] = counts.get(change["type"], 0) + 1
                elif change["op"] == "scope_complete":
                    markers.append((change["type"], change.get("within")))
            return SINK_CONTINUE

        @LOG_FN
        def log(_user_data, record, length):
            logs.append(json.loads(ctypes.string_at(record, length))["event"])

        cancel = lib.connector_cancel_new()
        if not cancel:
            fail("connector_cancel_new returned NULL")
        ctx = CallContext(None, log, cancel)
        request = b'{"mode": "full", "watermark": null}'
        status, outcome = call(
            lib, "import", lib.connector_import,
            instance, ctypes.byref(ctx), request, len(request), sink, None,
        )
        lib.connector_cancel_free(cancel)
        if status != STATUS_OK:
            fail(f"import failed: {outcome}")
        expected_counts = {"Person": people, "Group": 2, "GroupMember": people}
        if counts != expected_counts:
            fail(f"counted {counts}, expected {expected_counts}")
        if ("Person", None) not in markers or ("GroupMember", "g2") not in markers:
            fail(f"missing scope-complete markers: {markers}")
        if logs.count("file_read") != 2:
            fail(f"expected two file_read log records, got {logs}")

        # 5. The watermark it returned is valid; a garbled one is refused.
        watermark = outcome["watermark"].encode()
        status, error = call(
            lib, "validate_watermark", lib.connector_validate_watermark,
            instance, watermark, len(watermark),
        )
        if status != STATUS_OK:
            fail(f"own watermark rejected: {error}")
        status, error = call(
            lib, "validate_watermark", lib.connector_validate_watermark,
            instance, b"garbage", 7,
        )
        if status != STATUS_ERROR or error["kind"] != "invalid_watermark":
            fail(f"garbage watermark accepted: {status} {error}")

        # 6. Export (connector_export_changes): JSON lines with keys in, one outcome line per
        #    change out. people.json is written back; groups.csv is not (CSV is read-only).
        exported = export(lib, instance, folder)

        lib.connector_destroy(instance)

    total = sum(counts.values())
    print(
        f"ctypes host: OK: ABI v{version}, connector {descriptor['name']} {descriptor['version']} "
        f"({', '.join(types)}), imported {total} objects {counts}, "
        f"{len(markers)} scopes complete, {len(logs)} log records, watermark {outcome['watermark']}, "
        f"export outcomes {exported}"
    )


if __name__ == "__main__":
    main()
