#!/usr/bin/env bash
# Command 2: install what is needed and pass the whole test suite:
#   1. the suite on SQLite, 2. the suite on a throw-away PostgreSQL (installed from apt
#   when missing), 3. the browser tests in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
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

echo "== suite on SQLite =="
$PYTEST -m "not browser" "$@"

echo "== suite on PostgreSQL =="
pg_port=${DIALER_TEST_PG_PORT:-54329}
pg_url=$(scripts/pg.sh start "$pg_port")
trap 'scripts/pg.sh stop "$pg_port"' EXIT
TEST_DATABASE_URL="$pg_url" $PYTEST -m "not browser" "$@"

echo "== browser tests (Chromium) =="
$PYTEST -m browser "$@"
