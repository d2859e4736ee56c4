"""An operator's whole session in Chromium against a live server with simulated calls."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from dialer.ingestion.samples import write_sample_chile
from tests.browser.conftest import DESKTOP, PHONE, LiveServer, shots
from tests.browser.live_server import PASSWORD

pytestmark = pytest.mark.browser


def _login(page: Page, server: LiveServer, username: str = "supervisora") -> None:
    page.goto(f"{server.url}/dashboard/")
    expect(page).to_have_url(f"{server.url}/dashboard/login?next=%2Fdashboard%2F")
    page.get_by_label("Usuario o correo").fill(username)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Ingresar").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Resumen de hoy")


def test_upload_watch_progress_pause_resume_cancel_and_export(page: Page, live_server, tmp_path):
    server = live_server
    _login(page, server)
    shots(page, "01-overview")

    # Upload: the preview shows the rows with errors before anything is created.
    sample = write_sample_chile(tmp_path / "cartera_marzo.xlsx", rows=200, with_errors=True)
    page.get_by_role("link", name="Cargar planilla").click()
    page.get_by_label("Archivo").set_input_files(str(sample))
    page.get_by_label("Nombre de la campaña").fill("Cobranza marzo navegador")
    page.get_by_label("Desde").fill("00:00")
    page.get_by_label("Hasta").fill("24:00")
    page.get_by_label("Llamadas simultáneas").fill("2")
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        page.locator(f"#wd-{day}").check()
    page.get_by_role("button", name="Vista previa").click()
    errors = page.locator("#preview-errors tbody tr.row-error")
    expect(errors.first).to_be_visible()
    assert errors.count() >= 1
    expect(page.locator("#preview-errors")).to_contain_text("RUT")
    # The file's columns beside the fields they are read as; values as they will be used.
    expect(page.locator("#preview-columns")).to_contain_text("Monto deuda")
    expect(page.locator("#preview-rows td[data-key=dni]").first).to_have_text(
        re.compile(r"^\d{1,2}\.\d{3}\.\d{3}-[\dK]$")
    )
    expect(page.locator("#preview-rows td[data-key=amount]").first).to_have_text(
        re.compile(r"^\$\d{1,3}(\.\d{3})+$")
    )
    accepted = int(page.locator("#count-accepted").inner_text())
    assert 190 <= accepted < 200
    shots(page, "02-upload-preview")

    # Create: the browser lands on the new draft's review; nothing is dialed yet.
    page.get_by_role("button", name="Crear campaña").click()
    page.wait_for_url("**/dashboard/batches/batch-*")
    expect(page.locator("#c-total")).to_have_text(str(accepted))
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "draft")
    expect(page.locator("#review-settings")).to_contain_text("Llama de 00:00 a 24:00")
    expect(page.locator("#review-estimate")).to_contain_text("saldo disponible")
    expect(page.locator("#review-rejected tr.row-error").first).to_be_visible()
    assert page.locator("#c-completed").inner_text() == "0"
    # The scheduled start is typed as dd-mm-aaaa (a text field: Chromium would draw a
    # date field in its own US format); the field itself refuses what is no such day.
    start_date = page.locator("#start-date")
    start_date.fill("mañana")
    assert start_date.evaluate("e => e.validity.patternMismatch") is True
    start_date.fill("07-12-2026")
    assert start_date.evaluate("e => e.validity.valid") is True
    start_date.fill("")
    shots(page, "03a-draft-review")
    page.locator("#btn-start").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "active")

    # The bar advances by itself: same document (marker survives), no reload.
    page.evaluate("window.__sameDocument = true")
    progress = page.locator("#progress")
    start = float(progress.get_attribute("data-progress") or 0)
    page.wait_for_function(
        f"() => parseFloat(document.querySelector('#progress').dataset.progress) > {start}",
        timeout=60_000,
    )
    assert page.evaluate("window.__sameDocument") is True
    shots(page, "03-batch-live-progress")

    # Pause, resume, cancel from the live panel.
    page.locator("#btn-pause").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "paused")
    page.locator("#btn-resume").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "active")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Motivo de cancelación").fill("cliente pagó")
    page.locator("#btn-cancel").click()
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "cancelled")
    assert page.evaluate("window.__sameDocument") is True
    cancelled = int(page.locator("#c-cancelled").inner_text().replace(".", ""))
    assert cancelled > 0
    shots(page, "04-batch-cancelled")

    # The charts' labels are HTML under the stretched drawing: on a phone they keep a
    # readable size, and only every other one of the hours is shown.
    page.reload()
    page.set_viewport_size(PHONE)
    hour_ticks = page.locator("#batch-hour ~ .ticks .tick")
    expect(hour_ticks.first).to_be_visible()
    shown = page.evaluate(
        """() => Array.from(document.querySelectorAll('#batch-hour ~ .ticks .tick'))
            .filter(e => e.getBoundingClientRect().width > 0)
            .map(e => parseFloat(getComputedStyle(e).fontSize))"""
    )
    assert len(shown) == 4, shown  # 00, 06, 12, 18 of the day's 24 hours
    assert min(shown) >= 13, shown
    page.set_viewport_size(DESKTOP)

    # The CSV export has one row per job, with the final statuses, in Chilean Excel's
    # shape: semicolons, Spanish headers and statuses, named after the campaign.
    with page.expect_download() as download_info:
        page.locator("#export-csv").click()
    download = download_info.value
    assert download.suggested_filename == "Cobranza marzo navegador.csv"
    content = download.path().read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content), delimiter=";"))
    assert len(rows) == accepted
    statuses = {r["Estado"] for r in rows}
    assert "cancelado" in statuses
    assert statuses & {"completado", "fallido", "en llamada", "marcando", "reintento programado"}


def test_english_labels_and_job_page(page: Page, live_server):
    server = live_server
    _login(page, server)
    page.goto(f"{server.url}/dashboard/batches?lang=en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Batches")
    page.locator("table a").first.click()
    page.locator("#jobs-title").scroll_into_view_if_needed()
    page.locator("table a[href^='/dashboard/jobs/']").first.click()
    expect(page.get_by_role("heading", name="Attempts")).to_be_visible()
    debt = page.locator("section[aria-labelledby=jp-title]")
    expect(debt).to_contain_text("Amount owed")  # imported fields by name, not as codes
    expect(debt).not_to_contain_text("fecha_vencimiento")
    shots(page, "05-job-en")
    page.goto(f"{server.url}/dashboard/account")
    expect(page.locator("#balance")).to_contain_text("minutes")
    shots(page, "06-account-en")
