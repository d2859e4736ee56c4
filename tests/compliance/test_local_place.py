"""The debtor's own place: zone and region resolution, windows across Chile's 2026 DST
changes on each debtor's clock, regional holidays, and calls that end inside the window —
pure rules and the real claim (one process; the multi-process run is in test_law_e2e)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from dialer.batch.compliance_checks import LOCAL_WINDOW, MIN_CALL_SECONDS
from dialer.batch.settings import CallSettings
from dialer.batch.windows import (
    COMMUNAL_HOLIDAYS,
    close_of_current_window,
    for_debtor,
    is_open,
    next_open,
    schedule_for,
)
from dialer.billing.service import topup
from dialer.compliance.place import commune_of, resolve_place
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.kit.localtime import first_instant
from dialer.worker.claim import ClaimedJob, claim_due_jobs
from tests.factories import (
    NewAccount,
    cl_cobranza_settings,
    jobs_of,
    make_account,
    make_debtor_batch,
)

SANTIAGO = ZoneInfo("America/Santiago")
EASTER = ZoneInfo("Pacific/Easter")
MAGALLANES = ZoneInfo("America/Punta_Arenas")
AYSEN = ZoneInfo("America/Coyhaique")


def utc(y: int, mo: int, d: int, h: int, mi: int, tz: ZoneInfo) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz).astimezone(UTC)


class TestResolvePlace:
    @pytest.mark.parametrize(
        ("payload", "tz", "region"),
        [
            ({"comuna": "Coyhaique"}, "America/Coyhaique", "AI"),
            ({"comuna_deudor": "Puerto Natales"}, "America/Punta_Arenas", "MA"),
            ({"region": "Región de Magallanes y de la Antártica Chilena"}, "America/Punta_Arenas", "MA"),
            ({"region": "XI Región"}, "America/Coyhaique", "AI"),
            ({"ciudad": "Hanga Roa"}, "Pacific/Easter", "VS"),
            ({"comuna": "Chillán Viejo"}, "America/Santiago", "NB"),
            ({"comuna": "La Serena"}, "America/Santiago", "CO"),
            ({"comuna": "O'Higgins"}, "America/Coyhaique", "AI"),  # the commune, in Aysén
            ({"region": "O'Higgins"}, "America/Santiago", "LI"),  # the region
            ({"zona_horaria": "Pacific/Easter"}, "Pacific/Easter", None),
        ],
    )  # fmt: skip
    def test_explicit_columns(self, payload: dict[str, str], tz: str, region: str | None) -> None:
        place = resolve_place(country="CL", payload=payload, phones=["+56987654321"])
        assert (place.timezone, place.region) == (tz, region)
        assert next(iter(payload.values())) in place.source

    @pytest.mark.parametrize(
        ("phone", "tz", "region"),
        [
            ("+56612234567", "America/Punta_Arenas", "MA"),
            ("+56672234567", "America/Coyhaique", "AI"),
            ("+56322100105", "Pacific/Easter", "VS"),
            ("+56322551836", "Pacific/Easter", "VS"),
            ("+56322123456", "America/Santiago", "VS"),
            ("+56582234567", "America/Santiago", "AP"),
            ("+56222345678", "America/Santiago", "RM"),
        ],
    )
    def test_landline_area_code_or_range(self, phone: str, tz: str, region: str) -> None:
        # The mobile first says nothing about where the debtor is; the landline does.
        place = resolve_place(country="CL", payload={}, phones=["+56987654321", phone])
        assert (place.timezone, place.region) == (tz, region)
        assert phone in place.source

    def test_mobiles_only_fall_back_to_the_batch(self) -> None:
        place = resolve_place(country="CL", payload={"monto": 1000}, phones=["+56987654321"])
        assert (place.timezone, place.region, place.source) == (None, None, "batch timezone")

    def test_a_zone_of_another_country_is_not_taken(self) -> None:
        place = resolve_place(country="CL", payload={"zona_horaria": "Europe/Madrid"}, phones=[])
        assert place.timezone is None

    def test_argentine_province(self) -> None:
        place = resolve_place(country="AR", payload={"provincia": "Mendoza"}, phones=[])
        assert (place.timezone, place.region) == ("America/Argentina/Mendoza", "M")


class TestDstGap:
    """2026: Chile's mainland skips 00:00-01:00 on Sunday 6 September and repeats
    23:00-24:00 on Saturday 4 April; Easter Island does both two hours earlier."""

    def test_a_skipped_opening_opens_at_the_jump(self) -> None:
        assert first_instant(date(2026, 9, 6), time(0, 30), SANTIAGO) == datetime(
            2026, 9, 6, 4, 0, tzinfo=UTC
        )
        assert first_instant(date(2026, 9, 5), time(22, 30), EASTER) == datetime(
            2026, 9, 6, 4, 0, tzinfo=UTC
        )

    def test_a_repeated_opening_opens_the_first_time(self) -> None:
        assert first_instant(date(2026, 4, 4), time(23, 30), SANTIAGO) == datetime(
            2026, 4, 5, 2, 30, tzinfo=UTC
        )

    def test_window_opening_in_the_gap_is_found_that_night_not_a_week_later(self) -> None:
        settings = CallSettings.model_validate(
            {"allowed_call_hours": {"sun": {"start": "00:30", "end": "06:00"}},
             "allowed_weekdays": ["sun"], "timezone": "America/Santiago"}
        )  # fmt: skip
        sched = schedule_for(settings, default_timezone="America/Santiago", country="CL")
        for now_local in (datetime(2026, 9, 5, 23, 0), datetime(2026, 9, 5, 23, 45)):
            now = now_local.replace(tzinfo=SANTIAGO).astimezone(UTC)
            opens = next_open(sched, now)
            assert opens == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)  # 01:00 local, the jump
            assert is_open(sched, opens)

    @pytest.mark.parametrize("zone", [SANTIAGO, EASTER, MAGALLANES, AYSEN])
    @pytest.mark.parametrize(
        "day", [date(2026, 4, 2), date(2026, 4, 6), date(2026, 9, 5), date(2026, 9, 7)]
    )
    def test_eight_to_twenty_on_each_clock_around_both_changes(
        self, zone: ZoneInfo, day: date
    ) -> None:
        base = schedule_for(
            CallSettings.model_validate(cl_cobranza_settings()), default_timezone="America/Santiago",
            country="CL",
        )  # fmt: skip
        sched = for_debtor(base, "cl_cobranza", zone.key, None)
        opens = next_open(sched, datetime.combine(day, time(0, 5), zone).astimezone(UTC))
        assert opens is not None
        local = opens.astimezone(zone)
        assert (local.date(), local.time()) == (day, time(8, 0))
        close = close_of_current_window(sched, opens)
        assert close is not None
        assert close.astimezone(zone).time() == time(20, 0)


class TestSettings:
    def test_coyhaique_is_a_chilean_zone(self) -> None:
        s = CallSettings.model_validate(cl_cobranza_settings(timezone="America/Coyhaique"))
        assert s.timezone == "America/Coyhaique"

    def test_a_foreign_zone_is_still_refused_under_cl_cobranza(self) -> None:
        with pytest.raises(ValueError, match=r"cl_cobranza\.timezone"):
            CallSettings.model_validate(cl_cobranza_settings(timezone="Europe/Madrid"))

    def test_ar_cobranza_narrows_saturday_and_refuses_sunday(self) -> None:
        base = {"compliance_profile": "ar_cobranza", "timezone": "America/Argentina/Buenos_Aires"}
        s = CallSettings.model_validate(
            {**base, "allowed_call_hours": {"start": "09:00", "end": "20:00"}}
        )
        sched = schedule_for(s, default_timezone="America/Argentina/Buenos_Aires", country="AR")
        assert sched.days[5] == (time(9, 0), time(13, 0))
        assert sched.days[0] == (time(9, 0), time(20, 0))
        with pytest.raises(ValueError, match=r"09:00-13:00 allowed .* ar_cobranza\.hours"):
            CallSettings.model_validate(
                {**base, "allowed_call_hours": {"sat": {"start": "09:00", "end": "18:00"}}}
            )
        with pytest.raises(ValueError, match=r"ar_cobranza\.weekdays"):
            CallSettings.model_validate({**base, "allowed_weekdays": ["sun"]})

    def test_ar_cobranza_skips_argentine_holidays(self) -> None:
        s = CallSettings.model_validate({"compliance_profile": "ar_cobranza"})
        sched = schedule_for(s, default_timezone="America/Argentina/Buenos_Aires", country="AR")
        bsas = ZoneInfo("America/Argentina/Buenos_Aires")
        # Tuesday 24 March 2026, Día de la Memoria: closed; Wednesday 25: open at 09:00.
        assert not is_open(sched, utc(2026, 3, 24, 11, 0, bsas))
        assert next_open(sched, utc(2026, 3, 24, 11, 0, bsas)) == utc(2026, 3, 25, 9, 0, bsas)


class TestRegionalHolidays:
    def test_chillan_holiday_closes_nuble_only(self) -> None:
        base = schedule_for(
            CallSettings.model_validate(cl_cobranza_settings()), default_timezone="America/Santiago",
            country="CL",
        )  # fmt: skip
        thursday = utc(2026, 8, 20, 11, 0, SANTIAGO)  # 20 August 2026, Thursday
        for commune in ("chillan", "chillan viejo"):
            sched = for_debtor(base, "cl_cobranza", "America/Santiago", "NB", commune)
            assert not is_open(sched, thursday)
            assert next_open(sched, thursday) == utc(2026, 8, 21, 8, 0, SANTIAGO)
        # Ley 20.768 gives the day to the two communes only: the rest of Ñuble, and a
        # debtor known only to be in Ñuble (region column, area code 42), is called.
        assert is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "NB", "san carlos"),
                       thursday)  # fmt: skip
        assert is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "NB"), thursday)
        assert is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "RM"), thursday)
        # A national holiday still closes all of Ñuble (19 September).
        assert not is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "NB", "san carlos"),
                           utc(2026, 9, 19, 11, 0, SANTIAGO))  # fmt: skip

    def test_the_holidays_calendar_files_chillans_day_under_nuble_for_two_communes(self) -> None:
        # What COMMUNAL_HOLIDAYS corrects: the `holidays` package lists 20 August as Ñuble's
        # (subdivision NB) and names the two communes; it is Ñuble's only own holiday.
        national = holidays.country_holidays("CL", years=2026)
        nuble = holidays.country_holidays("CL", subdiv="NB", years=2026)
        own = {d: n for d, n in nuble.items() if d not in national}
        assert list(own) == [date(2026, 8, 20)]
        assert "Chillán and Chillán Viejo" in own[date(2026, 8, 20)]
        assert set(COMMUNAL_HOLIDAYS[("CL", "NB")][(8, 20)]) == {
            commune_of({"comuna": "Chillán"}), commune_of({"Comuna Deudor": "CHILLÁN VIEJO"}),
        }  # fmt: skip
        assert commune_of({"ciudad": "San Carlos"}) == "san carlos"
        assert commune_of({"region": "Ñuble"}) is None

    def test_arica_holiday_closes_arica_y_parinacota_only(self) -> None:
        base = schedule_for(
            CallSettings.model_validate(cl_cobranza_settings()), default_timezone="America/Santiago",
            country="CL",
        )  # fmt: skip
        monday = utc(2027, 6, 7, 11, 0, SANTIAGO)  # 7 June 2027, Monday
        assert not is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "AP"), monday)
        assert is_open(for_debtor(base, "cl_cobranza", "America/Santiago", "TA"), monday)


async def claim(db: Database, now: datetime) -> list[ClaimedJob]:
    async with db.write() as s:
        return await claim_due_jobs(
            s, worker_id="w-test", now=now, limit=50, lease=timedelta(minutes=5)
        )


class TestClaimOnTheDebtorsClock:
    async def test_each_debtor_is_called_in_their_own_window(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        # Winter, Monday 6 July 2026, 19:30 in Santiago (UTC-4) = 20:30 in Magallanes and
        # Aysén (UTC-3) = 17:30 on Easter Island (UTC-6).
        now = utc(2026, 7, 6, 19, 30, SANTIAGO)
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database, acc,
            [("11111111-1", ["+56987654321"]), ("22222222-2", ["+56612234567"]),
             ("33333333-3", ["+56987654323"]), ("44444444-4", ["+56987654324"])],
            payloads=[{}, {}, {"comuna": "Coyhaique"}, {"ciudad": "Hanga Roa"}],
            now=now,
        )  # fmt: skip
        claimed = {c.dni: c for c in await claim(database, now)}
        assert set(claimed) == {"11111111-1", "44444444-4"}
        # Santiago closes at 20:00 local: 30 minutes left; Easter Island has 2.5 h, but the
        # batch's maximum (600 s) is smaller.
        assert claimed["11111111-1"].max_duration_s == 600
        jobs = {j.dni: j for j in await jobs_of(database, batch)}
        assert (jobs["22222222-2"].timezone, jobs["22222222-2"].region) == (
            "America/Punta_Arenas", "MA",
        )  # fmt: skip
        assert "area code 61" in (jobs["22222222-2"].place_source or "")
        for dni, zone in (("22222222-2", MAGALLANES), ("33333333-3", AYSEN)):
            wake = jobs[dni].next_attempt_at.astimezone(zone)
            assert (wake.date(), wake.time()) == (date(2026, 7, 7), time(8, 0))
            assert jobs[dni].wait_reason == LOCAL_WINDOW
            assert jobs[dni].attempts == 0
        assert jobs["44444444-4"].place_source == "ciudad 'Hanga Roa'"

    async def test_max_duration_is_the_time_left_and_none_starts_too_late(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = utc(2026, 3, 10, 19, 55, SANTIAGO)
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database, acc, [("11111111-1", ["+56987654321"])], now=now,
            settings=cl_cobranza_settings(max_call_duration_s=900),
        )  # fmt: skip
        [c] = await claim(database, now)
        assert c.max_duration_s == 300  # 5 minutes to 20:00, not the batch's 900 s
        other = await make_debtor_batch(
            database, acc, [("22222222-2", ["+56987654322"])], now=now,
        )  # fmt: skip
        late = now + timedelta(minutes=5) - timedelta(seconds=MIN_CALL_SECONDS - 1)
        assert await claim(database, late) == []
        [job] = await jobs_of(database, other)
        wake = job.next_attempt_at.astimezone(SANTIAGO)
        assert (wake.date(), wake.time()) == (date(2026, 3, 11), time(8, 0))
        assert batch != other

    async def test_regional_holiday_skips_only_that_region(
        self, database: Database, frozen_clock: FrozenClock
    ) -> None:
        now = utc(2026, 8, 20, 11, 0, SANTIAGO)  # Chillán's holiday, a Thursday
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        batch = await make_debtor_batch(
            database, acc,
            [("11111111-1", ["+56987654321"]), ("22222222-2", ["+56422234567"]),
             ("33333333-3", ["+56987654323"]), ("44444444-4", ["+56987654324"])],
            payloads=[{"comuna": "Concepción"}, {"comuna": "Chillán Viejo"},
                      {"comuna": "San Carlos"}, {"ciudad": "Chillán"}],
            now=now,
        )  # fmt: skip
        claimed = await claim(database, now)
        # Concepción (Biobío) and San Carlos (Ñuble, not one of the law's two communes)
        # are called; Chillán Viejo and Chillán wait for the next day.
        assert sorted(c.dni for c in claimed) == ["11111111-1", "33333333-3"]
        jobs = {j.dni: j for j in await jobs_of(database, batch)}
        for dni in ("22222222-2", "44444444-4"):
            wake = jobs[dni].next_attempt_at.astimezone(SANTIAGO)
            assert (wake.date(), wake.time()) == (date(2026, 8, 21), time(8, 0))
            assert jobs[dni].region == "NB"
        assert jobs["33333333-3"].region == "NB"


class TestShown:
    async def test_job_api_and_export_show_the_zone_and_why(
        self, database: Database, frozen_clock: FrozenClock, new_account: NewAccount
    ) -> None:
        now = utc(2026, 7, 6, 19, 30, SANTIAGO)  # 20:30 in Magallanes: closed there
        frozen_clock.set(now)
        acc, client = await new_account("CL", max_concurrent_calls=10)
        async with database.write() as s:
            await topup(s, acc, 6000, key=f"topup:{acc}")
        batch = await make_debtor_batch(database, acc, [("22222222-2", ["+56612234567"])], now=now)
        assert await claim(database, now) == []
        [job] = await jobs_of(database, batch)
        body = (await client.get(f"/api/v1/jobs/{job.id}")).json()
        assert (body["timezone"], body["region"]) == ("America/Punta_Arenas", "MA")
        assert "area code 61" in body["place_source"]
        assert body["wait_reason"] == LOCAL_WINDOW
        export = (await client.get(f"/api/v1/batches/{batch}/export.csv")).text
        header, row = export.splitlines()[:2]
        assert "timezone,region,place_source," in header
        assert 'America/Punta_Arenas,MA,"phone +56612234567 (area code 61, region MA)",' in row

    async def test_json_jobs_get_their_place_at_creation(
        self, database: Database, frozen_clock: FrozenClock, new_account: NewAccount
    ) -> None:
        # POST /batches with JSON jobs: the place is resolved as the jobs are written,
        # like an upload's, before any claim ever sees them.
        frozen_clock.set(utc(2026, 7, 6, 10, 0, SANTIAGO))
        acc, client = await new_account("CL")
        body = {
            "account_id": acc, "name": "JSON", "call_settings": cl_cobranza_settings(),
            "jobs": [
                {"dni": "11111111-1", "phones": ["+56612234567"]},
                {"dni": "22222222-2", "phones": ["+56987654321"],
                 "payload": {"comuna": "Chillán Viejo"}},
                {"dni": "33333333-3", "phones": ["+56987654323"]},
            ],
        }  # fmt: skip
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code in (200, 201), r.text
        jobs = {j.dni: j for j in await jobs_of(database, r.json()["batch_id"])}
        assert (jobs["11111111-1"].timezone, jobs["11111111-1"].region) == (
            "America/Punta_Arenas", "MA",
        )  # fmt: skip
        assert "area code 61" in (jobs["11111111-1"].place_source or "")
        assert jobs["22222222-2"].region == "NB"
        assert jobs["22222222-2"].place_source == "comuna 'Chillán Viejo'"
        assert (jobs["33333333-3"].timezone, jobs["33333333-3"].place_source) == (
            None, "batch timezone",
        )  # fmt: skip
        assert all(j.wait_reason is None and j.attempts == 0 for j in jobs.values())
        listed = (await client.get(f"/api/v1/batches/{r.json()['batch_id']}/jobs")).json()
        items = listed["items"] if isinstance(listed, dict) else listed
        assert {i["dni"]: i["region"] for i in items}["11111111-1"] == "MA"


def test_a_window_open_across_midnight_does_not_close_at_midnight() -> None:
    settings = CallSettings.model_validate(
        {"allowed_call_hours": {"start": "00:00", "end": "24:00"},
         "allowed_weekdays": ["mon", "tue", "wed"], "timezone": "America/Santiago"}
    )  # fmt: skip
    sched = schedule_for(settings, default_timezone="America/Santiago", country="CL")
    monday_late = utc(2026, 3, 2, 23, 59, SANTIAGO)
    # Monday to Wednesday is one window: it closes at Thursday 00:00.
    assert close_of_current_window(sched, monday_late) == utc(2026, 3, 5, 0, 0, SANTIAGO)
