"""When to call a debtor again because of what the call said. Pure.

* callback: the requested instant (a day without an hour: that day's opening), moved to
  the next legal opening when the window is closed then; the move is recorded;
* promise follow-up: the instant the promise would be judged broken (start of the day
  after the date + grace), at the next opening from there;
* voicemail in another band: a retry that would fall in the same band of the day as the
  attempt that reached the voicemail moves to the start of the next band that is open.

None of these spend the retry delay; the claim applies every rule (window, caps,
do-not-call) when the time comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dialer.batch.windows import Schedule, is_open, next_open

# Bands of the local day: morning, midday, afternoon, evening (and the night).
BANDS: tuple[tuple[int, int], ...] = ((0, 12), (12, 15), (15, 18), (18, 24))


@dataclass(frozen=True)
class FollowUp:
    at: datetime
    requested_at: datetime
    moved: bool
    reason: str  # callback | broken_promise | voicemail_band

    def to_json(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "requested_at": _iso(self.requested_at),
            "scheduled_at": _iso(self.at),
            "moved": self.moved,
            **({"moved_because": "outside_window"} if self.moved else {}),
        }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _at_opening(schedule: Schedule, at: datetime, reason: str) -> FollowUp | None:
    opening = next_open(schedule, at)
    if opening is None:
        return None
    return FollowUp(at=opening, requested_at=at, moved=opening != at, reason=reason)


def callback(
    schedule: Schedule, *, at: datetime | None, day: date | None, now: datetime
) -> FollowUp | None:
    """The callback's time, or None when it names no time or is never callable."""
    if at is None and day is not None:
        at = datetime.combine(day, time(0), tzinfo=schedule.tz).astimezone(UTC)
        if at < now:
            at = now
        return _at_opening(schedule, at, "callback")
    if at is None:
        return None
    return _at_opening(schedule, max(at, now), "callback")


def promise_follow_up(schedule: Schedule, *, judge_at: datetime) -> FollowUp | None:
    return _at_opening(schedule, judge_at, "broken_promise")


def band_of(schedule: Schedule, at: datetime) -> int:
    hour = at.astimezone(schedule.tz).hour
    return next(i for i, (lo, hi) in enumerate(BANDS) if lo <= hour < hi)


def _next_band_start(schedule: Schedule, at: datetime) -> datetime:
    local = at.astimezone(schedule.tz)
    _lo, hi = BANDS[band_of(schedule, at)]
    day = local.date() + (timedelta(days=1) if hi == 24 else timedelta(0))
    hour = 0 if hi == 24 else hi
    return datetime.combine(day, time(hour), tzinfo=schedule.tz).astimezone(UTC)


def other_band(schedule: Schedule, *, retry_at: datetime, last_attempt_at: datetime) -> FollowUp:
    """``retry_at``, or the first open instant after it in another band of the day."""
    avoid = band_of(schedule, last_attempt_at)
    candidate = retry_at
    for _ in range(60):
        opening = next_open(schedule, candidate)
        if opening is None:
            break
        if band_of(schedule, opening) != avoid:
            return FollowUp(at=opening, requested_at=retry_at, moved=opening != retry_at,
                            reason="voicemail_band")  # fmt: skip
        candidate = _next_band_start(schedule, opening)
    return FollowUp(at=retry_at, requested_at=retry_at, moved=False, reason="voicemail_band")


__all__ = ["BANDS", "FollowUp", "band_of", "callback", "is_open", "other_band", "promise_follow_up"]
