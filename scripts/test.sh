#!/usr/bin/env bash
# cellwatch's single test command -- the one the README names and .ci/run runs:
#
#   scripts/test.sh [extra cargo test args...]
#
# 1. starts (installing on first use) the real Kafka broker and ClickHouse server on
#    loopback via scripts/services.sh up, and exports CW_KAFKA_BROKERS / CW_CLICKHOUSE_URL;
# 2. runs `cargo test --all-targets "$@"` and exits with cargo's exit code.
#
# The services are left running afterwards (fast re-runs); stop them with
# `scripts/services.sh down`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_env="$(scripts/services.sh up)"
eval "$services_env"
export CW_KAFKA_BROKERS CW_CLICKHOUSE_URL

echo "[test] CW_KAFKA_BROKERS=$CW_KAFKA_BROKERS CW_CLICKHOUSE_URL=$CW_CLICKHOUSE_URL" >&2

rc=0
cargo test --all-targets --no-fail-fast "$@" || rc=$?
exit "$rc"
