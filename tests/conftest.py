from __future__ import annotations

import os

# The suite decides every setting itself: a developer's DIALER_* variables (a database
# URL, a provider, production mode, a clock file) must not leak into the tests or the
# processes they start (worker processes and live servers inherit this environment).
# Cleared before the product is imported: the clock reads DIALER_CLOCK_FILE on import.
for _name in [n for n in os.environ if n.startswith("DIALER_")]:
    del os.environ[_name]
os.environ["DIALER_LOG_LEVEL"] = "WARNING"

# ruff: noqa: E402  (the environment is cleared above, before these imports)
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from dialer.account import passwords
from dialer.config import Settings
from dialer.db.session import Database
from dialer.kit import clock as clock_mod
from dialer.kit.clock import FrozenClock
from dialer.main import create_app
from tests.fixtures import routes
from tests.fixtures.database import (
    configured_pg_url,
    fresh_sqlite,
    migrate,
    sqlite_template,
    truncate_postgres,
)

ADMIN_KEY = "test-admin-key-0123456789"

# Argon2 at its production cost takes ~0.15 s of CPU per hash or log-in; the in-process
# tests hash with the cheapest argon2id parameters instead (same code path, same hash
# format). The browser tests' live server keeps the production cost.
passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
# Every test's application shares one build of the route handlers (see routes.py).
routes.install()


def pytest_report_header(config: pytest.Config) -> str:
    url = configured_pg_url()
    return f"dialer database: {'postgresql' if url else 'sqlite'}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    if configured_pg_url():
        return None
    return sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def _pg_migrated() -> str | None:
    url = configured_pg_url()
    if url:
        migrate(url)
    return url


@pytest.fixture
def db_url(_sqlite_template: Path | None, _pg_migrated: str | None, tmp_path: Path) -> str:
    """A migrated, empty database for this test."""
    if _pg_migrated:
        truncate_postgres(_pg_migrated)
        return _pg_migrated
    assert _sqlite_template is not None
    return fresh_sqlite(_sqlite_template, tmp_path / "dialer.db")


@pytest.fixture
def dialect(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        ENV="test",
        DATABASE_URL=db_url,
        ADMIN_API_KEY=ADMIN_KEY,  # type: ignore[arg-type]
        DATA_DIR=tmp_path / "data",
        LOG_JSON=True,
        LOG_LEVEL="WARNING",
        STATUS_RATE_LIMIT="100000/minute",
        UPLOAD_RATE_LIMIT="100000/minute",
        PREVIEW_RATE_LIMIT="100000/minute",
        STREAM_RATE_LIMIT="100000/minute",
        LOGIN_FAILURE_RATE_LIMIT="100000/minute",
    )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.DATABASE_URL)
    yield db
    await db.dispose()


@pytest.fixture
def frozen_clock() -> Iterator[FrozenClock]:
    """A controllable clock installed for the test (2026-03-02 Mon 15:00 UTC by default)."""
    fc = FrozenClock(datetime.fromisoformat("2026-03-02T15:00:00+00:00"))
    previous = clock_mod.set_clock(fc)
    yield fc
    clock_mod.set_clock(previous)


@pytest.fixture
async def app(settings: Settings, database: Database) -> AsyncIterator[Any]:
    application = create_app(settings, database=database)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def second_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API instance on the same database (own pools and state, as a second
    uvicorn process has)."""
    db = Database(settings.DATABASE_URL)
    application = create_app(settings, database=db)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://second") as c:
                yield c
    finally:
        await db.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Unauthenticated client speaking HTTP to the ASGI app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def admin(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Client authenticated with the admin key."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as c:
        yield c


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
