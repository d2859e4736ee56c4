"""Engine factory. SQLite gets WAL, a busy timeout, foreign keys and explicit BEGIN modes.

SQLite write transactions start with ``BEGIN IMMEDIATE`` so that two processes never
both read and then try to upgrade to a write lock (which fails at once with
SQLITE_BUSY instead of waiting). Read-only sessions use a deferred BEGIN and do not
block writers in WAL mode.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

# A write connection checkpoints the WAL by itself only past this many pages (256 MB
# with 4 KiB pages, more than any import): db/checkpoint.py does it in the background.
AUTOCHECKPOINT_PAGES = 65_536


def create_engine(url: str, *, readonly: bool = False, **kwargs: Any) -> AsyncEngine:
    # SQL parameters (contact data, key hashes) stay out of logs and error messages.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, readonly=readonly, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_async_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection is checked (one round trip) before use only when it sat
# unused this long: then the server may have restarted or dropped it meanwhile. One
# used a moment ago is alive, and pinging it every time (``pool_pre_ping``) doubled the
# round trips of a one-query request such as /status, each a wait for the server
# process to be scheduled on a busy machine. A connection that dies while in use is
# invalidated by SQLAlchemy like any other disconnect.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    sync = engine.sync_engine

    @event.listens_for(sync, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since < PING_IDLE_S:
            return
        try:
            alive = sync.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("connection lost while idle in the pool") from exc
        if not alive:
            raise DisconnectionError("connection lost while idle in the pool")


def _sqlite_engine(url: str, *, readonly: bool, **kwargs: Any) -> AsyncEngine:
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", 30)
    if ":memory:" in url:
        kwargs.setdefault("poolclass", NullPool)
    else:
        # Keep enough connections open for the API's concurrency (pollers and the
        # dashboard each hold one per request, uploads one for a while): past the default
        # 5 the overflow ones were closed on return and reopened on the next request,
        # each time a new aiosqlite thread plus the PRAGMAs below.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 20)
    if not readonly:
        _create_private(make_url(url).database)
    engine = create_async_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver: we issue BEGIN ourselves.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        if not readonly:
            # Commits leave the log to the background checkpoints (db/checkpoint.py).
            cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def _create_private(path: str | None) -> None:
    """Create a missing SQLite file readable by its owner only (0600): it holds contact
    data and key hashes. SQLite gives its -wal and -shm files the same mode."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    target = Path(path)
    if target.exists() or not target.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
