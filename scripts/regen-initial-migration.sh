#!/usr/bin/env bash
# Regenerate the single initial migration from the models (pre-release only: the schema
# has never shipped, so there is one revision). Run after changing any model.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f migrations/versions/*_initial.py
DIALER_DATABASE_URL="sqlite+aiosqlite:///$tmp/regen.db" uv run --frozen alembic revision --autogenerate -m initial --rev-id 0001 >/dev/null
uv run --frozen ruff format -q migrations/versions/ 
uv run --frozen ruff check -q --fix migrations/versions/ || true
rm -rf "$tmp"
ls migrations/versions/
