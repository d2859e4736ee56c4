"""When a waiting campaign goes on, in words: "hoy" / "mañana" / "el lunes 7" on the
clock of the place that opens, across midnight and both of Chile's clock changes, with
the zone named only when it is not the account's."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from dialer.batch.windows import Schedule, next_open_anywhere
from dialer.compliance.profiles import COUNTRY_ZONES
from dialer.dashboard.rendering import retry_sentence
from dialer.dashboard.waiting import opening_zone, when_words

SCL = "America/Santiago"
PUQ = "America/Punta_Arenas"


def _at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: str = SCL, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


NINE_TUESDAY = _at(2026, 12, 8, 9)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (_at(2026, 12, 7, 23, 59), "mañana a las 09:00"),  # a minute before midnight
        (_at(2026, 12, 8, 0, 0), "hoy a las 09:00"),  # midnight itself is the new day
        (_at(2026, 12, 8, 8, 59), "hoy a las 09:00"),
        (_at(2026, 12, 6, 21, 0), "el martes 8 a las 09:00"),
        (_at(2026, 12, 1, 9, 0), "el martes 8 de diciembre a las 09:00"),
        (_at(2025, 12, 31, 9, 0), "el martes 8 de diciembre de 2026 a las 09:00"),
    ],
)
def test_the_day_is_said_against_the_local_day_of_now(now: datetime, expected: str) -> None:
    assert when_words(NINE_TUESDAY, now, SCL, "es", home_tz=SCL) == expected


def test_friday_evening_says_monday_by_its_date_in_both_languages() -> None:
    friday = _at(2026, 12, 4, 20, 30)
    monday = _at(2026, 12, 7, 9)
    assert when_words(monday, friday, SCL, "es", home_tz=SCL) == "el lunes 7 a las 09:00"
    assert when_words(monday, friday, SCL, "en", home_tz=SCL) == "on Monday 7 at 09:00"
    assert when_words(_at(2026, 12, 8, 9), _at(2026, 12, 7, 22), SCL, "en") == ("tomorrow at 09:00")


def test_midnight_in_utc_is_not_midnight_in_santiago() -> None:
    # 01:30 UTC on the 8th is still the evening of the 7th in Santiago (UTC-3): "mañana".
    now = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)
    assert when_words(NINE_TUESDAY, now, SCL, "es", home_tz=SCL) == "mañana a las 09:00"


def test_across_the_april_change_the_repeated_hour_is_still_saturday() -> None:
    # 2026-04-05 00:00 (UTC-3) Chile goes back to 23:00 (UTC-4): 23:30 happens twice
    # on Saturday the 4th; both are the day before Sunday's 09:00 (now UTC-4).
    sunday_nine = _at(2026, 4, 5, 9)
    assert sunday_nine == datetime(2026, 4, 5, 13, 0, tzinfo=UTC)
    for fold in (0, 1):
        now = _at(2026, 4, 4, 23, 30, fold=fold)
        assert when_words(sunday_nine, now, SCL, "es", home_tz=SCL) == "mañana a las 09:00"
    # After the change the same UTC hour of the day reads an hour earlier.
    assert when_words(datetime(2026, 4, 6, 12, 0, tzinfo=UTC), sunday_nine, SCL, "es") == (
        "mañana a las 08:00"
    )


def test_across_the_september_change_nine_stays_nine() -> None:
    # 2026-09-06 00:00 (UTC-4) is skipped to 01:00 (UTC-3): Saturday 23:30 is UTC-4,
    # Sunday 09:00 is UTC-3; an offset carried over from "now" would say 08:00.
    now = _at(2026, 9, 5, 23, 30)
    sunday_nine = _at(2026, 9, 6, 9)
    assert sunday_nine == datetime(2026, 9, 6, 12, 0, tzinfo=UTC)
    assert when_words(sunday_nine, now, SCL, "es", home_tz=SCL) == "mañana a las 09:00"


def test_the_zone_is_named_only_when_it_is_not_the_accounts() -> None:
    now = _at(2026, 6, 10, 7, 0)
    at = _at(2026, 6, 10, 9, 0, tz=PUQ)
    assert when_words(at, now, PUQ, "es", home_tz=SCL) == "hoy a las 09:00 (hora de Punta Arenas)"
    assert when_words(at, now, PUQ, "en", home_tz=SCL) == "today at 09:00 (Punta Arenas time)"
    assert when_words(at, now, PUQ, "es", home_tz=PUQ) == "hoy a las 09:00"
    # Read on the account's own clock the same instant is an hour earlier in June.
    assert when_words(at, now, SCL, "es", home_tz=SCL) == "hoy a las 08:00"


def _weekdays_nine_to_eight(tz: str) -> Schedule:
    span = (time(9), time(20))
    return Schedule(tz=ZoneInfo(tz), days=(span,) * 5 + (None, None), holiday_country=None)


def test_the_zone_waited_for_is_the_debtors_that_opens_first() -> None:
    """In the Chilean winter Magallanes and Aysén (UTC-3 all year) open an hour before
    Santiago (UTC-4): the claim records that opening, and the page reads it on their
    clock, not as "08:00" in Santiago."""
    schedule = _weekdays_nine_to_eight(SCL)
    zones = COUNTRY_ZONES["CL"]
    assert PUQ in zones
    winter_night = _at(2026, 6, 10, 22, 0)
    until = next_open_anywhere(schedule, zones, winter_night)
    assert until is not None
    zone = opening_zone(schedule, zones, until)
    assert zone in (PUQ, "America/Coyhaique")
    assert when_words(until, winter_night, zone, "es", home_tz=SCL) == (
        f"mañana a las 09:00 (hora de {zone.split('/')[1].replace('_', ' ')})"
    )
    # In summer both read UTC-3: the campaign's own zone is the one named (not at all).
    summer_night = _at(2026, 12, 10, 22, 0)
    until = next_open_anywhere(schedule, zones, summer_night)
    assert until is not None
    assert opening_zone(schedule, zones, until) == SCL
    assert when_words(until, summer_night, SCL, "es", home_tz=SCL) == "mañana a las 09:00"


class _Wait:
    def __init__(self, jobs: int, next_at: datetime, by_outcome: dict[str, int]) -> None:
        self.jobs, self.next_at, self.by_outcome = jobs, next_at, by_outcome


def test_the_retry_sentence_uses_the_same_words() -> None:
    now = _at(2026, 12, 4, 19, 0)  # a Friday evening
    wait = _Wait(6, _at(2026, 12, 7, 9, 0), {"no_answer": 4, "busy": 2})
    assert retry_sentence("es", SCL, wait, now, home_tz=SCL) == (
        "6 contactos esperando reintento, el próximo el lunes 7 a las 09:00: "
        "4 no contesta, 2 ocupado."
    )
    assert retry_sentence("en", SCL, _Wait(1, now, {"busy": 1}), now) == (
        "1 contact waiting for a retry, can be called now: 1 busy."
    )
