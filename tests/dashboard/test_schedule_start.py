"""A draft's scheduled start is typed as Chileans write dates (dd-mm-aaaa, 24-hour
time) in text fields: Chromium draws type=date/time in its own locale (12/07/2026,
09:00 AM) whatever the page's language. The server reads the day on the campaign's
clock and refuses a bad one in words, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from dialer.batch.settings import CallSettings
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import BatchStatus
from tests.dashboard.helpers import csrf_token, login
from tests.factories import add_account, add_batch, add_user


@pytest.fixture
async def draft(app, database: Database, frozen_clock: FrozenClock):
    frozen_clock.set(datetime(2026, 12, 1, 13, 0, tzinfo=UTC))  # Tuesday 10:00 in Santiago
    async with database.write() as s:
        account, _key = await add_account(s)
        user = await add_user(s, account, "supervisor")
        batch, _jobs = await add_batch(
            s, account, jobs=2, status=BatchStatus.DRAFT, started_at=None,
            call_settings=CallSettings().model_dump(mode="json"),
        )  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await login(c, user.username)).status_code == 303
        yield c, batch.id


async def test_the_start_is_typed_dd_mm_aaaa_and_read_on_the_campaigns_clock(draft) -> None:
    c, batch_id = draft
    page = await c.get(f"/dashboard/batches/{batch_id}")
    assert 'type="date"' not in page.text
    assert 'type="time"' not in page.text
    assert 'id="start-date" name="start_date" required inputmode="numeric"' in page.text
    assert 'placeholder="dd-mm-aaaa"' in page.text

    token = await csrf_token(c, f"/dashboard/batches/{batch_id}")
    for day, time, words in (
        ("31-02-2026", "09:00", "fecha de inicio: Esa fecha no existe en el calendario."),
        ("12/07/2026 ", "9.00", "hora de inicio: Escriba la hora como HH:MM."),
        ("mañana", "09:00", "fecha de inicio: Escriba la fecha como dd-mm-aaaa"),
    ):
        refused = await c.post(
            f"/dashboard/batches/{batch_id}/start",
            data={"csrf_token": token, "start_date": day, "start_time": time},
        )
        assert refused.status_code == 422, (day, refused.text)
        assert words in refused.text

    started = await c.post(
        f"/dashboard/batches/{batch_id}/start",
        data={"csrf_token": token, "start_date": "07-12-2026", "start_time": "09:00"},
    )
    assert started.status_code == 303, started.text
    page = await c.get(f"/dashboard/batches/{batch_id}")
    # 09:00 in Santiago (UTC-3 in December) on Monday the 7th, said as a Chilean would.
    assert 'data-reason="active">Programada — empieza el lunes 7 a las 09:00.<' in page.text
