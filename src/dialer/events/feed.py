"""One events poller per API process, shared by every progress stream it serves.

A stream follows one batch (``watch``: the campaign page, ``/batches/{id}/events``) or
one account (``watch_account``: the overview, ``/accounts/{id}/events``); each kind is
read by its own query of the round, on its own index (``ix_events_batch_id``,
``ix_events_account_id``), with the same cursors and late-commit look-back.

Each open stream used to poll the database on its own: two or three queries every half
second per stream, each in its own session, plus the decoding of every row it re-read.
Under load those reads queued in front of the API's other requests (/status, the
overview). The feed reads for all of them at once. A *round* is one read session:

1. the new ``events`` rows of every watched batch, oldest first, in one query
   (``batch_id IN (...) AND id > lowest cursor``, bounded by ``ROUND_ROWS``);
2. on PostgreSQL only, the rows that committed late below what was already read: their
   ids first (an index-only range scan), then the few rows not yet delivered;
3. the counters of the watched batches, in one query (read first: see ``_round``).

Each stream then gets the rows of its own batch and its batch's counters. Rounds run
every ``interval_s``, or shortly after a local commit (``dialer.outbox`` wakes the
feed). A round serves only the streams that are waiting for one: a stream whose client
reads slowly is left out until it asks again, so nothing piles up in memory, and its
cursor, which only moves with what it was given, makes it catch up on the next round.

PostgreSQL hands out ids before commit, so a transaction that commits late can make a
lower id appear after a higher one was read. Every id at or below a read mark was handed
out before that read, so once ``LOOKBACK`` has passed since, all of them have committed
or never will: until then that range is looked at again (ids only, through the index)
and already delivered ids are skipped. SQLite serialises writers, so ids appear in
commit order and no look-back is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dialer import outbox
from dialer.db.session import Database
from dialer.events.repository import EventRepository

POLL_INTERVAL_S = 0.5
WAKE_DELAY_S = 0.05  # after a local commit: let its neighbours commit too
LOOKBACK_S = 5.0  # longest a transaction holding an event id is expected to stay open
ROUND_ROWS = 2000  # new rows read per round, all streams together


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    type: str
    job_id: str | None
    data: dict[str, Any]
    created_at: datetime
    batch_id: str | None = None


@dataclass(frozen=True, slots=True)
class Round:
    """What one round found for one stream."""

    rows: list[EventRow]  # oldest first, none delivered before
    counters: Any  # the batch's counter columns (a Row), None if the batch is gone
    drained: bool  # False when the round stopped at ROUND_ROWS: another follows at once


ALL_ACCOUNTS = "*"  # an admin's account watch: every account's events


@dataclass(eq=False)
class Watch:
    """One stream's place in the feed: a batch's events, or an account's (``account_id``
    set, ``batch_id`` empty; ALL_ACCOUNTS for every account)."""

    batch_id: str
    read_to: int  # every row of the batch with id <= read_to was read (or predates it)
    floor: int  # PostgreSQL: rows in (floor, read_to] may still commit late
    delivered: set[int] = field(default_factory=set)  # ids in (floor, read_to] already sent
    marks: deque[tuple[float, int]] = field(default_factory=deque)  # (when, read_to) reached
    pending: asyncio.Future[Round] | None = None
    account_id: str | None = None

    @property
    def key(self) -> str:
        """The batch or account whose rows this watch gets."""
        return self.account_id if self.account_id is not None else self.batch_id


class EventFeed:
    """Polls ``events`` and batch counters for all the streams of one ``Database``."""

    def __init__(self, db: Database, *, interval_s: float = POLL_INTERVAL_S) -> None:
        self.db = db
        self.interval_s = interval_s
        self.lookback = db.dialect == "postgresql"
        self._watches: set[Watch] = set()
        self._task: asyncio.Task[None] | None = None
        self._kick = asyncio.Event()  # a stream is waiting and no round is due soon
        self.rounds = 0  # rounds read so far (for tests and curiosity)

    # -- streams --------------------------------------------------------------------------

    def watch(self, batch_id: str, cursor: int) -> Watch:
        """Start following ``batch_id`` after event id ``cursor``."""
        return self._add(Watch(batch_id=batch_id, read_to=cursor, floor=cursor))

    def watch_account(self, account_id: str | None, cursor: int) -> Watch:
        """Start following every event of ``account_id`` (None: of every account)."""
        key = ALL_ACCOUNTS if account_id is None else account_id
        return self._add(Watch(batch_id="", read_to=cursor, floor=cursor, account_id=key))

    def _add(self, w: Watch) -> Watch:
        self._watches.add(w)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="events-feed")
        return w

    def unwatch(self, w: Watch) -> None:
        self._watches.discard(w)
        if w.pending is not None and not w.pending.done():
            w.pending.cancel()
        if not self._watches:
            self._kick.set()  # the poller sees nobody is left and ends

    async def next_round(self, w: Watch, *, now: bool = False) -> Round:
        """Wait for the next round that serves ``w`` (``now``: run one at once)."""
        w.pending = asyncio.get_running_loop().create_future()
        if now:
            self._kick.set()
        return await w.pending

    # -- the poller ------------------------------------------------------------------------

    async def _run(self) -> None:
        waiter = outbox.subscribe()
        try:
            while self._watches:
                ready = [w for w in self._watches if w.pending is not None and not w.pending.done()]
                if ready:
                    try:
                        results = await self._round(ready)
                    except Exception as exc:  # the streams end with it; the feed goes on
                        for w in ready:
                            if w.pending is not None and not w.pending.done():
                                w.pending.set_exception(exc)
                    else:
                        for w, rnd in results.items():
                            if w.pending is not None and not w.pending.done():
                                w.pending.set_result(rnd)
                        if any(not r.drained for r in results.values()):
                            continue  # a backlog: read on at once
                await self._wait(waiter)
        finally:
            outbox.unsubscribe(waiter)

    async def _wait(self, waiter: asyncio.Event) -> None:
        kick = asyncio.ensure_future(self._kick.wait())
        local = asyncio.ensure_future(waiter.wait())
        try:
            await asyncio.wait(
                {kick, local}, timeout=self.interval_s, return_when="FIRST_COMPLETED"
            )
        finally:
            for f in (kick, local):
                f.cancel()
        if waiter.is_set() and not self._kick.is_set():
            await asyncio.sleep(WAKE_DELAY_S)
        waiter.clear()
        self._kick.clear()

    async def _round(self, ready: list[Watch]) -> dict[Watch, Round]:
        self.rounds += 1
        batches = [w for w in ready if w.account_id is None]
        accounts = [w for w in ready if w.account_id is not None]
        results: dict[Watch, Round] = {}
        async with self.db.read() as session:
            repo = EventRepository.from_session(session)
            if batches:
                batch_ids = sorted({w.batch_id for w in batches})
                # Counters first: on PostgreSQL each read statement sees its own
                # snapshot, and a settlement commits its events with the counters, so
                # counters read before the rows never say "over" for a batch whose last
                # events the rows then miss (the stream would end without them).
                counters = await repo.counters(batch_ids)
                new = await repo.new_rows(batch_ids, _low(batches), ROUND_ROWS)
                late = await self._late_rows(repo, batches, "batch") if self.lookback else []
                results |= self._deal(batches, new, late, counters)
            if accounts:
                keys = sorted({w.key for w in accounts})
                scope = None if ALL_ACCOUNTS in keys else keys
                new = await repo.new_account_rows(scope, _low(accounts), ROUND_ROWS)
                late = await self._late_rows(repo, accounts, "account") if self.lookback else []
                results |= self._deal(accounts, new, late, {})
        return results

    def _deal(
        self,
        ready: list[Watch],
        new: Sequence[Any],
        late: Sequence[Any],
        counters: dict[str, Any],
    ) -> dict[Watch, Round]:
        """Hand each watch the rows of its batch or account from one query's result."""
        drained = len(new) < ROUND_ROWS
        # Every watched key was read up to here (the last id, when the round was cut).
        read_to = new[-1].id if new else None
        by_key: defaultdict[str, dict[int, Any]] = defaultdict(dict)
        for r in (*late, *new):  # the two reads may overlap: one entry per id
            if ready[0].account_id is None:
                by_key[r.batch_id][r.id] = r
            else:
                by_key[r.account_id][r.id] = r
                by_key[ALL_ACCOUNTS][r.id] = r
        now = time.monotonic()
        results: dict[Watch, Round] = {}
        for w in ready:
            rows = [
                EventRow(r.id, r.type, r.job_id, r.data, r.created_at, r.batch_id)
                for _, r in sorted(by_key.get(w.key, {}).items())
                if r.id > w.read_to or (w.floor < r.id and r.id not in w.delivered)
            ]
            if read_to is not None and read_to > w.read_to:
                w.read_to = read_to
                if self.lookback:
                    w.marks.append((now, read_to))
            if self.lookback:
                w.delivered.update(r.id for r in rows)
                _advance(w, now)
            else:
                w.floor = w.read_to
            results[w] = Round(rows, counters.get(w.batch_id), drained)
        return results

    async def _late_rows(self, repo: EventRepository, ready: list[Watch], by: str) -> Sequence[Any]:
        """Rows below the streams' read marks that committed after those were read."""
        open_ = [w for w in ready if w.read_to > w.floor]
        if not open_:
            return []
        keys = sorted({w.key for w in open_})
        low, high = min(w.floor for w in open_), max(w.read_to for w in open_)
        if by == "batch":
            ids = await repo.ids_between(keys, low, high)
        else:
            ids = await repo.account_ids_between(None if ALL_ACCOUNTS in keys else keys, low, high)
        watching: defaultdict[str, list[Watch]] = defaultdict(list)
        for w in open_:
            watching[w.key].append(w)
        missing = {
            r.id
            for r in ids
            for w in (
                watching[r.batch_id]
                if by == "batch"
                else [*watching[r.account_id], *watching[ALL_ACCOUNTS]]
            )
            if w.floor < r.id <= w.read_to and r.id not in w.delivered
        }
        return await repo.rows_by_id(sorted(missing)) if missing else []


def _low(watches: list[Watch]) -> int:
    return min(w.read_to for w in watches)


def _advance(w: Watch, now: float) -> None:
    """Raise the look-back floor to the newest read mark reached LOOKBACK_S ago or more."""
    floor = w.floor
    while w.marks and w.marks[0][0] <= now - LOOKBACK_S:
        floor = max(floor, w.marks.popleft()[1])
    if floor > w.floor:
        w.floor = floor
        w.delivered = {i for i in w.delivered if i > floor}


_feeds: weakref.WeakKeyDictionary[Database, dict[asyncio.AbstractEventLoop, EventFeed]] = (
    weakref.WeakKeyDictionary()
)


def feed_for(db: Database) -> EventFeed:
    """The feed of ``db`` on the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    per_loop = _feeds.setdefault(db, {})
    for other in [lp for lp in per_loop if lp.is_closed()]:
        with contextlib.suppress(KeyError):
            del per_loop[other]
    feed = per_loop.get(loop)
    if feed is None:
        feed = per_loop[loop] = EventFeed(db)
    return feed
