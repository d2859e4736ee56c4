"""Injectable clock. Code asks ``clock.now()``; tests swap in a ``FrozenClock``.

A clock may also be driven across processes: when ``DIALER_CLOCK_FILE`` is set, the
current time is read from that file (an ISO timestamp), so multi-process tests can move
time for every worker at once.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class FileClock:
    """Reads 'now' from a file: '<iso timestamp>' or '<iso timestamp> <rate>'.

    With a rate, time flows from the file's instant at ``rate`` x real speed measured
    from the file's modification time. Used to drive several worker processes through
    a simulated calendar (DST changes, weeks) in tests.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[float, datetime, float] | None = None

    def now(self) -> datetime:
        stat = self.path.stat()
        if self._cache is None or self._cache[0] != stat.st_mtime:
            text = self.path.read_text().split()
            base = datetime.fromisoformat(text[0]).astimezone(UTC)
            rate = float(text[1]) if len(text) > 1 else 0.0
            self._cache = (stat.st_mtime, base, rate)
        mtime, base, rate = self._cache
        if rate:
            real = datetime.now(UTC).timestamp() - mtime
            return base + timedelta(seconds=real * rate)
        return base


def _default() -> Clock:
    path = os.environ.get("DIALER_CLOCK_FILE")
    return FileClock(Path(path)) if path else SystemClock()


clock: Clock = _default()


def now() -> datetime:
    """The current time from the installed clock (UTC, aware)."""
    return clock.now()


def set_clock(c: Clock) -> Clock:
    """Install a clock; returns the previous one."""
    global clock
    previous, clock = clock, c
    return previous
