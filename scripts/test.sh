#!/usr/bin/env bash
# cellwatch's single test command -- the one the README names and .ci/run runs:
#
#   scripts/test.sh [extra cargo test args...]
#
# 1. starts (installing on first use) the real Kafka broker and ClickHouse server on
#    loopback via scripts/services.sh up, and exports its variables (CW_KAFKA_BROKERS,
#    CW_CLICKHOUSE_URL, and the SASL_SSL listener's and ClickHouse user's settings);
# 2. makes sure Debian's chromium is installed (scripts/ensure-chromium.sh) for the
#    evidence-report test and the analyst console's browser tests, which run headless
#    Chromium and never skip, and chDB (PyPI's chdb-core, a current ClickHouse
#    in-process; scripts/ensure-chdb.sh) for the test that runs the current server's
#    schema (CW_CHDB_PYTHON);
# 3. runs `cargo test` on the library, binary, integration tests and examples, builds
#    the benchmarks, runs scripts/golden.sh (simulate + replay outputs equal the
#    committed fingerprints), runs the robustness matrix's asserting test (the spam
#    targets on the variants that meet them, seeds 1-10, optimised:
#    tests/robustness_matrix.rs; the whole matrix is still ignored), and exits
#    non-zero if anything failed.
#
# The services are left running afterwards (fast re-runs); stop them with
# `scripts/services.sh down`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_env="$(scripts/services.sh up)"
eval "$services_env"

echo "[test] CW_KAFKA_BROKERS=$CW_KAFKA_BROKERS CW_CLICKHOUSE_URL=$CW_CLICKHOUSE_URL" >&2

scripts/ensure-chromium.sh
CW_CHDB_PYTHON="$(scripts/ensure-chdb.sh)"
export CW_CHDB_PYTHON

rc=0
# Library, binary, integration tests and examples; benchmarks are compiled here
# (so they never rot) and run by scripts/bench.sh / `cargo bench`, not as tests:
# their setup generates scenarios of millions of records.
cargo test --lib --bins --tests --examples --no-fail-fast "$@" || rc=$?
cargo build --benches || rc=$?
scripts/golden.sh || rc=$?
# The robustness matrix (docs/simulator.md): optimised, reusing golden.sh's build.
cargo test --profile golden --test robustness_matrix || rc=$?
exit "$rc"
