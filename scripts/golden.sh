#!/usr/bin/env bash
# Behaviour fingerprint of the simulator and the replay: SHA-256 of every file that
# `cellwatch simulate` writes and of every output of `cellwatch replay` on it, for a
# fixed set of seeds and scales, compared with tests/golden/replay.sha256.
#
#   scripts/golden.sh            # check: exits 1 and prints the differing files
#   scripts/golden.sh --bless    # a deliberate change of behaviour: rewrite the file
#
# Refactors must leave this file unchanged; a change to detection or simulation that is
# meant updates it in the same commit, so the diff shows which outputs moved.
# summary.json's timing fields (wall_time_ms, records_per_sec) are removed before
# hashing: they are the only outputs that depend on the machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

golden=tests/golden/replay.sha256
runs=("1 small" "2 small" "3 small" "7 small" "11 small" "1 medium")

cargo build --profile golden --quiet
bin="$PWD/target/golden/cellwatch"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Any failing command shows the tail of what the binaries printed.
trap 'tail -20 "$work/log" >&2' ERR

actual="$work/actual.sha256"
: >"$actual"
for run in "${runs[@]}"; do
    read -r seed scale <<<"$run"
    name="seed${seed}-${scale}"
    mkdir -p "$work/$name"
    # Relative paths: dead letters and the summary name their input files.
    (
        cd "$work/$name"
        "$bin" simulate --seed "$seed" --scale "$scale" --out scenario >/dev/null 2>>"$work/log"
        "$bin" replay --sms-volume scenario/sms_volume.jsonl --measurements scenario/measurements.jsonl \
            --cells scenario/cells.csv --out replay >/dev/null 2>>"$work/log"
    )
    python3 - "$work/$name/replay/summary.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p))
s.pop("wall_time_ms", None); s.pop("records_per_sec", None)
open(p, "w").write(json.dumps(s, indent=1, sort_keys=True))
PY
    (cd "$work" && find "$name" -type f | LC_ALL=C sort | xargs sha256sum) >>"$actual"
done

if [[ "${1:-}" == "--bless" ]]; then
    cp "$actual" "$golden"
    echo "golden: wrote $golden ($(wc -l <"$golden") files)"
    exit 0
fi
if [[ ! -f "$golden" ]]; then
    echo "golden: $golden is missing; run scripts/golden.sh --bless on a known-good commit" >&2
    exit 1
fi
if diff -u "$golden" "$actual"; then
    echo "golden: simulate and replay outputs identical ($(wc -l <"$golden") files)"
else
    echo "golden: outputs differ from $golden (above); if the change is meant, run scripts/golden.sh --bless" >&2
    exit 1
fi
