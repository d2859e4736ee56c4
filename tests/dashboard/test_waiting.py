"""The batch page says, in one sentence, how many contacts wait for a retry, when the
next one is called and why (the outcome of their last call), from the jobs the
dispatcher and the settlement really left scheduled."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dialer.db.session import Database
from dialer.job.states import Outcome
from dialer.kit.clock import FrozenClock
from dialer.telephony.base import CallEvent
from dialer.telephony.webhooks import handle_events
from dialer.worker.claim import claim_due_jobs
from tests.factories import make_account, make_debtor_batch

SANTIAGO = ZoneInfo("America/Santiago")
# Tuesday 2026-03-10 10:00 in Santiago (UTC-3).
TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=SANTIAGO).astimezone(UTC)


async def _end(db: Database, attempt_id: str, outcome: Outcome, at: datetime) -> None:
    """The provider's final event of an unanswered call (simulated provider's shape)."""
    event = CallEvent(
        provider="simulated", provider_call_id=f"sim-{attempt_id}", event_key=f"t:{attempt_id}",
        attempt_id=attempt_id, final=True, status="ended", outcome=outcome.value,
        duration_s=0, started_at=at, answered_at=None, ended_at=at,
    )  # fmt: skip
    async with db.write() as s:
        await handle_events(s, [event], now=at)


def _sentence(html: str) -> str:
    m = re.search(r'id="retry-wait" data-jobs="(\d+)">([^<]+)<', html)
    assert m, html
    return m[2].strip()


async def test_the_retry_wait_is_one_sentence_with_the_next_time_and_why(
    database: Database, admin_browser: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    now = TUESDAY_10
    frozen_clock.set(now)
    acc = await make_account(database, cap=100)
    settings = {"retry_settings": {"max_attempts": 3, "retry_delay_hours": 2}}
    debtors = [
        ("11111111-1", ["+56911111111"]),
        ("12345678-5", ["+56922222222"]),
        ("22222222-2", ["+56933333333"]),
        ("33333333-3", ["+56944444444"]),
    ]
    batch_id = await make_debtor_batch(database, acc, debtors, now=now, settings=settings)
    async with database.write() as s:
        claimed = await claim_due_jobs(
            s, worker_id="w-test", now=now, limit=50, lease=timedelta(minutes=5)
        )
    assert len(claimed) == 4
    # Two do not answer (retry in 2 h), one is busy (the busy rule: 30 min); one is
    # still on the line.
    outcomes = (Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.BUSY)
    for c, outcome in zip(claimed[:3], outcomes, strict=True):
        await _end(database, c.attempt_id, outcome, now)

    page = await admin_browser.get(f"/dashboard/batches/{batch_id}")
    assert page.status_code == 200
    assert _sentence(page.text) == (
        "3 contactos esperando reintento, el próximo hoy a las 10:30: 2 no contesta, 1 ocupado."
    )
    # The live panel (what the event stream swaps in) says the same, in English too.
    live = await admin_browser.get(f"/dashboard/batches/{batch_id}/live?lang=en")
    assert _sentence(live.text) == (
        "3 contacts waiting for a retry, the next today at 10:30: 2 no answer, 1 busy."
    )

    # After the busy contact's retry time the earliest left is the 12:00 pair; the
    # day is named once the next try is not today.
    async with database.write() as s:
        again = await claim_due_jobs(
            s, worker_id="w-test", now=now + timedelta(minutes=31), limit=50,
            lease=timedelta(minutes=5),
        )  # fmt: skip
    assert len(again) == 1
    frozen_clock.set(now + timedelta(minutes=31))
    await _end(database, again[0].attempt_id, Outcome.NO_ANSWER, now + timedelta(minutes=31))
    page = await admin_browser.get(f"/dashboard/batches/{batch_id}?lang=es")
    assert _sentence(page.text) == (
        "3 contactos esperando reintento, el próximo hoy a las 12:00: 3 no contesta."
    )
    frozen_clock.set(datetime(2026, 3, 9, 20, 0, tzinfo=SANTIAGO))  # the evening before
    page = await admin_browser.get(f"/dashboard/batches/{batch_id}")
    assert "el próximo mañana a las 12:00:" in _sentence(page.text)


def _waiting(html: str) -> str:
    m = re.search(r'id="waiting" data-reason="outside_window">([^<]+)<', html)
    assert m, html
    return m[1].strip()


async def test_outside_hours_says_today_or_tomorrow_on_the_campaigns_own_clock(
    database: Database, admin_browser: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    """A campaign of a Santiago account called on Punta Arenas' clock (UTC-3 all year;
    Santiago is UTC-4 in June) names that zone; the day is "mañana" before midnight
    there and "hoy" after it."""
    acc = await make_account(database, cap=100)
    settings = {
        "timezone": "America/Punta_Arenas",
        "allowed_call_hours": {"start": "09:00", "end": "20:00"},
        "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri"],
    }
    # Wednesday 2026-06-10 23:30 in Punta Arenas (20:30 on Easter Island, the last of
    # the country's clocks to close): closed everywhere until Thursday 09:00 there.
    evening = datetime(2026, 6, 10, 23, 30, tzinfo=ZoneInfo("America/Punta_Arenas"))
    batch_id = await make_debtor_batch(
        database, acc, [("11111111-1", ["+56911111111"])], now=evening, settings=settings
    )
    for now, expected in (
        (evening, "Fuera de horario — se reanuda mañana a las 09:00 (hora de Punta Arenas)."),
        # 00:30 there is still 23:30 of Wednesday in Santiago: the campaign's clock counts.
        (
            evening + timedelta(hours=1),
            "Fuera de horario — se reanuda hoy a las 09:00 (hora de Punta Arenas).",
        ),
    ):
        frozen_clock.set(now)
        async with database.write() as s:
            claimed = await claim_due_jobs(
                s, worker_id="w-test", now=now, limit=10, lease=timedelta(minutes=5)
            )
        assert claimed == []
        page = await admin_browser.get(f"/dashboard/batches/{batch_id}")
        assert _waiting(page.text) == expected
    live = await admin_browser.get(f"/dashboard/batches/{batch_id}/live?lang=en")
    assert _waiting(live.text) == (
        "Outside calling hours — resumes today at 09:00 (Punta Arenas time)."
    )
