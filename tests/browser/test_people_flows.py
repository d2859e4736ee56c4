"""Who may do what, a setting changed, why a campaign waits, and a forged form, in
Chromium against the live server (one campaign per test)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NO_ANSWER_PHONES, api, login, shots
from tests.browser.live_server import PASSWORD
from tests.browser.test_contacts_flow import draft

pytestmark = pytest.mark.browser

SANTIAGO = ZoneInfo("America/Santiago")
REFUSED = "Su rol no permite esta acción."


def _nav(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#site-nav a").all_inner_texts()]


def test_each_role_sees_what_it_may_and_is_refused_the_rest(page: Page, live_server):
    server = live_server
    batch_id = draft(server, "Cartera roles", contacts=2)

    # Operator: runs campaigns; no users, audit, settings or cancelling.
    login(page, server, "operador", PASSWORD)
    expect(page.locator("#who")).to_contain_text("operador")
    assert "Usuarios" not in _nav(page)
    assert "Auditoría" not in _nav(page)
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    expect(page.locator("#btn-start")).to_be_visible()
    expect(page.locator("#btn-cancel")).to_have_count(0)
    shots(page, "20-operator-batch")
    page.goto(f"{server.url}/dashboard/batches/{batch_id}/settings")
    expect(page.locator("#settings-readonly")).to_be_visible()
    expect(page.locator("#f-max_concurrent_calls")).to_be_disabled()
    for path in ("/dashboard/users", "/dashboard/audit"):
        response = page.goto(f"{server.url}{path}")
        assert response is not None
        assert response.status == 403
        expect(page.locator("main")).to_contain_text(REFUSED)
    shots(page, "21-operator-refused")
    page.context.clear_cookies()

    # Supervisor: everything in the account, users and the audit log included.
    login(page, server, "supervisora", PASSWORD)
    assert {"Usuarios", "Auditoría"} <= set(_nav(page))
    assert not any(n.startswith("Cuentas") for n in _nav(page))
    page.goto(f"{server.url}/dashboard/users")
    operator = page.locator("#users-table tr[data-user=operador]")
    expect(operator.locator("select option:checked")).to_have_text("operador")  # the role, named
    expect(page.locator("#users-table tr[data-user=admin]")).to_contain_text("administrador")
    shots(page, "22-supervisor-users")
    page.goto(f"{server.url}/dashboard/accounts")  # its own account only
    expect(page.locator("main")).to_contain_text("Cobranzas Navegador")
    expect(page.locator("main")).not_to_contain_text("Otra Cuenta")
    page.context.clear_cookies()

    # Admin: every account.
    login(page, server, "admin", PASSWORD)
    page.goto(f"{server.url}/dashboard/accounts")
    expect(page.locator("main")).to_contain_text("Otra Cuenta")
    expect(page.locator("main")).to_contain_text("Cobranzas Navegador")
    shots(page, "23-admin-accounts")


def test_a_setting_is_refused_beside_its_field_then_saved_and_audited(page: Page, live_server):
    server = live_server
    batch_id = draft(server, "Cartera ajustes", contacts=2)
    login(page, server, "supervisora", PASSWORD)
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    page.locator("#settings-link").click()
    field = page.locator("#f-max_concurrent_calls")
    field.fill("0")
    page.locator("#btn-save-settings").click()
    expect(page.locator("#err-f-max_concurrent_calls")).to_be_visible()
    expect(field).to_have_attribute("aria-invalid", "true")
    shots(page, "24-settings-refused")
    page.locator("#f-max_concurrent_calls").fill("3")
    page.locator("#btn-save-settings").click()
    expect(page.locator("#settings-saved")).to_be_visible()
    expect(page.locator("#f-max_concurrent_calls")).to_have_value("3")
    shots(page, "25-settings-saved")
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    expect(page.locator("#review-settings")).to_contain_text("Hasta 3 llamadas al mismo tiempo")
    page.goto(f"{server.url}/dashboard/audit")
    expect(page.locator("main")).to_contain_text("cambió la configuración")


def _closed_window() -> dict[str, object]:
    """Calling hours that start three hours from now in Santiago (closed right now)."""
    start = (datetime.now(SANTIAGO) + timedelta(hours=3)).hour
    if start >= 22:  # keep the window inside one day: start at 01:00 instead
        start = 1
    return {"allowed_call_hours": {"start": f"{start:02d}:00", "end": f"{start + 1:02d}:00"}}


def test_waiting_is_explained_in_one_sentence_with_a_time(page: Page, live_server):
    server = live_server
    closed = draft(server, "Cartera fuera de horario", contacts=2, settings=_closed_window())
    retries = draft(
        server,
        "Cartera reintentos",
        contacts=2,
        first_phone=NO_ANSWER_PHONES[0],
        phones=NO_ANSWER_PHONES[1:],
        settings={
            "max_concurrent_calls": 2,
            "retry_settings": {"max_attempts": 3, "retry_delay_hours": 1},
        },
    )
    with api(server) as c:
        for batch_id in (closed, retries):
            assert c.post(f"/api/v1/batches/{batch_id}/start", json={}).status_code == 200
    login(page, server, "supervisora", PASSWORD)

    page.goto(f"{server.url}/dashboard/batches/{closed}")
    waiting = page.locator("#waiting")
    expect(waiting).to_have_attribute("data-reason", "outside_window", timeout=30_000)
    expect(waiting).to_have_text(
        re.compile(r"^Fuera de horario — se reanuda (hoy|mañana) a las \d\d:00\.$")
    )
    shots(page, "26-waiting-outside-hours")

    page.goto(f"{server.url}/dashboard/batches/{retries}")
    retry = page.locator("#retry-wait")
    expect(retry).to_have_attribute("data-jobs", "2", timeout=60_000)
    expect(retry).to_contain_text(
        re.compile(r"2 contactos esperando reintento, el próximo (hoy|mañana) a las \d\d:\d\d")
    )
    expect(retry).to_contain_text(re.compile(r"a las \d\d:\d\d: 2 no contesta"))
    shots(page, "27-waiting-retries")


def test_a_form_posted_from_another_site_or_without_the_token_is_refused(page: Page, live_server):
    server = live_server
    batch_id = draft(server, "Cartera CSRF", contacts=1)
    login(page, server, "supervisora", PASSWORD)
    target = f"{server.url}/dashboard/batches/{batch_id}/start"

    # Another site's page posts a form to the dashboard while the session is open.
    evil = "http://cobros-falsos.example/"
    page.route(
        evil,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<form id="f" method="post" action="{target}"></form>'
            "<script>document.getElementById('f').submit()</script>",
        ),
    )
    with page.expect_response(lambda r: r.url == target and r.request.method == "POST") as info:
        page.goto(evil)
    # Refused: the session cookie (SameSite=Lax) is not sent with another site's post,
    # so the post is anonymous and sent to the login page; and the session survives.
    assert info.value.status == 303
    assert info.value.headers["location"].startswith("/dashboard/login")
    page.goto(f"{server.url}/dashboard/batches/{batch_id}")
    expect(page.locator("#batch-status")).to_have_attribute("data-status", "draft")

    # The same post from the dashboard's own origin but without the form's token.
    page.evaluate(
        """(action) => { const f = document.createElement('form');
            f.method = 'post'; f.action = action; document.body.appendChild(f); f.submit(); }""",
        target,
    )
    expect(page.locator("main")).to_contain_text("El formulario expiró o no vino de este panel")
    shots(page, "28-csrf-refused")

    with api(server) as c:
        assert c.get(f"/api/v1/batches/{batch_id}").json()["status"] == "draft"
