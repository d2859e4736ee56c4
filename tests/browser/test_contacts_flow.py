"""A supervisor's contact table in Chromium: filter, search, sort, pages, the export of
the filtered rows, and rows that change by themselves while the page is open."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Sequence
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PROMISE_PHONE, LiveServer, api, login, shots
from tests.browser.live_server import PASSWORD

pytestmark = pytest.mark.browser

ALL_DAY = {
    "allowed_call_hours": {"start": "00:00", "end": "24:00"},
    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "timezone": "America/Santiago",
    "max_concurrent_calls": 1,
    "compliance_profile": "none",
}


def draft(
    server: LiveServer,
    name: str,
    contacts: int,
    *,
    first_phone: str = "+56987654321",
    settings: dict[str, Any] | None = None,
    phones: Sequence[str] = (),
) -> str:
    """A draft campaign (nothing dialed until started) of ``contacts`` Chilean debtors;
    the first is María José Pérez at ``first_phone``, the next ones at ``phones``."""
    jobs = [
        {
            "contact_name": f"Deudor {i:02d}",
            "dni": None,
            "phones": [f"+5691{secrets.randbelow(10**7):07d}"],
            "payload": {"amount": 10000 * (i + 1), "currency": "CLP"},
            "row_number": i + 2,
        }
        for i in range(contacts)
    ]
    jobs[0] |= {"contact_name": "María José Pérez", "dni": "12345678-5", "phones": [first_phone]}
    for job, phone in zip(jobs[1:], phones, strict=False):
        job["phones"] = [phone]
    with api(server) as c:
        r = c.post(
            "/api/v1/batches",
            json={
                "account_id": "browser-test",
                "name": name,
                "call_settings": ALL_DAY | (settings or {}),
                "jobs": jobs,
                "status": "draft",
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["batch_id"])


def test_filter_search_sort_pages_and_export_the_filtered_rows(page: Page, live_server, tmp_path):
    server = live_server
    batch_id = draft(server, "Cartera Ñuñoa diciembre", contacts=40)
    login(page, server, "supervisora", PASSWORD)
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    rows = page.locator("#jobs-table tbody tr[data-job-id]")
    expect(rows).to_have_count(25)
    expect(page.locator("#jobs-count")).to_have_text("1–25 de 40")

    # Search by a RUT typed with dots: one row, and the address says so.
    page.get_by_label("Buscar").fill("12.345.678-5")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("María José Pérez")
    expect(rows.first).to_contain_text("12.345.678-5")
    expect(page).to_have_url(re.compile(r"q=12\.345\.678-5"))
    # ...and by phone digits with spaces.
    page.get_by_label("Buscar").fill("9 8765 4321")
    expect(rows).to_have_count(1)
    page.get_by_label("Buscar").fill("")
    expect(rows).to_have_count(25)

    # A status filter, then sort by name descending: the filter holds across pages.
    page.get_by_label("Estado", exact=True).select_option("pending")
    expect(page).to_have_url(re.compile(r"status=pending"))
    page.locator("th a[data-sort=name]").click()
    expect(page.locator("th[aria-sort=ascending] a[data-sort=name]")).to_be_visible()
    page.locator("th a[data-sort=name]").click()
    expect(page.locator("th[aria-sort=descending] a[data-sort=name]")).to_be_visible()
    expect(rows.first).to_contain_text("María José Pérez")  # M after D
    page.locator("#page-next").click()
    expect(page.locator("#jobs-count")).to_have_text("26–40 de 40")
    expect(rows).to_have_count(15)
    expect(page).to_have_url(re.compile(r"status=pending.*sort=name.*dir=desc.*skip=25"))
    expect(page.get_by_label("Estado", exact=True)).to_have_value("pending")
    # A reload (or a shared link) shows the same page.
    page.reload()
    expect(page.locator("#jobs-count")).to_have_text("26–40 de 40")
    expect(rows.last).to_contain_text("Deudor 01")
    shots(page, "10-contacts-filtered-sorted")

    # Export exactly what the filter lists: only contacts over "Deudor 3".
    page.get_by_label("Buscar").fill("Deudor 3")
    expect(rows).to_have_count(10)  # Deudor 30..39
    with page.expect_download() as info:
        page.locator("#export-csv").click()
    download = info.value
    assert download.suggested_filename == "Cartera Ñuñoa diciembre (filtrado).csv"
    text = download.path().read_text(encoding="utf-8-sig")
    exported = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert sorted(r["Nombre"] for r in exported) == [f"Deudor {i}" for i in range(30, 40)]
    assert {r["Estado"] for r in exported} == {"pendiente"}
    with page.expect_download() as info:
        page.locator("#export-xlsx").click()
    xlsx = info.value
    assert xlsx.suggested_filename == "Cartera Ñuñoa diciembre (filtrado).xlsx"
    path = tmp_path / "export.xlsx"
    xlsx.save_as(path)
    book = openpyxl.load_workbook(path)
    sheet = book["Contactos"]
    assert sheet.max_row == 11  # header + the 10 listed
    amounts = [r[6].value for r in sheet.iter_rows(min_row=2)]
    assert all(isinstance(a, int) for a in amounts)
    assert sheet.auto_filter.ref
    assert sheet.freeze_panes == "A2"
    totals = {r[0].value: r[1].value for r in book["Totales"].iter_rows() if r[0].value}
    assert totals["Contactos"] == 10
    assert totals["Monto deuda"] == sum(amounts)
    shots(page, "11-contacts-export")


def test_rows_change_live_without_reload_and_keep_the_filter(page: Page, live_server):
    server = live_server
    batch_id = draft(server, "Cartera en vivo", contacts=3, first_phone=PROMISE_PHONE)
    login(page, server, "supervisora", PASSWORD)
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    page.get_by_label("Buscar").fill("maría")
    row = page.locator("#jobs-table tbody tr[data-job-id]")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "pending")
    page.evaluate("window.__sameDocument = true")

    with api(server) as c:
        assert c.post(f"/api/v1/batches/{batch_id}/start", json={}).status_code == 200

    # The row moves on by itself (dialing, in a call, finished...) and the search holds.
    expect(row).not_to_have_attribute("data-status", "pending", timeout=60_000)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("María José Pérez")
    expect(page.get_by_label("Buscar")).to_have_value("maría")
    assert page.evaluate("window.__sameDocument") is True
    expect(row).to_have_attribute(
        "data-status", re.compile("completed|failed|scheduled"), timeout=60_000
    )
    assert page.evaluate("window.__sameDocument") is True
    shots(page, "12-contacts-live")
