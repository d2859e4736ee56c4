"""A job ended by compliance says why: the job API's ``compliance_stop`` (the legal stop's
reason and note, or the do-not-call entry of its number with its source and reason) and
the dashboard's job page, in Spanish; the job lists, the CSV/XLSX exports and the
contact table too."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import openpyxl

from dialer.billing.service import topup
from dialer.db.session import Database
from dialer.job.states import JobStatus
from dialer.kit.clock import FrozenClock
from tests.compliance.test_dial_time import claim
from tests.dashboard.helpers import csrf_token, hx_post
from tests.factories import (
    NewAccount,
    cl_cobranza_settings,
    jobs_of,
    make_debtor_batch,
)

RUT = "12345678-5"
STOP_COLUMNS = ("compliance_stop", "compliance_stop_reason", "compliance_stop_detail")
NOW = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # Tuesday 10:00 in Santiago


async def test_a_legal_stop_shows_its_reason_and_note(
    database: Database, new_account: NewAccount, admin_browser: httpx.AsyncClient
) -> None:
    acc, client = await new_account("CL")
    batch = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"]), ("11111111-1",
                             ["+56987654322"])], now=datetime.now(UTC))  # fmt: skip
    r = await client.post(f"/api/v1/accounts/{acc}/legal-stops", json={
        "debtor_id": "12.345.678-5", "reason": "insolvency", "note": "Rol C-1234-2026"})  # fmt: skip
    assert r.status_code == 201, r.text
    stopped, other = await jobs_of(database, batch)
    body = (await client.get(f"/api/v1/jobs/{stopped.id}")).json()
    assert body["last_outcome"] == "legal_stop"
    stop = body["compliance_stop"]
    assert (stop["kind"], stop["reason"], stop["note"]) == (
        "legal_stop", "insolvency", "Rol C-1234-2026"
    )  # fmt: skip
    assert stop["since"] is not None
    assert (await client.get(f"/api/v1/jobs/{other.id}")).json()["compliance_stop"] is None

    page = (await admin_browser.get(f"/dashboard/jobs/{stopped.id}")).text
    assert 'id="compliance-stop" data-kind="legal_stop"' in page
    assert "procedimiento concursal (insolvencia)" in page
    assert "Rol C-1234-2026" in page
    assert (
        'id="compliance-stop"' not in (await admin_browser.get(f"/dashboard/jobs/{other.id}")).text
    )

    # The job lists, the export and the contact table say it too.
    for url in (f"/api/v1/batches/{batch}/jobs", f"/api/v1/jobs?batch_id={batch}"):
        listed = {j["job_id"]: j for j in (await client.get(url)).json()["items"]}
        assert listed[stopped.id]["compliance_stop"]["reason"] == "insolvency"
        assert listed[other.id]["compliance_stop"] is None
    rows = list(csv.DictReader(io.StringIO(
        (await client.get(f"/api/v1/batches/{batch}/export.csv")).text)))  # fmt: skip
    by_id = {r["job_id"]: r for r in rows}
    assert [by_id[stopped.id][c] for c in STOP_COLUMNS] == [
        "legal_stop", "insolvency", "Rol C-1234-2026"]  # fmt: skip
    assert [by_id[other.id][c] for c in STOP_COLUMNS] == ["", "", ""]
    book = openpyxl.load_workbook(io.BytesIO(
        (await client.get(f"/api/v1/batches/{batch}/export.xlsx")).content))  # fmt: skip
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    cells = {r[header.index("job_id")]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert [cells[stopped.id][header.index(c)] for c in STOP_COLUMNS] == [
        "legal_stop", "insolvency", "Rol C-1234-2026"]  # fmt: skip
    table = (await admin_browser.get(f"/dashboard/batches/{batch}/jobs")).text
    row = table.split(f'data-job-id="{stopped.id}"')[1].split("</tr>")[0]
    assert 'class="muted compliance-stop" data-kind="legal_stop"' in row
    assert "Impedimento legal: procedimiento concursal (insolvencia) — Rol C-1234-2026" in row
    assert "compliance-stop" not in table.split(f'data-job-id="{other.id}"')[1].split("</tr>")[0]
    spanish = (await admin_browser.get(f"/dashboard/batches/{batch}/export.csv")).content
    text = spanish.decode("utf-8-sig")
    head, *lines = text.splitlines()
    assert "Motivo de la detención" in head.split(";")
    line = next(x for x in lines if stopped.id in x)
    assert "Impedimento legal;procedimiento concursal (insolvencia);Rol C-1234-2026" in line

    # Lifting the stop: the job stays cancelled and no longer claims a reason it lost.
    assert (await client.delete(f"/api/v1/accounts/{acc}/legal-stops/{RUT}")).status_code == 204
    body = (await client.get(f"/api/v1/jobs/{stopped.id}")).json()
    assert (body["status"], body["compliance_stop"]) == ("cancelled", None)


async def test_a_do_not_call_end_shows_the_listed_number_and_its_source(
    database: Database, new_account: NewAccount, admin_browser: httpx.AsyncClient,
    frozen_clock: FrozenClock,  # after the login: the dashboard session is not expired
) -> None:  # fmt: skip
    frozen_clock.set(NOW)
    acc, client = await new_account("CL")
    async with database.write() as s:
        await topup(s, acc, 60_000, key=f"topup:{acc}")
    batch = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=NOW,
                             settings=cl_cobranza_settings(compliance_profile="none"))  # fmt: skip
    r = await client.post(f"/api/v1/accounts/{acc}/do-not-call", json={
        "phone": "+56 9 8765 4321", "reason": "pidió por correo no ser llamado",
        "source": "import"})  # fmt: skip
    assert r.status_code == 201, r.text
    assert await claim(database, NOW + timedelta(seconds=1)) == []
    [job] = await jobs_of(database, batch)
    assert (job.status, job.last_outcome) == (JobStatus.FAILED, "do_not_call")
    stop = (await client.get(f"/api/v1/jobs/{job.id}")).json()["compliance_stop"]
    assert stop["kind"] == "do_not_call"
    assert stop["phone"] == "+56987654321"
    assert (stop["source"], stop["reason"]) == ("import", "pidió por correo no ser llamado")

    r = await admin_browser.get(f"/dashboard/jobs/{job.id}")
    assert r.status_code == 200
    page = r.text
    assert 'data-kind="do_not_call"' in page
    assert "importado de una planilla" in page
    assert "pidió por correo no ser llamado" in page

    [listed] = (await client.get(f"/api/v1/batches/{batch}/jobs")).json()["items"]
    assert listed["compliance_stop"]["phone"] == "+56987654321"
    [row] = csv.DictReader(io.StringIO(
        (await client.get(f"/api/v1/batches/{batch}/export.csv")).text))  # fmt: skip
    assert [row[c] for c in STOP_COLUMNS] == [
        "do_not_call", "import", "pidió por correo no ser llamado (+56987654321)"]  # fmt: skip
    table = (await admin_browser.get(f"/dashboard/batches/{batch}/jobs")).text
    assert "Lista de no llamar: importado de una planilla" in table


async def test_the_dashboard_says_why_an_argentine_sales_draft_cannot_start(
    new_account: NewAccount, admin_browser: httpx.AsyncClient
) -> None:
    acc, client = await new_account("AR")
    r = await client.post("/api/v1/batches", json={
        "account_id": acc, "name": "Ventas", "processing_type": "acquisition",
        "status": "draft"})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    batch_id = r.json()["batch_id"]
    token = await csrf_token(admin_browser, f"/dashboard/batches/{batch_id}")
    r = await hx_post(admin_browser, f"/dashboard/batches/{batch_id}/start", token)
    assert r.status_code == 409
    assert "Registro Nacional No Llame" in r.text
    assert "últimos 30 días" in r.text
    assert (await client.get(f"/api/v1/batches/{batch_id}")).json()["status"] == "draft"
