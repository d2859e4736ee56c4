"""Local wall time -> UTC instant, correct across daylight-saving changes. Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


def first_instant(d: date, t: time, tz: ZoneInfo) -> datetime:
    """The first instant at which the local clock of ``tz`` reads ``d t`` or later.

    A repeated wall time (the autumn change) gives its first occurrence. A wall time the
    clock skips (the spring change, e.g. 00:30 on a night that jumps from 00:00 to 01:00)
    gives the instant of the jump, when the clock goes straight past it.
    """
    naive = datetime.combine(d, t)
    # zoneinfo reads a skipped time with the offset before (fold=0) or after (fold=1)
    # the jump; the two instants then bracket the jump, the wrong way round.
    before = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    after = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if before <= after:
        return before
    # local(lo) < naive <= local(hi): bisect on whole seconds (offsets change on them).
    lo, hi = int(after.timestamp()), int(before.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
