"""Group commit: items submitted concurrently are written in one transaction.

Calls placed by one worker finish their provider round trip at about the same time;
recording each in its own transaction would cost a commit (and, on SQLite, the
database-wide write lock) per call. ``GroupCommit.submit`` queues the item and waits;
one drain task takes everything queued so far and hands it to ``fn`` at once.

The drain task is independent of the submitters, so a submitter being cancelled (worker
shutdown) does not abort the write it is part of.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int = 500):
        self._fn = fn
        self._max = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(0)  # let submitters of this same moment join the round
                batch, self._pending = self._pending[: self._max], self._pending[self._max :]
                try:
                    results = await self._fn([item for item, _ in batch])
                except Exception as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), result in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self._task = None
