"""Exports carry numbers, not text: amounts owed and paid, the promise (amount, date,
method, status), the callback, the instalments and the recording link."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import httpx
import openpyxl
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job.outcomes import Kind, Outcome, Promise
from dialer.models import Account, Job
from dialer.models import Promise as PromiseRow
from tests.dashboard.helpers import login
from tests.factories import add_user, api_account, api_debtor_batch, attempt_row, debtor, rut


async def test_export_columns_are_numbers_with_promise_payment_callback_and_recording(
    admin: httpx.AsyncClient, database: Database, tmp_path: Path
) -> None:
    acc = (await api_account(admin))["account_id"]
    instalments = [{"number": 1, "amount": 60000, "due_date": "2026-10-05"},
                   {"number": 2, "amount": 60000, "due_date": "2026-11-05"}]  # fmt: skip
    batch = await api_debtor_batch(
        admin, acc, [debtor(1, 4_025_990, cuotas=2, instalments=instalments), debtor(2, 10_000)]
    )
    await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[{"rut": rut(1), "amount": "$25.990", "date": "2026-12-01", "reference": "R1"}],
    )
    promise = Outcome(
        Kind.PROMISE_TO_PAY,
        promise=Promise(4_000_000, "CLP", datetime(2026, 12, 4).date(), "transfer"),
    )
    async with database.write() as s:
        job = (await s.execute(select(Job).where(Job.dni == rut(1)))).scalar_one()
        job.attempts, job.last_outcome, job.business_result = 1, "completed", "promise_to_pay"
        job.result = {"attempt_id": "att-x", "outcome": promise.to_json()}
        s.add(attempt_row(
            id="att-x", job_id=job.id, batch_id=job.batch_id, account_id=acc,
            phone=job.phones[0], outcome="completed",
            ended_at=datetime(2026, 12, 1, 15, tzinfo=UTC), result=promise.to_json(),
            recording_url="https://recordings.example/att-x.wav",
        ))  # fmt: skip
        s.add(PromiseRow(
            id="prm-x", account_id=acc, batch_id=job.batch_id, job_id=job.id, attempt_id="att-x",
            debtor_id=rut(1), amount=4_000_000, currency="CLP", status="open", paid_amount=0,
        ))  # fmt: skip

    r = await admin.get(f"/api/v1/batches/{batch['batch_id']}/export.xlsx")
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws is not None
    header, *data = list(ws.iter_rows(values_only=True))
    row = dict(zip(header, next(d for d in data if rut(1) in d), strict=True))
    assert row["amount"] == 4_000_000  # still owed, a number
    assert row["amount_original"] == 4_025_990
    assert row["paid_amount"] == 25_990
    assert row["currency"] == "CLP"
    assert row["instalments"] == 2
    assert row["instalments_detail"] == "1 60000 2026-10-05; 2 60000 2026-11-05"
    assert (row["promise_amount"], row["promise_date"], row["promise_method"]) == (
        4_000_000, "2026-12-04", "transfer",
    )  # fmt: skip
    assert row["promise_status"] == "open"
    assert row["last_payment_on"] == "2026-12-01"
    assert row["recording_url"] == "https://recordings.example/att-x.wav"
    other = dict(zip(header, next(d for d in data if rut(2) in d), strict=True))
    assert other["promise_amount"] is None
    assert other["amount"] == 10_000
    csv = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/export.csv")).content.decode(
        "utf-8-sig"
    )
    assert "promise_to_pay,2026-12-04,4000000,transfer,open," in csv


async def test_job_page_shows_promise_payments_instalments_and_recording(
    app: object, admin: httpx.AsyncClient, database: Database
) -> None:
    acc = await api_account(admin)
    instalments = [{"number": 1, "amount": 60000, "due_date": "2026-10-05"}]
    batch = await api_debtor_batch(
        admin, acc["account_id"], [debtor(1, 90_000, instalments=instalments)]
    )
    await admin.post(
        f"/api/v1/accounts/{acc['account_id']}/payments",
        json=[{"rut": rut(1), "amount": 30000, "date": "2026-12-01", "reference": "R9"}],
    )
    async with database.write() as s:
        job = (await s.execute(select(Job).where(Job.batch_id == batch["batch_id"]))).scalar_one()
        s.add(attempt_row(
            id="att-y", job_id=job.id, batch_id=job.batch_id, account_id=job.account_id,
            phone=job.phones[0], outcome="completed",
            recording_url="https://recordings.example/att-y.wav",
        ))  # fmt: skip
        s.add(PromiseRow(
            id="prm-y", account_id=job.account_id, batch_id=job.batch_id, job_id=job.id,
            attempt_id="att-y", debtor_id=rut(1), amount=60_000, currency="CLP", status="kept",
            paid_amount=60_000, due_on=datetime(2026, 12, 4).date(),
        ))  # fmt: skip
    detail = (await admin.get(f"/api/v1/jobs/{job.id}")).json()
    assert [p["status"] for p in detail["promises"]] == ["kept"]
    assert [p["reference"] for p in detail["payments"]] == ["R9"]
    assert detail["attempt_history"][0]["recording_url"].endswith("att-y.wav")
    async with database.write() as s:
        account = await s.get(Account, acc["account_id"])
        assert account is not None
        user = await add_user(s, account, "operator")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://testserver",
    ) as c:
        await login(c, user.username)
        page = await c.get(f"/dashboard/jobs/{job.id}")
    assert page.status_code == 200
    html = page.text
    assert 'href="https://recordings.example/att-y.wav"' in html
    assert "04-12-2026" in html  # the promised day, dd-mm-aaaa
    assert "cumplida" in html  # the promise was kept, in words
    assert "R9" in html
    assert 'id="instalments"' in html
