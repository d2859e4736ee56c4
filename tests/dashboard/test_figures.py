"""Recovery figures on the overview and the campaign page (cards, charts, funnel), in
the locale's money, from the hourly roll-up the settlement writes; the campaign's
figures also travel on its event stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from dialer.dashboard.rendering import format_money
from dialer.db.session import Database
from dialer.job.recovery import RecoveryDelta, add_recovery
from dialer.kit.clock import FrozenClock
from dialer.models import BatchStatus
from tests.dashboard.helpers import login
from tests.factories import add_account, add_batch, add_user

SANTIAGO = ZoneInfo("America/Santiago")
AT_10 = datetime(2026, 3, 10, 10, 5, tzinfo=SANTIAGO).astimezone(UTC)
AT_11 = datetime(2026, 3, 10, 11, 40, tzinfo=SANTIAGO).astimezone(UTC)


def test_money_has_the_peso_sign_and_the_locale_grouping() -> None:
    assert format_money(214939, "es") == "$214.939"
    assert format_money(1234567, "es") == "$1.234.567"
    assert format_money(214939, "en") == "$214,939"
    # ARS amounts in centavos (promises, payments) show pesos with decimals, named.
    assert format_money(123456, "es", "ARS", minor=True) == "$1.234,56 ARS"
    assert format_money(-5000, "es") == "-$5.000"
    assert format_money(None, "es") == "—"


@pytest.fixture
async def world(
    app: Any, database: Database, frozen_clock: FrozenClock
) -> AsyncIterator[dict[str, Any]]:
    frozen_clock.set(AT_11)
    async with database.write() as s:
        account, _ = await add_account(s)
        batch, jobs = await add_batch(s, account, jobs=2, name="Cobranza marzo")
        jobs[0].payload = {"amount": 214939, "currency": "CLP", "paid_amount": 50000,
                           "last_payment_on": "2026-03-09"}  # fmt: skip
        batch.status = BatchStatus.COMPLETED
        batch.is_active = False
        batch.completed_jobs, batch.pending_jobs = 2, 0
        ar, _ = await add_account(s, country="AR", timezone="America/Argentina/Buenos_Aires")
        ar_batch, _ = await add_batch(s, ar, jobs=1, name="Cobranza AR")
        sup = await add_user(s, account, "supervisor")
        ar_sup = await add_user(s, ar, "supervisor")
        ids = {"account": account.id, "batch": batch.id, "ar": ar.id, "ar_batch": ar_batch.id,
               "job": jobs[0].id}  # fmt: skip
        # What settling calls, judging promises and importing payments added.
        await add_recovery(s, [
            RecoveryDelta(batch.id, account.id, AT_10, attempts=10, contacts=6, right_party=5,
                          promises=2, promised_amount=214_939, cost_units=600,
                          billed_seconds=600),
            RecoveryDelta(batch.id, account.id, AT_11, attempts=4, contacts=2, right_party=2,
                          promises=1, promised_amount=100_000, kept=1, payments=1,
                          recovered_amount=214_939, cost_units=120, billed_seconds=120),
            RecoveryDelta(ar_batch.id, ar.id, AT_11, attempts=1, contacts=1, right_party=1,
                          promises=1, promised_amount=123_456),
        ])  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as c_ar,
    ):
        assert (await login(c, sup.username)).status_code == 303
        assert (await login(c_ar, ar_sup.username)).status_code == 303
        yield ids | {"client": c, "ar_client": c_ar}


def card(html: str, name: str) -> str:
    m = re.search(rf'data-card="{name}">([^<]+)<', html)
    assert m, name
    return " ".join(m[1].split())


def step(html: str, key: str) -> str:
    m = re.search(rf'data-step="{key}">.*?class="share-value">([^<]+)<', html, re.S)
    assert m, key
    return m[1].strip()


async def test_the_campaign_page_shows_recovery_cards_charts_and_funnel(world) -> None:
    r = await world["client"].get(f"/dashboard/batches/{world['batch']}")
    assert r.status_code == 200
    html = r.text
    assert card(html, "contact_rate") == "50,0%"  # 7 right-party contacts in 14 calls
    assert card(html, "promises") == "3"
    assert card(html, "promised_amount") == "$314.939"
    assert card(html, "kept_broken") == "1 / 0"
    assert card(html, "recovered") == "$214.939"
    assert card(html, "cost") == "12,00 minutos"
    assert card(html, "cost_per_promise") == "4,00 minutos"
    assert step(html, "attempts") == "14 (100,0%)"
    assert step(html, "right_party") == "7 (50,0%)"
    assert step(html, "kept") == "1 (7,1%)"
    # Calls and contacts per hour of day (Santiago), progress by day: SVG from the server.
    hour = re.search(r'<svg class="chart" id="batch-hour".*?</svg>', html, re.S)
    assert hour
    assert "10: llamadas 10, contactos con el deudor 5." in hour[0]
    assert "11: llamadas 4, contactos con el deudor 2." in hour[0]
    day = re.search(r'<desc id="batch-day-desc">([^<]*)<', html)
    assert day
    assert day[1].strip() == "10-03: llamadas 14, contactos con el deudor 7."
    english = await world["client"].get(f"/dashboard/batches/{world['batch']}?lang=en")
    assert card(english.text, "recovered") == "$214,939"


async def test_the_campaign_stream_carries_the_figures(world) -> None:
    """A finished campaign's stream: the panel, the figures, then end."""
    r = await world["client"].get(f"/dashboard/batches/{world['batch']}/stream")
    assert r.status_code == 200
    events = re.findall(r"^event: (\w+)", r.text, re.M)
    assert events[-3:] == ["progress", "figures", "end"], events
    figures = r.text.split("event: figures")[1].split("event: end")[0]
    assert 'data-card="recovered">$214.939<' in figures


async def test_the_overview_shows_todays_recovery_and_refreshes(world) -> None:
    r = await world["client"].get("/dashboard/")
    assert r.status_code == 200
    # Redrawn by the account's stream; the polled block only while the stream is down.
    assert 'sse-connect="/dashboard/overview/stream"' in r.text
    assert 'data-fallback="/dashboard/overview/live"' in r.text
    assert card(r.text, "promised_amount") == "$314.939"
    assert card(r.text, "recovered") == "$214.939"
    live = await world["client"].get("/dashboard/overview/live")
    assert live.status_code == 200
    assert card(live.text, "contact_rate") == "50,0%"
    assert "<html" not in live.text


async def test_argentine_money_is_in_pesos_with_centavos_and_named(world) -> None:
    r = await world["ar_client"].get(f"/dashboard/batches/{world['ar_batch']}")
    assert card(r.text, "promised_amount") == "$1.234,56 ARS"
    overview = await world["ar_client"].get("/dashboard/")
    assert card(overview.text, "promised_amount") == "$1.234,56 ARS"


async def test_the_job_page_shows_the_debt_and_payments_as_money(world) -> None:
    r = await world["client"].get(f"/dashboard/jobs/{world['job']}")
    assert r.status_code == 200
    assert re.search(r'id="owed">\$214\.939<', r.text), r.text
    assert 'id="paid">$50.000 (09-03-2026)<' in r.text
    # Cost in the account's unit (no call billed yet), the phone grouped and typed,
    # the next attempt in words on the debtor's clock, imported days as dd-mm-aaaa.
    assert 'id="job-cost">0,00 minutos<' in r.text
    assert '<span class="phone">+56 9 1234 5670</span> <small class="muted">móvil</small>' in r.text
    assert re.search(r'id="next-attempt">(hoy|mañana|el \w+ \d+) a las \d\d:\d\d<', r.text)
    assert "<dt>Último pago</dt><dd>09-03-2026</dd>" in r.text
    assert "<dt>Monto pagado</dt><dd>$50.000</dd>" in r.text
