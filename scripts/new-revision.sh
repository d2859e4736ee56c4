#!/usr/bin/env bash
# A new migration from the models' changes:
#   scripts/new-revision.sh "what changed" [revision-id]
# Upgrades a throw-away SQLite database to the current head, then lets Alembic compare
# it with the models (autogenerate) and writes migrations/versions/<date>_<slug>.py on
# top of the head. Read the result before committing: autogenerate misses renames and
# server defaults, and data migrations are yours to write.
set -euo pipefail
cd "$(dirname "$0")/.."
message=${1:?usage: scripts/new-revision.sh "what changed" [revision-id]}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export DIALER_DATABASE_URL="sqlite+aiosqlite:///$tmp/head.db"
uv run --frozen alembic upgrade head >/dev/null
uv run --frozen alembic revision --autogenerate -m "$message" ${2:+--rev-id "$2"}
uv run --frozen ruff format -q migrations/versions/
uv run --frozen ruff check -q --fix migrations/versions/ || true
uv run --frozen alembic heads
