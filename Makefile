.PHONY: run test test-fast test-sqlite test-pg test-browser lint migrate revision dev-api dev-worker bench

run:            ## the product with demo data (SQLite, simulated calls)
	bash scripts/run.sh
test:           ## the whole suite: SQLite, PostgreSQL, browser
	bash scripts/test.sh
test-fast:       ## the suite without the slow (multi-process, load) and browser tests, on SQLite
	uv run pytest -q -p no:randomly -m "not slow and not browser"
test-sqlite:
	uv run pytest -q -m "not browser"
test-pg:
	TEST_DATABASE_URL=$$(scripts/pg.sh start) uv run pytest -q -m "not browser"
test-browser:
	uv run pytest -q -m browser
lint:
	uv run ruff check src tests bench scripts migrations && uv run ruff format --check src tests && uv run lint-imports
migrate:
	uv run dialer migrate
revision:       ## a new migration from the model changes: make revision m="what changed"
	bash scripts/new-revision.sh "$(m)"
dev-api:
	uv run dialer serve --no-worker
dev-worker:
	uv run dialer worker
bench:          ## every benchmark once, at full size (bench/README.md; PostgreSQL: DIALER_BENCH_PG_URL or a throw-away cluster)
	uv run python bench/status_bench.py
	uv run python -m bench.auth_bench
	uv run python -m bench.dnc_bench
	uv run python -m bench.recovery_bench
	uv run python -m bench.load_bench
	uv run python -m bench.ingest_bench
	uv run --group bench python bench/dispatch_bench.py
