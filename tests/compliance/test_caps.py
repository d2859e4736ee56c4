"""Per-contact attempt caps (``max_calls_per_contact_per_day`` / ``_per_week``): the pure
rule over random schedules, and the real claim across two batches of one account."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.compliance.rules import DAILY_CAP, WEEKLY_CAP, cap_decision
from dialer.db.session import Database
from dialer.job.states import Outcome
from dialer.kit.clock import FrozenClock
from tests.compliance.test_dial_time import claim, end_call
from tests.factories import (
    account_attempts,
    cl_cobranza_settings,
    jobs_of,
    make_account,
    make_debtor_batch,
)

ZONES = [ZoneInfo(z) for z in ("America/Santiago", "Pacific/Easter", "America/Punta_Arenas")]
# Three weeks around Chile's September 2026 change (Sunday 6 September).
START = datetime(2026, 8, 27, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 21 * 24 * 60), min_size=1, max_size=80),
    per_day=st.none() | st.integers(1, 3),
    per_week=st.none() | st.integers(1, 6),
    tz=st.sampled_from(ZONES),
)
def test_greedy_dialing_never_breaks_a_cap_on_the_debtors_calendar(
    offsets: list[int], per_day: int | None, per_week: int | None, tz: ZoneInfo
) -> None:
    made: list[datetime] = []
    for minute in sorted(offsets):
        at = START + timedelta(minutes=minute)
        decision = cap_decision(made, at, tz, per_day=per_day, per_week=per_week)
        if decision is None:
            made.append(at)
            continue
        assert decision.until > at
        assert decision.reason in (DAILY_CAP, WEEKLY_CAP)
        # The cap that snoozed is free again at ``until`` (another may still hold).
        again = cap_decision(made, decision.until, tz, per_day=per_day, per_week=per_week)
        assert again is None or again.until > decision.until
        local_until = decision.until.astimezone(tz)
        assert local_until.time() in (time(0, 0), time(1, 0))  # midnight, or the DST jump
    by_day = Counter(a.astimezone(tz).date() for a in made)
    by_week = Counter(a.astimezone(tz).isocalendar()[:2] for a in made)
    if per_day is not None:
        assert max(by_day.values()) <= per_day
    if per_week is not None:
        assert max(by_week.values()) <= per_week
    if per_day is None and per_week is None:
        assert len(made) == len(offsets)


def test_the_week_is_monday_to_sunday_on_the_debtors_clock() -> None:
    easter = ZoneInfo("Pacific/Easter")
    # Sunday 23:30 on Easter Island is Monday in Santiago: it is the debtor's Sunday.
    sunday_late = datetime(2026, 3, 15, 23, 30, tzinfo=easter).astimezone(UTC)
    monday = datetime(2026, 3, 16, 0, 30, tzinfo=easter).astimezone(UTC)
    assert cap_decision([sunday_late], monday, easter, per_day=None, per_week=1) is None
    blocked = cap_decision([sunday_late], sunday_late + timedelta(minutes=10), easter,
                           per_day=None, per_week=1)  # fmt: skip
    assert blocked is not None
    assert blocked.until == datetime(2026, 3, 16, 0, 0, tzinfo=easter).astimezone(UTC)


SANTIAGO = ZoneInfo("America/Santiago")
RUT = "12345678-5"


class TestCapsAcrossBatches:
    async def test_daily_and_weekly_caps_count_every_batch_and_unanswered_attempts(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        # Tuesday 10 March 2026 10:00 Santiago; no profile (no weekly contact limit), caps
        # of 2 attempts a day and 3 a week; retries at once.
        now = datetime(2026, 3, 10, 10, 0, tzinfo=SANTIAGO).astimezone(UTC)
        frozen_clock.set(now)
        caps = cl_cobranza_settings(
            compliance_profile="none", allowed_call_hours={"start": "09:00", "end": "20:00"},
            max_calls_per_contact_per_day=2, max_calls_per_contact_per_week=3,
            retry_settings={"max_attempts": 10, "retry_delay_hours": 0},
        )  # fmt: skip
        acc = await make_account(database, cap=100)
        a = await make_debtor_batch(
            database, acc, [(RUT, ["+56987654321"])], now=now, settings=caps
        )
        b = await make_debtor_batch(
            database, acc, [(RUT, ["+56987654322"])], now=now, settings=caps
        )
        # Both batches' jobs are due: one claim may start only two (the daily cap).
        first = await claim(database, now)
        assert len(first) == 2
        for c in first:
            await end_call(database, c, Outcome.VOICEMAIL, now)
        assert await claim(database, now + timedelta(minutes=5)) == []
        waiting = [j for bid in (a, b) for j in await jobs_of(database, bid)]
        assert {j.wait_reason for j in waiting} == {DAILY_CAP}
        wake = min(j.next_attempt_at for j in waiting).astimezone(SANTIAGO)
        assert (wake.date(), wake.time()) == (date(2026, 3, 11), time(9, 0))

        wednesday = datetime(2026, 3, 11, 9, 0, tzinfo=SANTIAGO).astimezone(UTC)
        frozen_clock.set(wednesday)
        [third] = await claim(database, wednesday)  # the week's third and last
        await end_call(database, third, Outcome.NO_ANSWER, wednesday)
        assert await claim(database, wednesday + timedelta(minutes=5)) == []
        waiting = [j for bid in (a, b) for j in await jobs_of(database, bid)]
        assert WEEKLY_CAP in {j.wait_reason for j in waiting}
        wake = min(j.next_attempt_at for j in waiting).astimezone(SANTIAGO)
        assert (wake.date(), wake.time()) == (date(2026, 3, 16), time(9, 0))  # Monday
        made = await account_attempts(database, acc)
        assert len(made) == 3
        assert {m.debtor_key for m in made} == {RUT}
