"""Sessions: the edge owns the transaction.

``Database`` holds a write engine and a read engine (on PostgreSQL the same pool, in
autocommit).
The API dependency commits on success and rolls back on any exception; the worker
uses ``db.write()`` per unit of work with the same semantics.

The API's write session is a *function-scoped* dependency: its commit runs when the
endpoint has returned and *before* the response is sent, so a client never receives a
2xx for a write that is not durable, and a request made after the response always sees
it. A commit that fails (a constraint, ``database is locked``, a dropped connection)
answers 503 ``CommitFailed``; nothing was written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, NewType

from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dialer.db.caches import INFO_KEY, Caches
from dialer.db.engine import create_engine
from dialer.errors import AppError
from dialer.logging import get_logger

log = get_logger("dialer.db")


class CommitFailed(AppError):
    """The change could not be saved; nothing was written. Try again."""

    status_code = 503


# A session opened read-only (deferred BEGIN on SQLite). The type checker keeps
# reporting code on it.
AsyncReadSession = NewType("AsyncReadSession", AsyncSession)


class Database:
    def __init__(self, url: str, **engine_kwargs: object) -> None:
        self.url = url
        self.engine: AsyncEngine = create_engine(url, **engine_kwargs)  # type: ignore[arg-type]
        if url.startswith("sqlite"):
            self.read_engine: AsyncEngine = create_engine(url, readonly=True)
        else:
            # Same pool, no transaction: each read is one round trip instead of three
            # (BEGIN, the query, ROLLBACK). Nothing is lost: under READ COMMITTED every
            # statement takes its own snapshot anyway, and read sessions take no locks.
            # Under a busy CPU each round trip waits for the server process to be
            # scheduled, so this shortens the API's tail latency the most.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # Caches of rows read from this database (db/caches.py), reached from its sessions.
        self.caches = Caches()
        info = {INFO_KEY: self.caches}
        self._write = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, info=info
        )
        self._read = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False, info=info
        )
        # Reads that stream rows need a transaction (PostgreSQL server-side cursors): on
        # PostgreSQL the write pool in a transaction that is only ever rolled back, on
        # SQLite the read engine (a deferred BEGIN never takes the write lock).
        self._snapshot = self._read if url.startswith("sqlite") else self._write

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on error."""
        async with self._write() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    def new_write_session(self) -> AsyncSession:
        """A bare write session; the caller commits or rolls back (the API dependency)."""
        return self._write()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncReadSession]:
        async with self._read() as session:
            try:
                yield AsyncReadSession(session)
            finally:
                await session.rollback()

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncReadSession]:
        """A read-only transaction that may stream rows; always rolled back."""
        async with self._snapshot() as session:
            try:
                yield AsyncReadSession(session)
            finally:
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine.pool is not self.engine.pool:
            await self.read_engine.dispose()


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def _write_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_database(request).new_write_session() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        try:
            await session.commit()
        except SQLAlchemyError as exc:
            # The endpoint returned, the commit did not hold: the client must not
            # believe the write did.
            await session.rollback()
            log.warning("db.commit_failed", path=request.url.path, error=type(exc).__name__)
            raise CommitFailed() from exc


async def _read_session(request: Request) -> AsyncIterator[AsyncReadSession]:
    async with get_database(request).read() as session:
        yield session


async def _snapshot_session(request: Request) -> AsyncIterator[AsyncReadSession]:
    async with get_database(request).snapshot() as session:
        yield session


# scope="function": committed before the response is sent (see the module docstring).
WriteSession = Annotated[AsyncSession, Depends(_write_session, scope="function")]
ReadSession = Annotated[AsyncReadSession, Depends(_read_session)]
# Previews: read everything a write would, streaming, without ever taking a write lock.
SnapshotSession = Annotated[AsyncReadSession, Depends(_snapshot_session)]
DatabaseDep = Annotated[Database, Depends(get_database)]
