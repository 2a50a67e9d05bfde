#!/usr/bin/env bash
# Fuzz cellwatch's input parsers with cargo-fuzz (libFuzzer), one target at a time:
#
#   scripts/fuzz.sh [--time SECONDS] [--no-cmin] [TARGET...]
#
#   TARGET     parse_record, inventory_csv, config_toml, http_request (default: all, one
#              after the other)
#   --time     seconds per target (default 60; the release check is 1800 per target)
#   --no-cmin  keep the grown corpus as it is (default: minimise it afterwards)
#
# Installs what it needs on first use: the nightly toolchain (rustup, minimal profile)
# and cargo-fuzz (crates.io). Each target starts from its kept corpus in
# fuzz/corpus/TARGET/ (committed; replayed on stable by tests/fuzz_corpus.rs), adds the
# inputs that reach new code there, then `cargo fuzz cmin` minimises the folder so only
# inputs that add coverage stay. A crash is saved under fuzz/artifacts/TARGET/ and
# the script exits non-zero after the other targets: turn each crash into a regression
# test (docs/security.md, "Fuzzing"). Runs under `nice -n 19`: the machine is shared.
# The statistics of each run (executions, coverage) are in fuzz/logs/TARGET.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_targets=(parse_record inventory_csv config_toml http_request)
seconds=60
cmin=1
targets=()
while (($#)); do
  case "$1" in
    --time) seconds="$2"; shift 2 ;;
    --no-cmin) cmin=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")

log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain (rustup, minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi

# Per-target libFuzzer options: the CSV loader's row limit (8 KiB) needs longer inputs.
max_len() {
  case "$1" in
    inventory_csv) echo 24576 ;;
    config_toml) echo 32768 ;;
    http_request) echo 20480 ;;
    *) echo 8192 ;;
  esac
}

mkdir -p fuzz/logs
failed=()
for t in "${targets[@]}"; do
  [[ -f "fuzz/fuzz_targets/$t.rs" ]] || { echo "fuzz.sh: no target $t (fuzz/fuzz_targets/)" >&2; exit 2; }
  mkdir -p "fuzz/corpus/$t"
  log "$t: building"
  nice -n 19 cargo +nightly fuzz build -O "$t"
  log "$t: fuzzing for ${seconds}s from $(find "fuzz/corpus/$t" -type f | wc -l) corpus inputs (log: fuzz/logs/$t.log)"
  if nice -n 19 cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -max_len="$(max_len "$t")" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 >"fuzz/logs/$t.log" 2>&1; then
    log "$t: no crash; $(grep -E '^stat::number_of_executed_units' "fuzz/logs/$t.log" | tail -n 1)"
  else
    log "$t: FAILED: see fuzz/logs/$t.log and fuzz/artifacts/$t/"
    tail -n 40 "fuzz/logs/$t.log" >&2
    failed+=("$t")
  fi
  grep -E '^#[0-9]+ +(DONE|INITED)' "fuzz/logs/$t.log" >&2 || true
  if ((cmin)); then
    log "$t: minimising the corpus"
    nice -n 19 cargo +nightly fuzz cmin -O "$t" "fuzz/corpus/$t" -- -max_len="$(max_len "$t")" \
      >"fuzz/logs/$t.cmin.log" 2>&1 || { log "$t: cmin failed (fuzz/logs/$t.cmin.log)"; failed+=("$t:cmin"); }
    log "$t: $(find "fuzz/corpus/$t" -type f | wc -l) inputs, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB kept"
  fi
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all targets ran without a crash"
