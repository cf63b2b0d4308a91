#!/bin/sh
# The import benchmarks (docs/benchmarks.md): builds the release binaries the runs measure
# (host, okta-sim, the connector cdylib), then runs the harness host/benches/import/.
# Options go to the harness: bench/run.sh --help, e.g. bench/run.sh --sizes s --scenarios rate,cpu
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p host -p fixtures -p okta-connector
exec cargo bench -p host --bench import -- "$@"
