"""cl_cobranza: conflicting settings are refused with the rule named; windows are clipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from dialer.batch.settings import CallSettings, resolve_settings
from dialer.batch.windows import is_open, next_open, schedule_for
from dialer.compliance.profiles import CL_COBRANZA, describe

SANTIAGO = ZoneInfo("America/Santiago")


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as exc:
        CallSettings.model_validate(raw)
    return str(exc.value)


class TestConflictingSettings:
    @pytest.mark.parametrize(
        ("raw", "rule", "field"),
        [
            (
                {"allowed_call_hours": {"start": "07:00", "end": "21:00"}},
                "cl_cobranza.hours",
                "allowed_call_hours",
            ),
            (
                {"allowed_call_hours": {"start": "09:00", "end": "20:30"}},
                "cl_cobranza.hours",
                "allowed_call_hours",
            ),
            (
                {"allowed_weekdays": ["mon", "sun"]},
                "cl_cobranza.weekdays",
                "allowed_weekdays",
            ),
            (
                {"allowed_weekdays": ["domingo"]},
                "cl_cobranza.weekdays",
                "allowed_weekdays",
            ),
            (
                {"allowed_call_hours": {"sat": {"start": "09:00", "end": "13:00"},
                                        "sun": {"start": "10:00", "end": "12:00"}}},
                "cl_cobranza.weekdays",
                "allowed_call_hours.sun",
            ),
            (
                {"allowed_call_hours": {"mon": {"start": "07:30", "end": "12:00"}}},
                "cl_cobranza.hours",
                "allowed_call_hours.mon",
            ),
            ({"timezone": "America/Argentina/Buenos_Aires"}, "cl_cobranza.timezone", "timezone"),
            ({"holiday_country": "AR"}, "cl_cobranza.holidays", "holiday_country"),
        ],
    )  # fmt: skip
    def test_rejected_citing_rule_field_and_law(
        self, raw: dict[str, object], rule: str, field: str
    ) -> None:
        message = _error({**raw, "compliance_profile": "cl_cobranza"})
        assert rule in message
        assert message.split("Value error, ")[1].startswith(f"{field}:")
        assert "Ley 21.320" in message

    def test_the_same_settings_are_fine_without_a_profile(self) -> None:
        CallSettings.model_validate(
            {"allowed_call_hours": {"start": "07:00", "end": "21:00"},
             "allowed_weekdays": ["mon", "sun"], "timezone": "America/Argentina/Buenos_Aires"}
        )  # fmt: skip

    def test_stricter_settings_are_accepted(self) -> None:
        s = CallSettings.model_validate(
            {
                "compliance_profile": "cl_cobranza",
                "allowed_call_hours": {"mon": {"start": "10:00", "end": "13:00"}, "sat": None},
                "timezone": "America/Punta_Arenas",
            }
        )
        assert s.compliance_profile == "cl_cobranza"

    def test_the_stored_dump_validates_again(self) -> None:
        s = CallSettings.model_validate({"compliance_profile": "cl_cobranza"})
        again = CallSettings.model_validate(s.model_dump(mode="json"))
        assert again == s

    def test_profile_rules_are_described(self) -> None:
        rules = {r["rule"] for r in describe(CL_COBRANZA)}
        assert rules == {
            "cl_cobranza.weekdays",
            "cl_cobranza.hours",
            "cl_cobranza.holidays",
            "cl_cobranza.contacts_per_debtor",
        }


def _schedule(raw: dict[str, object], account_tz: str = "America/Santiago"):
    s = resolve_settings({"compliance_profile": "cl_cobranza", **raw}, account_timezone=account_tz)
    return schedule_for(s, default_timezone=account_tz, country="CL")


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SANTIAGO).astimezone(UTC)


class TestClippedWindows:
    def test_sunday_is_closed_until_monday_eight(self) -> None:
        sched = _schedule({})
        sunday_noon = _local(2026, 3, 8, 12, 0)
        assert not is_open(sched, sunday_noon)
        assert next_open(sched, sunday_noon) == _local(2026, 3, 9, 9, 0)  # default 09:00 start

    def test_legal_edges_of_the_day(self) -> None:
        sched = _schedule({"allowed_call_hours": {"start": "08:00", "end": "20:00"}})
        assert is_open(sched, _local(2026, 3, 9, 8, 0))
        assert is_open(sched, _local(2026, 3, 9, 19, 59))
        assert not is_open(sched, _local(2026, 3, 9, 20, 0))
        assert not is_open(sched, _local(2026, 3, 9, 7, 59))

    @pytest.mark.parametrize(
        "holiday",
        [date(2026, 5, 1), date(2026, 5, 21), date(2026, 9, 18), date(2026, 12, 25)],
    )
    def test_chilean_holidays_are_closed(self, holiday: date) -> None:
        sched = _schedule({"allowed_call_hours": {"start": "08:00", "end": "20:00"}})
        noon = _local(holiday.year, holiday.month, holiday.day, 12, 0)
        assert not is_open(sched, noon)
        opens = next_open(sched, noon)
        assert opens is not None
        assert opens.astimezone(SANTIAGO).date() > holiday

    def test_argentine_account_still_gets_santiago_hours(self) -> None:
        sched = _schedule(
            {"allowed_call_hours": {"start": "08:00", "end": "20:00"}},
            account_tz="America/Argentina/Buenos_Aires",
        )
        assert sched.tz == SANTIAGO

    @pytest.mark.parametrize(
        "day",
        [date(2026, 4, 2), date(2026, 4, 6), date(2026, 9, 5), date(2026, 9, 7)],
        ids=["thu-before-dst-end", "mon-after-dst-end", "sat-before-dst-start", "mon-after"],
    )
    def test_dst_changes_keep_local_eight_to_twenty(self, day: date) -> None:
        sched = _schedule({"allowed_call_hours": {"start": "08:00", "end": "20:00"}})
        start = next_open(sched, _local(day.year, day.month, day.day, 0, 30))
        assert start is not None
        local = start.astimezone(SANTIAGO)
        assert (local.date(), local.hour, local.minute) == (day, 8, 0)

    @settings(max_examples=300, deadline=None)
    @given(
        st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                     timezones=st.just(UTC))
    )  # fmt: skip
    def test_next_opening_is_always_lawful(self, now: datetime) -> None:
        sched = _schedule({"allowed_call_hours": {"start": "08:00", "end": "20:00"}})
        at = next_open(sched, now)
        assert at is not None
        assert at >= now
        assert at - now < timedelta(days=10)
        local = at.astimezone(SANTIAGO)
        assert local.weekday() != 6
        assert 8 <= local.hour < 20
        assert local.date() not in holidays.country_holidays("CL", years=local.year)
