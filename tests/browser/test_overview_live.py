"""The overview updates itself from the account's event stream: no reload, no polling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NO_ANSWER_PHONES, api, login, shots
from tests.browser.live_server import PASSWORD
from tests.browser.test_contacts_flow import draft

pytestmark = pytest.mark.browser


def test_the_overview_moves_live_when_a_campaign_starts(page: Page, live_server) -> None:
    server = live_server
    batch_id = draft(server, "Resumen en vivo", contacts=2, phones=NO_ANSWER_PHONES[:1])
    login(page, server, "supervisora", PASSWORD)
    page.goto(f"{server.url}/dashboard/")
    live = page.locator("#overview-live")
    expect(live).to_have_attribute("data-stream", "open", timeout=30_000)
    pending = page.locator('[data-card="pending_jobs"]')
    before = pending.inner_text()
    page.evaluate("window.__sameDocument = true")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    with api(server) as c:
        assert c.post(f"/api/v1/batches/{batch_id}/start", json={}).status_code == 200

    # The cards change by themselves once the calls are placed and settle.
    expect(pending).not_to_have_text(before, timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True
    assert not [u for u in requests if "/overview/live" in u]  # the stream, not polling
    shots(page, "13-overview-live")
