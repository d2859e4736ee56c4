"""A campaign's contact table through real HTTP: filters, search, order and pager kept in
the URL, and the export of exactly the listed rows in the reader's spreadsheet shape."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx
import openpyxl
import pytest

from dialer.job.states import JobStatus
from dialer.kit.ids import new_id
from dialer.models import Promise
from tests.dashboard.helpers import login
from tests.factories import add_account, add_batch, add_user

FINISHED = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 12:30 in Santiago (summer time)


@pytest.fixture
async def browser(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def seeded(database):
    """30 contacts; the first three made distinct, the rest pending in file order."""
    async with database.write() as session:
        account, _ = await add_account(session)
        batch, jobs = await add_batch(session, account, jobs=30, name="Cobranza Ñuñoa: marzo/2026")
        paid, promised, busy = jobs[0], jobs[1], jobs[2]
        paid.contact_name, paid.dni, paid.region = "María Pérez", "12345678-5", "RM"
        paid.status, paid.last_outcome, paid.business_result = (
            JobStatus.COMPLETED, "completed", "already_paid",
        )  # fmt: skip
        paid.payload = {"amount": 150000, "currency": "CLP"}
        paid.billed_seconds, paid.completed_at = 90, FINISHED
        promised.contact_name, promised.dni, promised.region = "José Soto", "9876543-3", "VS"
        promised.phones = ["+56987654321"]
        promised.status, promised.last_outcome, promised.business_result = (
            JobStatus.COMPLETED, "completed", "promise_to_pay",
        )  # fmt: skip
        promised.payload = {"amount": 80000, "currency": "CLP"}
        promised.result = {
            "outcome": {
                "kind": "promise_to_pay",
                "promise_to_pay": {"amount": 40000, "currency": "CLP", "date": "2026-03-20"},
                "unparsed": [],
            }
        }
        session.add(
            Promise(
                id=new_id("prm"), account_id=account.id, batch_id=batch.id, job_id=promised.id,
                attempt_id=new_id("att"), debtor_id=promised.dni, amount=40000, currency="CLP",
                status="open",
            )
        )  # fmt: skip
        busy.status, busy.last_outcome, busy.attempts = JobStatus.SCHEDULED, "busy", 1
        user = await add_user(session, account, "supervisor")
    return {"batch": batch, "jobs": jobs, "user": user.username}


async def _rows(c: httpx.AsyncClient, url: str) -> list[str]:
    r = await c.get(url)
    assert r.status_code == 200, r.text[:500]
    return re.findall(r'<tr data-job-id="([^"]+)"', r.text)


async def test_filters_search_and_order_pick_the_rows(browser, seeded):
    await login(browser, seeded["user"])
    base = f"/dashboard/batches/{seeded['batch'].id}"
    jobs = seeded["jobs"]
    paid, promised, busy = jobs[0].id, jobs[1].id, jobs[2].id

    assert await _rows(browser, f"{base}?status=completed") == [paid, promised]
    assert await _rows(browser, f"{base}?outcome=busy") == [busy]
    assert await _rows(browser, f"{base}?business=promise_to_pay") == [promised]
    assert await _rows(browser, f"{base}?promise=open") == [promised]
    without = await _rows(browser, f"{base}?promise=none")
    assert promised not in without
    assert paid in without
    assert await _rows(browser, f"{base}?region=VS") == [promised]
    # Search: a RUT typed with dots, a phone typed with spaces, a name in any case.
    assert await _rows(browser, f"{base}?q=12.345.678-5") == [paid]
    assert await _rows(browser, f"{base}?q=9 8765 4321") == [promised]
    assert await _rows(browser, f"{base}?q=maría") == [paid]
    assert await _rows(browser, f"{base}?q=nadie") == []
    # Filters combine; order by name descending; contacts without an outcome.
    assert await _rows(browser, f"{base}?status=completed&q=soto") == [promised]
    by_name = await _rows(browser, f"{base}?status=completed&sort=name&dir=desc")
    assert by_name == [paid, promised]  # María after José
    assert len(await _rows(browser, f"{base}?outcome=none")) == 25  # a full first page

    page = await browser.get(f"{base}?status=completed&sort=name")
    assert 'aria-sort="ascending"' in page.text
    assert "María Pérez" in page.text
    assert "12.345.678-5" in page.text
    assert "$40.000" in page.text
    assert "20-03-2026" in page.text
    assert "Metropolitana" in page.text  # region by name


async def test_pager_and_exports_keep_the_filters(browser, seeded):
    await login(browser, seeded["user"])
    base = f"/dashboard/batches/{seeded['batch'].id}"
    page = await browser.get(f"{base}?outcome=none&sort=name")
    nxt = re.search(r'id="page-next" href="([^"]+)"', page.text)
    assert nxt, page.text[-3000:]
    link = nxt[1].replace("&amp;", "&")
    assert "outcome=none" in link
    assert "sort=name" in link
    assert "skip=25" in link
    second = await _rows(browser, link)
    assert len(second) == 2  # 27 contacts without an outcome: 25 + 2
    assert not set(second) & set(await _rows(browser, f"{base}?outcome=none&sort=name"))
    export = re.search(r'href="([^"]+)" id="export-csv"', page.text)
    assert export
    assert "outcome=none" in export[1]


async def test_the_table_alone_moves_the_address_unless_it_is_the_live_refresh(browser, seeded):
    await login(browser, seeded["user"])
    url = f"/dashboard/batches/{seeded['batch'].id}/jobs?status=completed&skip=0"
    chosen = await browser.get(url, headers={"HX-Request": "true"})
    assert (
        chosen.headers["HX-Push-Url"] == f"/dashboard/batches/{seeded['batch'].id}?status=completed"
    )
    assert chosen.text.count("<tr data-job-id=") == 2
    live = await browser.get(url, headers={"HX-Request": "true", "HX-Trigger": "jobs"})
    assert "HX-Push-Url" not in live.headers
    assert 'hx-trigger="sse:jobs' in live.text  # the refreshed table keeps listening


async def test_a_filter_outside_the_lists_is_a_422_naming_it(browser, seeded):
    await login(browser, seeded["user"])
    base = f"/dashboard/batches/{seeded['batch'].id}"
    for query, field in (
        ("status=ganado", "status"),
        ("sort=monto", "sort"),
        ("promise=x", "promise"),
    ):
        r = await browser.get(f"{base}?{query}")
        assert r.status_code == 422, query
        assert field in r.text


async def test_spanish_csv_is_what_chilean_excel_opens(browser, seeded):
    await login(browser, seeded["user"])
    r = await browser.get(f"/dashboard/batches/{seeded['batch'].id}/export.csv?status=completed")
    assert r.status_code == 200
    assert r.content.startswith(b"\xef\xbb\xbf")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith(
        'attachment; filename="Cobranza Nunoa_ marzo_2026 (filtrado).csv"'
    )
    star = disposition.split("filename*=UTF-8''")[1]
    assert unquote(star) == "Cobranza Ñuñoa_ marzo_2026 (filtrado).csv"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert [row["Nombre"] for row in rows] == ["María Pérez", "José Soto"]  # only the filtered
    paid, promised = rows
    assert paid["Estado"] == "completado"
    assert paid["Último resultado"] == "contestada"
    assert paid["Resultado de la gestión"] == "ya pagó"
    assert paid["Monto deuda"] == "150000"
    assert paid["Minutos"] == "1,5"  # decimal comma
    assert paid["Terminado (hora del deudor)"] == "10-03-2026 12:30"  # Santiago, one format
    assert promised["Monto prometido"] == "40000"
    assert promised["Fecha de la promesa"] == "20-03-2026"
    assert promised["Estado de la promesa"] == "vigente"


async def test_english_csv_keeps_commas_and_iso_dates(browser, seeded):
    await login(browser, seeded["user"])
    r = await browser.get(f"/dashboard/batches/{seeded['batch'].id}/export.csv?q=soto&lang=en")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 1
    assert rows[0]["Status"] == "completed"
    assert rows[0]["Promise date"] == "2026-03-20"
    assert rows[0]["Business result"] == "promise to pay"


async def test_xlsx_has_numbers_a_filter_a_frozen_header_and_totals(browser, seeded, tmp_path):
    await login(browser, seeded["user"])
    r = await browser.get(f"/dashboard/batches/{seeded['batch'].id}/export.xlsx")
    assert r.status_code == 200
    assert (
        "filename*=UTF-8''Cobranza%20%C3%91u%C3%B1oa_%20marzo_2026.xlsx"
        in (r.headers["content-disposition"])
    )
    path = tmp_path / "x.xlsx"
    path.write_bytes(r.content)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Contactos", "Totales"]
    sheet = book["Contactos"]
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["Fila", "ID contacto", "Nombre", "RUT/DNI"]
    assert sheet.freeze_panes == "A2"
    # The filter covers every column and row.
    last = openpyxl.utils.get_column_letter(len(header))
    assert sheet.auto_filter.ref == f"A1:{last}{30 + 1}"
    col = {name: i for i, name in enumerate(header)}
    first = [c.value for c in sheet[2]]
    assert first[col["Monto deuda"]] == 150000  # a number, not text
    assert first[col["Minutos"]] == 1.5
    assert first[col["Terminado (hora del deudor)"]] == datetime(2026, 3, 10, 12, 30)
    assert first[col["Estado"]] == "completado"
    totals = {row[0].value: row[1].value for row in book["Totales"].iter_rows() if row[0].value}
    assert totals["Contactos"] == 30
    assert totals["Monto deuda"] == 230000
    assert totals["Promesas de pago"] == 1
    assert totals["Monto prometido"] == 40000
    assert totals["completado"] == 2
    assert totals["pendiente"] == 27
