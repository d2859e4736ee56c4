"""Follow-up times: callbacks inside the window or moved to the next opening, promise
follow-ups, and voicemail retries in another band of the day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dialer.batch import followups
from dialer.batch.settings import CallSettings
from dialer.batch.windows import is_open, schedule_for

SCL = ZoneInfo("America/Santiago")
SCHEDULE = schedule_for(
    CallSettings.model_validate(
        {"allowed_call_hours": {"start": "09:00", "end": "20:00"}, "timezone": "America/Santiago"}
    ),
    default_timezone="America/Santiago",
    country="CL",
)
NOW = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)  # Wednesday 11:00 in Santiago


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SCL).astimezone(UTC)  # type: ignore[misc]


def test_a_callback_inside_the_window_is_kept_as_asked() -> None:
    got = followups.callback(SCHEDULE, at=local(2026, 12, 3, 11, 0), day=None, now=NOW)
    assert got is not None
    assert (got.at, got.moved) == (local(2026, 12, 3, 11, 0), False)


def test_a_callback_outside_the_window_moves_to_the_next_opening_and_says_so() -> None:
    got = followups.callback(SCHEDULE, at=local(2026, 12, 3, 21, 30), day=None, now=NOW)
    assert got is not None
    assert got.at == local(2026, 12, 4, 9, 0)
    assert got.to_json()["moved_because"] == "outside_window"
    sunday = followups.callback(SCHEDULE, at=local(2026, 12, 6, 12, 0), day=None, now=NOW)
    assert sunday is not None
    assert sunday.at == local(2026, 12, 7, 9, 0)  # Sunday is closed: Monday's opening


def test_a_day_without_hour_is_that_days_opening() -> None:
    got = followups.callback(SCHEDULE, at=None, day=date(2026, 12, 3), now=NOW)
    assert got is not None
    assert got.at == local(2026, 12, 3, 9, 0)
    assert followups.callback(SCHEDULE, at=None, day=None, now=NOW) is None


def test_promise_follow_up_opens_the_day_after_date_plus_grace() -> None:
    got = followups.promise_follow_up(SCHEDULE, judge_at=local(2026, 12, 5, 0, 0))
    assert got is not None
    assert got.at == local(2026, 12, 5, 9, 0)


@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
    st.integers(min_value=0, max_value=48),
)
def test_voicemail_retry_lands_open_and_in_another_band(naive: datetime, hours: int) -> None:
    last = naive.replace(tzinfo=UTC)
    got = followups.other_band(
        SCHEDULE, retry_at=last + timedelta(hours=hours), last_attempt_at=last
    )
    assert got.at >= last + timedelta(hours=hours)
    assert is_open(SCHEDULE, got.at)
    assert followups.band_of(SCHEDULE, got.at) != followups.band_of(SCHEDULE, last)
