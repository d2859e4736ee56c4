#!/usr/bin/env bash
# Command 2: install what is needed and pass the whole test suite:
#   1. lint and types, 2. the suite on SQLite and the suite on a throw-away PostgreSQL
#   (installed from apt when missing) side by side - one pytest process uses one core,
#   and the two runs share nothing but the machine -, 3. the browser tests in Debian's
#   Chromium. Each suite's output goes to test-artifacts/suite-<db>.log and is printed
#   when both are done; the script fails when either fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
# Python may write its bytecode cache: the suite starts ~150 Python processes (worker
# processes, live servers), and each one compiling every module from source again costs
# ~2 s of CPU; pytest also caches its rewritten test modules there.
unset PYTHONDONTWRITEBYTECODE
command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
uv sync --frozen -q

apt_updated=
need_apt() {
  [ -n "$apt_updated" ] || { apt-get update -qq; apt_updated=1; }
  apt-get install -y -qq "$@" >/dev/null
}
[ -x /usr/bin/chromium ] || need_apt chromium
command -v libreoffice >/dev/null 2>&1 || need_apt libreoffice-calc-nogui || need_apt libreoffice-calc

mkdir -p test-artifacts
PYTEST="uv run --frozen pytest -q -p no:randomly"

echo "== lint =="
uv run --frozen ruff check src tests bench scripts migrations
uv run --frozen mypy src
uv run --frozen lint-imports

echo "== suite on SQLite and on PostgreSQL (side by side) =="
pg_port=${DIALER_TEST_PG_PORT:-54329}
suites=()
cleanup() {
  for pid in "${suites[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/pg.sh stop "$pg_port"
}
trap cleanup EXIT
pg_url=$(scripts/pg.sh start "$pg_port")
started=$SECONDS
$PYTEST -m "not browser" "$@" >test-artifacts/suite-sqlite.log 2>&1 &
suites+=($!)
TEST_DATABASE_URL="$pg_url" $PYTEST -m "not browser" "$@" >test-artifacts/suite-postgresql.log 2>&1 &
suites+=($!)
sqlite_rc=0 pg_rc=0
wait "${suites[0]}" || sqlite_rc=$?
wait "${suites[1]}" || pg_rc=$?
suites=()
for db in sqlite postgresql; do
  echo "-- $db --"
  cat "test-artifacts/suite-$db.log"
done
echo "(both suites: $((SECONDS - started)) s)"
if [ "$sqlite_rc" != 0 ] || [ "$pg_rc" != 0 ]; then
  echo "FAILED: suite on SQLite exit $sqlite_rc, suite on PostgreSQL exit $pg_rc" >&2
  exit 1
fi

echo "== browser tests (Chromium) =="
$PYTEST -m browser "$@"
