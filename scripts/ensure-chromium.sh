#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed: the evidence-report test
# (tests/inspect_html.rs) opens the generated HTML in headless Chromium, and the
# analyst console's browser tests (tests/console_browser.rs) drive the console in it;
# neither may skip. Quiet when chromium is already there; installs it (as root or with
# passwordless sudo) otherwise. Called by scripts/test.sh before cargo test.
#
#   scripts/ensure-chromium.sh        exit 0 when `chromium` runs afterwards
#
# Progress goes to stderr; the apt log is kept in ${CW_SERVICES_DIR:-<repo>/.services}/apt-chromium.log.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${CW_SERVICES_DIR:-$repo/.services}"

log() { printf '[chromium] %s\n' "$*" >&2; }
die() { printf '[chromium] ERROR: %s\n' "$*" >&2; exit 1; }

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to install chromium; install Debian's chromium package by hand"
  fi
}

mkdir -p "$state"
aptlog="$state/apt-chromium.log"
log "installing Debian's chromium package (log: $aptlog)"
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update >"$aptlog" 2>&1; then
  tail -n 20 "$aptlog" >&2 || true
  die "apt-get update failed; see $aptlog"
fi
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    -o DPkg::Lock::Timeout=300 chromium fonts-dejavu-core >>"$aptlog" 2>&1; then
  tail -n 20 "$aptlog" >&2 || true
  die "apt-get install chromium failed; see $aptlog"
fi
command -v chromium >/dev/null 2>&1 || die "chromium is still missing after apt-get install"
log "chromium installed: $(chromium --version 2>/dev/null || echo unknown version)"
