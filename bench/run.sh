#!/bin/sh
# The import benchmarks (docs/benchmarks.md): builds the release binaries the runs measure
# (host, okta-sim, the connector cdylib), then runs the harness host/benches/import/.
# Options go to the harness: bench/run.sh --help, e.g. bench/run.sh --sizes s --scenarios rate,cpu
#
# --baseline <revision> also builds that revision's host and connector and runs them in the same
# harness run, interleaved with the current ones, against the same simulator (the current
# okta-sim): a git worktree of the revision under bench-out/baseline/<commit>/src, built with the
# workspace's target directory (so dependencies compile once), its binaries copied to
# bench-out/baseline/<commit>/bin. A second run with the same revision reuses that copy.
set -eu
cd "$(dirname "$0")/.."

baseline=""
forward=""
while [ $# -gt 0 ]; do
    case "$1" in
        --baseline) [ $# -ge 2 ] || { echo "bench/run.sh: --baseline needs a git revision" >&2; exit 2; }
                    baseline="$2"; shift 2 ;;
        --baseline=*) baseline="${1#--baseline=}"; shift ;;
        *) forward="$forward $(printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")")"; shift ;;
    esac
done
eval "set -- $forward"

if [ -n "$baseline" ]; then
    commit=$(git rev-parse --verify --quiet "$baseline^{commit}") ||
        { echo "bench/run.sh: --baseline $baseline is not a commit of this repository" >&2; exit 2; }
    short=$(git rev-parse --short "$commit")
    base="bench-out/baseline/$commit"
    if [ ! -x "$base/bin/host" ] || [ ! -f "$base/bin/libokta_connector.so" ]; then
        [ -d "$base/src" ] || git worktree add --detach "$base/src" "$commit"
        target="${CARGO_TARGET_DIR:-$PWD/target}"
        (cd "$base/src" && CARGO_TARGET_DIR="$target" cargo build --release -p host -p okta-connector)
        mkdir -p "$base/bin"
        cp "$target/release/host" "$target/release/libokta_connector.so" "$base/bin/"
    fi
    set -- "$@" --baseline-bins "$PWD/$base/bin" --baseline-label "base-$short"
fi

# After the baseline: its build leaves its binaries in target/release, this one puts the current
# ones back.
cargo build --release -p host -p fixtures -p okta-connector
exec cargo bench -p host --bench import -- "$@"
