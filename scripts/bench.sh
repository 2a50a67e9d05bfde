#!/usr/bin/env bash
# Measure cellwatch against its performance targets and write BENCHMARKS.md.
#
# Starts the local Kafka broker and ClickHouse server (scripts/services.sh), builds
# the release binary and runs `cellwatch bench` with the given options, e.g.
#   scripts/bench.sh                       # small + medium replay, state, Kafka runs
#   scripts/bench.sh --large               # add the ~7.3 M-record scenario
#   scripts/bench.sh --only replay --no-kafka
# The criterion micro-benchmarks of the hot paths run separately: `cargo bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
# `up` prints the export lines (passwords of the local services included) on
# stdout: evaluated, never shown
eval "$(scripts/services.sh up)"
cargo build --release --locked
exec ./target/release/cellwatch bench "$@"
