"""The batch page shows how many jobs wait because of compliance, why, and until when.

The wait is produced by the dispatcher's claim itself: a debtor contacted in one batch
is held in another for a week (cl_cobranza weekly limit)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from dialer.db.session import Database
from dialer.job.states import Outcome
from dialer.kit.clock import FrozenClock
from dialer.telephony.base import CallEvent
from dialer.telephony.webhooks import handle_events
from dialer.worker.claim import claim_due_jobs
from tests.factories import jobs_of, make_account, make_debtor_batch

SANTIAGO = ZoneInfo("America/Santiago")
# Tuesday 2026-03-10 10:00 in Santiago (UTC-3).
TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=SANTIAGO).astimezone(UTC)
RUT = "12345678-5"


async def claim(db: Database, now: datetime) -> list[Any]:
    async with db.write() as s:
        return await claim_due_jobs(
            s, worker_id="w-test", now=now, limit=50, lease=timedelta(minutes=5)
        )


async def answered(db: Database, attempt_id: str, at: datetime) -> None:
    event = CallEvent(
        provider="simulated", provider_call_id=f"sim-{attempt_id}", event_key=f"t:{attempt_id}",
        attempt_id=attempt_id, final=True, status="ended", outcome=Outcome.COMPLETED.value,
        duration_s=90, started_at=at, answered_at=at, ended_at=at + timedelta(seconds=90),
    )  # fmt: skip
    async with db.write() as s:
        await handle_events(s, [event], now=at + timedelta(seconds=90))


def waiting_count(html: str, reason: str) -> tuple[str, int]:
    """The (label, count) of a reason's row in the compliance table."""
    m = re.search(rf'data-reason="{reason}"><td>([^<]+)</td><td class="num">([\d,]+)</td>', html)
    assert m, html
    return m.group(1), int(m.group(2).replace(",", ""))


async def test_batch_page_shows_jobs_waiting_for_the_weekly_limit(
    database: Database, admin_browser: httpx.AsyncClient, frozen_clock: FrozenClock
) -> None:
    now = TUESDAY_10
    frozen_clock.set(now)
    acc = await make_account(database, cap=100)
    march = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=now)
    [first] = await claim(database, now)
    assert first.batch_id == march
    await answered(database, first.attempt_id, now)
    # The same debtor in a new batch, plus someone never contacted.
    april = await make_debtor_batch(
        database, acc, [(RUT, ["+56987654329"]), ("11111111-1", ["+56911111111"])], now=now
    )
    later = now + timedelta(minutes=10)
    frozen_clock.set(later)
    dialed = await claim(database, later)
    assert len(dialed) == 1
    held = [j for j in await jobs_of(database, april) if j.wait_reason]
    assert [j.wait_reason for j in held] == ["compliance_weekly_limit"]

    page = await admin_browser.get(f"/dashboard/batches/{april}")
    assert page.status_code == 200, page.text
    assert "En espera por cumplimiento" in page.text
    label, count = waiting_count(page.text, "compliance_weekly_limit")
    assert (label, count) == ("Límite semanal de contactos al deudor", 1)
    # A week after the contact, shown in the account's (Santiago) time.
    assert "Próximo contacto permitido" in page.text
    assert "17-03-2026 10:00 (Santiago)" in page.text
    assert "cobranza Chile (Ley 21.320)" in page.text

    english = await admin_browser.get(f"/dashboard/batches/{april}?lang=en")
    assert english.status_code == 200
    assert waiting_count(english.text, "compliance_weekly_limit") == (
        "Weekly contact limit per debtor",
        1,
    )
    assert "Next allowed contact" in english.text

    # The batch the debtor was reached in has nothing waiting.
    done = await admin_browser.get(f"/dashboard/batches/{march}?lang=en")
    assert done.status_code == 200
    assert "No jobs waiting for compliance." in done.text
    assert 'data-reason="compliance_weekly_limit"' not in done.text
