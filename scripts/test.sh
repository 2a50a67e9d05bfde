#!/usr/bin/env bash
# cellwatch's single test command -- the one the README names and .ci/run runs:
#
#   scripts/test.sh [extra cargo test args...]
#
# 1. starts (installing on first use) the real Kafka broker and ClickHouse server on
#    loopback via scripts/services.sh up, and exports CW_KAFKA_BROKERS / CW_CLICKHOUSE_URL;
# 2. makes sure Debian's chromium is installed (scripts/ensure-chromium.sh) for the
#    evidence-report test, which renders HTML in headless Chromium and never skips;
# 3. runs `cargo test --all-targets "$@"` and exits with cargo's exit code.
#
# The services are left running afterwards (fast re-runs); stop them with
# `scripts/services.sh down`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

services_env="$(scripts/services.sh up)"
eval "$services_env"
export CW_KAFKA_BROKERS CW_CLICKHOUSE_URL

echo "[test] CW_KAFKA_BROKERS=$CW_KAFKA_BROKERS CW_CLICKHOUSE_URL=$CW_CLICKHOUSE_URL" >&2

scripts/ensure-chromium.sh

rc=0
cargo test --all-targets --no-fail-fast "$@" || rc=$?
exit "$rc"
