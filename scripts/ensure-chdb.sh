#!/usr/bin/env bash
# chDB (PyPI's chdb-core: a current ClickHouse engine, in-process) for the test that
# runs the DDL `cellwatch migrate` writes for a current server and the sink's inserts
# against it (tests/clickhouse_current.rs). Installs into a virtualenv under the
# services folder on first use; fast when present. Prints the venv's python.
#
#   scripts/ensure-chdb.sh      (scripts/test.sh runs it and exports CW_CHDB_PYTHON)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${CW_SERVICES_DIR:-$repo/.services}/chdb-venv"
log() { printf '[chdb] %s\n' "$*" >&2; }

if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import chdb' >/dev/null 2>&1; then
  printf '%s\n' "$venv/bin/python"
  exit 0
fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "installing python3-venv (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv >&2
fi
log "installing chdb-core from PyPI into $venv"
rm -rf "$venv"
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check chdb-core >&2
"$venv/bin/python" -c 'import chdb' || { log "chdb-core installed but 'import chdb' fails"; exit 1; }
log "chDB $("$venv/bin/python" "$repo/tests/chdb/load_rows.py" version) ready"
printf '%s\n' "$venv/bin/python"
