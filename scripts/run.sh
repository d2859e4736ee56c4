#!/usr/bin/env bash
# Command 1: install what is needed and run the product (API + worker + dashboard on
# SQLite, simulated provider, demo account and sample data). Prints the URL to open.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
uv sync --frozen --no-dev -q
exec uv run --frozen --no-dev dialer demo "$@"
