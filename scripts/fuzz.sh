#!/usr/bin/env bash
# Fuzz cellwatch's input parsers with cargo-fuzz (libFuzzer), one target at a time:
#
#   scripts/fuzz.sh [--time SECONDS] [--no-cmin] [TARGET...]
#
#   TARGET     parse_record, inventory_csv, config_toml, http_request, console_request
#              (default: all, one after the other)
#   --time     seconds per target (default 60; the release check is 1800 per target)
#   --no-cmin  keep the grown corpus as it is (default: minimise it afterwards)
#
# Installs what it needs on first use: the nightly toolchain (rustup, minimal profile)
# and cargo-fuzz (crates.io). Each target starts from its kept corpus in
# fuzz/corpus/TARGET/ (committed; replayed on stable by tests/fuzz_corpus.rs), adds the
# inputs that reach new code there, then libFuzzer's -merge (what `cargo fuzz cmin`
# runs) minimises the folder so only inputs that add coverage stay. A crash is saved under fuzz/artifacts/TARGET/ and
# the script exits non-zero after the other targets: turn each crash into a regression
# test (docs/security.md, "Fuzzing"). Runs under `nice -n 19`: the machine is shared.
# The statistics of each run (executions, coverage) are in fuzz/logs/TARGET.log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

all_targets=(parse_record inventory_csv config_toml http_request console_request)
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
    console_request) echo 8192 ;;
    *) echo 8192 ;;
  esac
}

# Seconds one input may take: a console input may hold many logins, each an argon2
# check (19 MiB), and the target allows 1 s for each.
input_timeout() {
  case "$1" in
    console_request) echo 60 ;;
    *) echo 10 ;;
  esac
}

host=$(rustc +nightly -vV | sed -n 's/^host: //p')
mkdir -p fuzz/logs
failed=()
for t in "${targets[@]}"; do
  [[ -f "fuzz/fuzz_targets/$t.rs" ]] || { echo "fuzz.sh: no target $t (fuzz/fuzz_targets/)" >&2; exit 2; }
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  log "$t: building"
  nice -n 19 cargo +nightly fuzz build -O "$t"
  # Fuzz and minimise with this one build, run directly (what `cargo fuzz run` and
  # `cargo fuzz cmin` run, with the same -artifact_prefix): both of those call
  # `cargo build` first, and a source edited during a long run made the minimisation
  # step rebuild the library (release, one codegen unit, sanitizer) before it could
  # start, and then minimise with a binary other than the one that fuzzed. The copy
  # keeps a `cargo fuzz build` of another target or edit from replacing it meanwhile.
  bin="fuzz/target/run-$t"
  cp "fuzz/target/$host/release/$t" "$bin"
  run() { nice -n 19 "$bin" -artifact_prefix="fuzz/artifacts/$t/" -max_len="$(max_len "$t")" \
    -rss_limit_mb=2048 -timeout="$(input_timeout "$t")" "$@"; }
  log "$t: fuzzing for ${seconds}s from $(find "fuzz/corpus/$t" -type f | wc -l) corpus inputs (log: fuzz/logs/$t.log)"
  if run -max_total_time="$seconds" -print_final_stats=1 "fuzz/corpus/$t" >"fuzz/logs/$t.log" 2>&1; then
    log "$t: no crash; $(grep -E '^stat::number_of_executed_units' "fuzz/logs/$t.log" | tail -n 1)"
  else
    log "$t: FAILED: see fuzz/logs/$t.log and fuzz/artifacts/$t/"
    tail -n 40 "fuzz/logs/$t.log" >&2
    failed+=("$t")
  fi
  grep -E '^#[0-9]+ +(DONE|INITED)' "fuzz/logs/$t.log" >&2 || true
  if ((cmin)); then
    log "$t: minimising the corpus"
    merged=$(mktemp -d "fuzz/target/cmin-$t.XXXXXX")
    started=$SECONDS
    if run -merge=1 "$merged" "fuzz/corpus/$t" >"fuzz/logs/$t.cmin.log" 2>&1; then
      rm -rf "fuzz/corpus/$t" && mv "$merged" "fuzz/corpus/$t"
      log "$t: minimised in $((SECONDS - started))s: $(find "fuzz/corpus/$t" -type f | wc -l) inputs, $(du -sk "fuzz/corpus/$t" | cut -f1) KiB kept"
    else
      rm -rf "$merged"
      log "$t: minimising failed (fuzz/logs/$t.cmin.log)"
      failed+=("$t:cmin")
    fi
  fi
  rm -f "$bin"
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all targets ran without a crash"
