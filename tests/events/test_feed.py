"""The shared events feed behind every progress stream of an API process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from dialer import outbox
from dialer.db.session import Database
from dialer.events import feed as feed_module
from dialer.events.feed import feed_for
from dialer.events.stream import StreamItem, batch_stream
from tests.factories import add_account, add_batch
from tests.fixtures.waiting import eventually


async def _publish(db: Database, batch: Any, n: int, tag: str) -> None:
    async with db.write() as session:
        for i in range(n):
            await outbox.publish(
                session, account_id=batch.account_id, batch_id=batch.id, type="note",
                data={"tag": tag, "i": i},
            )  # fmt: skip


async def _take_events(
    stream: Any, n: int, got: list[StreamItem] | None = None
) -> list[StreamItem]:
    """The stream's next ``n`` events (collected into ``got`` as they come, if given)."""
    got = [] if got is None else got
    async for item in stream:
        if item.kind == "event":
            got.append(item)
            if len(got) == n:
                return got
    return got


async def test_many_streams_each_get_exactly_their_batch_in_order(database):
    async with database.write() as session:
        account, _ = await add_account(session)
        batches = [(await add_batch(session, account, jobs=1))[0] for _ in range(6)]

    streams = [batch_stream(database, b.id, account_id=account.id) for b in batches]
    for s in streams:
        assert (await anext(s)).kind == "status"
    received: list[list[StreamItem]] = [[] for _ in streams]
    readers = [
        asyncio.create_task(_take_events(s, 15, got))
        for s, got in zip(streams, received, strict=True)
    ]
    # Writes to all the batches interleave, over several rounds and several transactions;
    # a round is written once every stream has received the one before.
    for rnd in range(3):
        for b in batches:
            await _publish(database, b, 5, f"{b.id}:{rnd}")

        def delivered(upto: int = 5 * (rnd + 1)) -> bool:
            return all(len(got) >= upto for got in received)

        await eventually(delivered, within=20, what=f"round {rnd} delivered to every stream")
    results = await asyncio.wait_for(asyncio.gather(*readers), 20)

    for b, got in zip(batches, results, strict=True):
        ids = [item.id for item in got]
        assert ids == sorted(ids)
        assert len(set(ids)) == 15
        assert [item.data["data"]["tag"] for item in got] == [
            f"{b.id}:{r}" for r in range(3) for _ in range(5)
        ]
    for s in streams:
        await s.aclose()


async def test_streams_share_one_read_per_round(database, monkeypatch):
    async with database.write() as session:
        account, _ = await add_account(session)
        batches = [(await add_batch(session, account, jobs=1))[0] for _ in range(10)]
    statements: list[str] = []

    def count(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        if "FROM events" in sql:
            statements.append(sql)

    engine = database.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    streams = [batch_stream(database, b.id, account_id=account.id) for b in batches]
    try:
        for s in streams:
            await anext(s)  # the snapshot: one read of its own per stream
        opened = len(statements)
        readers = [asyncio.create_task(_take_events(s, 2)) for s in streams]
        for b in batches:
            await _publish(database, b, 2, "x")
        await asyncio.wait_for(asyncio.gather(*readers), 20)
        rounds = len(statements) - opened
        feed = feed_for(database)
        # Ten streams: as many reads of the events table as rounds, not ten per round.
        assert 1 <= rounds <= 2 * feed.rounds
        assert feed.rounds < 10
    finally:
        event.remove(engine, "before_cursor_execute", count)
        for s in streams:
            await s.aclose()


async def test_a_backlog_longer_than_a_round_is_delivered_whole(database, monkeypatch):
    monkeypatch.setattr(feed_module, "ROUND_ROWS", 7)
    async with database.write() as session:
        account, _ = await add_account(session)
        batch, _ = await add_batch(session, account, jobs=1)
        other, _ = await add_batch(session, account, jobs=1)
    for i in range(5):
        await _publish(database, batch, 6, f"b{i}")
        await _publish(database, other, 4, f"o{i}")

    stream = batch_stream(database, batch.id, account_id=account.id, after_id=0)
    await anext(stream)
    got = await asyncio.wait_for(_take_events(stream, 30), 20)
    await stream.aclose()
    assert [item.data["data"]["tag"] for item in got] == [
        f"b{i}" for i in range(5) for _ in range(6)
    ]
    assert len({item.id for item in got}) == 30


@pytest.mark.postgres_only
async def test_an_event_committed_late_below_the_read_mark_is_not_lost(database, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite serialises writers: ids appear in commit order")
    async with database.write() as session:
        account, _ = await add_account(session)
        batch, _ = await add_batch(session, account, jobs=1)
    stream = batch_stream(database, batch.id, account_id=account.id)
    await anext(stream)
    got: list[StreamItem] = []
    reader = asyncio.create_task(_take_events(stream, 2, got))

    async with database.write() as slow:
        # Takes the lower id first, commits last.
        await outbox.publish(
            slow, account_id=account.id, batch_id=batch.id, type="note", data={"tag": "slow"}
        )
        await slow.flush()
        await _publish(database, batch, 1, "fast")
        # "fast" is read and sent while "slow", below it, is still uncommitted.
        await eventually(lambda: len(got) == 1, within=20, what='"fast" received')
    await asyncio.wait_for(reader, 20)
    await stream.aclose()
    assert [item.data["data"]["tag"] for item in got] == ["fast", "slow"]
    assert got[1].id < got[0].id
