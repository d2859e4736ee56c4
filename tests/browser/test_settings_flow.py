"""A supervisor edits a draft campaign's settings in Chromium: a refused value is shown
beside its field, a corrected form is saved, and the API reads what the page saved."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer, api, login, shots
from tests.browser.live_server import PASSWORD

pytestmark = pytest.mark.browser


def _draft(server: LiveServer) -> str:
    with api(server) as c:
        r = c.post(
            "/api/v1/batches",
            json={
                "account_id": "browser-test",
                "name": "Cobranza ajustes",
                "status": "draft",
                "jobs": [{"contact_name": "Ana Rojas", "dni": "12345678-5",
                          "phones": ["+56987654321"]}],
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return str(r.json()["batch_id"])


def test_edit_settings_refused_beside_the_field_then_saved(page: Page, live_server) -> None:
    server = live_server
    batch_id = _draft(server)
    login(page, server, "supervisora", PASSWORD)
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    page.locator("#settings-link").click()
    page.wait_for_url(f"**/dashboard/batches/{batch_id}/settings")
    expect(page.locator("#rules-cl_cobranza")).to_contain_text("Ley 21.320")

    # Chile's collection profile forbids Sunday calls: refused beside the days.
    page.locator("#f-compliance_profile").select_option("cl_cobranza")
    page.locator("#wd-sun").check()
    page.locator("#f-retry_settings-max_attempts").fill("5")
    page.locator("#btn-save-settings").click()
    error = page.locator('.field-error[data-field="allowed_weekdays"]')
    expect(error).to_contain_text("cl_cobranza.weekdays")
    expect(page.locator("#settings-errors")).to_be_visible()
    expect(page.locator("#f-retry_settings-max_attempts")).to_have_value(
        "5"
    )  # what was typed stays
    shots(page, "settings-refused")

    # Corrected: no Sunday, shorter Saturday hours; saved and read back by the API.
    page.locator("#wd-sun").uncheck()
    page.locator("#f-hours-sat-start").fill("09:00")
    page.locator("#f-hours-sat-end").fill("13:00")
    page.locator("#f-max_calls_per_contact_per_day").fill("2")
    page.locator("#btn-save-settings").click()
    expect(page.locator("#settings-saved")).to_be_visible()
    shots(page, "settings-saved")
    with api(server) as c:
        s = c.get(f"/api/v1/batches/{batch_id}").json()["call_settings"]
    assert s["compliance_profile"] == "cl_cobranza"
    assert s["retry_settings"]["max_attempts"] == 5
    assert s["max_calls_per_contact_per_day"] == 2
    assert s["allowed_call_hours"]["sat"] == {"start": "09:00", "end": "13:00"}
    assert s["allowed_call_hours"]["sun"] is None
