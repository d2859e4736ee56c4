"""Payments API: JSON and spreadsheet imports, idempotency by reference, row/column
errors, and what a payment does to the debtor's jobs in every batch."""

from __future__ import annotations

import io
from typing import Any

import httpx
import openpyxl

from dialer.script.render import job_variables
from tests.factories import api_account, api_debtor_batch, api_jobs_by_dni, as_key, debtor, rut


def pay(n: int, amount: Any, ref: str, date: str = "2026-12-01", **extra: Any) -> dict[str, Any]:
    return {"rut": rut(n), "amount": amount, "date": date, "reference": ref, **extra}


async def test_full_payment_cancels_the_debtor_in_every_batch_partial_lowers_the_amount(
    admin: httpx.AsyncClient,
) -> None:
    acc = (await api_account(admin))["account_id"]
    first = await api_debtor_batch(admin, acc, [debtor(1, 150_000), debtor(2, 80_000), debtor(3)])
    second = await api_debtor_batch(admin, acc, [debtor(1, 150_000), debtor(4)])

    r = await admin.post(
        f"/api/v1/accounts/{acc}/payments",
        json=[pay(1, "$150.000", "TRX-1"), pay(2, 30000, "TRX-2", date="30/11/2026")],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["already_recorded"], body["jobs_cancelled"]) == (2, 0, 2)
    by_ref = {p["reference"]: p for p in body["payments"]}
    assert by_ref["TRX-1"]["amount"] == 150_000
    assert sorted(j["status"] for j in by_ref["TRX-1"]["jobs"]) == ["cancelled", "cancelled"]
    assert by_ref["TRX-2"]["jobs"][0]["owed"] == 50_000

    a, b = (
        await api_jobs_by_dni(admin, first["batch_id"]),
        await api_jobs_by_dni(admin, second["batch_id"]),
    )
    for jobs in (a, b):
        paid = jobs[rut(1)]
        assert paid["status"] == "cancelled"
        assert paid["result"]["cancelled_reason"] == "paid"
    partial = a[rut(2)]
    assert partial["status"] == "pending"
    assert partial["payload"]["amount"] == 50_000
    assert partial["payload"]["amount_original"] == 80_000
    assert partial["payload"]["paid_amount"] == 30_000
    # The next call's agent variables say what is still owed.
    assert (
        job_variables(contact_name="x", dni=rut(2), payload=partial["payload"])["monto"]
        == "$50.000"
    )
    assert a[rut(3)]["status"] == b[rut(4)]["status"] == "pending"  # other debtors untouched
    for batch in (first, second):
        status = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/status")).json()
        assert status["pending_jobs"] == (2 if batch is first else 1)


async def test_partial_payment_lowers_the_amount_under_the_key_the_job_was_given(
    admin: httpx.AsyncClient,
) -> None:
    # Jobs created through JSON keep their own keys ("monto", the replaced system's
    # "debt_amount"); the amount the agent is told is read from that key.
    acc = (await api_account(admin))["account_id"]
    jobs = [
        {"contact_name": "Ana", "dni": rut(1), "phones": ["+56990000001"],
         "payload": {"monto": 150_000}},
        {"contact_name": "Luis", "dni": rut(2), "phones": ["+56990000002"],
         "payload": {"debt_amount": 80_000, "currency": "CLP"}},
    ]  # fmt: skip
    batch = await api_debtor_batch(admin, acc, jobs)
    r = await admin.post(f"/api/v1/accounts/{acc}/payments",
                         json=[pay(1, 50_000, "T-1"), pay(2, 80_000, "T-2")])  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["jobs_cancelled"] == 1
    got = await api_jobs_by_dni(admin, batch["batch_id"])
    ana = got[rut(1)]["payload"]
    assert (ana["monto"], ana["amount_original"], ana["paid_amount"]) == (100_000, 150_000, 50_000)
    assert "amount" not in ana
    v = job_variables(contact_name="Ana", dni=rut(1), payload=ana, variable_set="legacy")
    assert (v["monto"], v["monto_total"]) == ("$100.000", "100000")
    assert got[rut(2)]["status"] == "cancelled"  # paid in full, read from debt_amount


async def test_import_is_idempotent_by_reference_and_conflicts_are_refused(
    admin: httpx.AsyncClient,
) -> None:
    acc = (await api_account(admin))["account_id"]
    await api_debtor_batch(admin, acc, [debtor(1, 100_000)])
    url = f"/api/v1/accounts/{acc}/payments"
    once = [pay(1, 40000, "A-1"), pay(1, 10000, "A-2")]
    assert (await admin.post(url, json=once)).json()["accepted"] == 2
    again = (await admin.post(url, json=[*once, pay(1, 5000, "A-3")])).json()
    assert (again["accepted"], again["already_recorded"]) == (1, 2)
    listed = (await admin.get(url)).json()
    assert listed["total"] == 3
    assert sum(p["amount"] for p in listed["items"]) == 55_000
    r = await admin.post(url, json=[pay(1, 99999, "A-1")])
    assert r.status_code == 409
    assert r.json()["errors"][0]["column"] == "reference"
    assert (await admin.get(url, params={"debtor_id": rut(1), "limit": 1})).json()["total"] == 3


async def test_bad_rows_name_row_and_column_and_record_nothing(admin: httpx.AsyncClient) -> None:
    acc = (await api_account(admin))["account_id"]
    url = f"/api/v1/accounts/{acc}/payments"
    r = await admin.post(
        url,
        json=[
            pay(1, 1000, "OK-1"),
            {"rut": "12.345.678-0", "amount": "mucho", "date": "31/02/2026", "reference": "B"},
            {"amount": 5},
        ],
    )
    assert r.status_code == 422, r.text
    errors = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert errors == {
        (2, "debtor_id"), (2, "amount"), (2, "paid_on"),
        (3, "debtor_id"), (3, "paid_on"), (3, "reference"),
    }  # fmt: skip
    assert (await admin.get(url)).json()["total"] == 0
    assert (await admin.post(url, content=b"{nope")).status_code == 422
    assert (await admin.post(url, json={"not": "a list"})).status_code == 422


async def test_csv_and_xlsx_files(admin: httpx.AsyncClient) -> None:
    acc = (await api_account(admin))["account_id"]
    await api_debtor_batch(admin, acc, [debtor(1, 100_000), debtor(2, 100_000)])
    url = f"/api/v1/accounts/{acc}/payments"
    csv = f"RUT;Monto;Fecha de pago;N° Operación\n{rut(1)};$100.000;01/12/2026;991\n"
    r = await admin.post(url, files={"file": ("pagos.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["jobs_cancelled"] == 1

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Rut Deudor", "Importe", "Fecha", "Referencia"])
    ws.append([rut(2), 25000, "2026-12-01", 992])
    ws.append(["11.111.111-2", 1, "2026-12-01", 993])  # wrong check digit
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = (
        "pagos.xlsx",
        buf.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    r = await admin.post(url, files={"file": xlsx})
    assert r.status_code == 422
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(3, "debtor_id")]
    missing = b"rut;monto\n1;2\n"
    r = await admin.post(url, files={"file": ("p.csv", missing, "text/csv")})
    assert r.status_code == 422
    assert {e["column"] for e in r.json()["errors"]} == {"paid_on", "reference"}


async def test_another_accounts_key_sees_nothing(admin: httpx.AsyncClient) -> None:
    acc = (await api_account(admin))["account_id"]
    other = await api_account(admin, account_name="Otra")
    async with as_key(admin, other["api_key"]) as c:
        assert (await c.get(f"/api/v1/accounts/{acc}/payments")).status_code == 404
        r = await c.post(f"/api/v1/accounts/{acc}/payments", json=[pay(1, 1, "X")])
        assert r.status_code == 404
