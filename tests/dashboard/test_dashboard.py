"""The operator dashboard through real HTTP: login, pages, controls, upload, errors."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from dialer.ingestion.samples import write_sample_chile
from dialer.models import EntryKind, LedgerEntry
from tests.dashboard.helpers import csrf_token, hx_post, login
from tests.factories import add_account, add_batch, add_user


@pytest.fixture
async def browser(app):
    """A cookie-keeping client, like a browser session (no API key header)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _login(c: httpx.AsyncClient, username: str) -> httpx.Response:
    return await login(c, username)


@pytest.fixture
async def seeded(database):
    async with database.write() as session:
        account, key = await add_account(session)
        batch, jobs = await add_batch(session, account, jobs=3, name="Cobranza marzo")
        other, _ = await add_account(session, account_name="Otra")
        other_batch, _ = await add_batch(session, other, jobs=1, name="Ajena")
        supervisor = await add_user(session, account, "supervisor", email="sup@example.cl")
        admin_user = await add_user(session, other, "admin")
    return {
        "account": account,
        "key": supervisor.username,
        "admin": admin_user.username,
        "api_key": key,
        "batch": batch,
        "jobs": jobs,
        "other_batch": other_batch,
    }


class TestLogin:
    async def test_pages_redirect_to_login_until_a_valid_password_is_given(self, browser, seeded):
        r = await browser.get("/dashboard/batches")
        assert r.status_code == 303
        assert r.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fbatches"

        bad = await login(browser, seeded["key"], "wrong-password-123")
        assert bad.status_code == 401
        assert "Usuario o contraseña incorrectos" in bad.text  # Spanish by default
        # The API key no longer opens the dashboard: people log in as themselves.
        by_key = await login(browser, seeded["api_key"], seeded["api_key"])
        assert by_key.status_code == 401

        ok = await login(browser, seeded["key"])
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "dialer_session=" in cookie
        assert "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()

        page = await browser.get("/dashboard/batches")
        assert page.status_code == 200
        assert "Cobranza marzo" in page.text
        assert seeded["key"] in page.text  # who is logged in is on every page

    async def test_e_mail_works_as_the_login_name(self, browser, seeded):
        ok = await login(browser, "SUP@example.cl")
        assert ok.status_code == 303

    async def test_tampered_cookie_is_rejected(self, browser, seeded):
        await _login(browser, seeded["key"])
        token = browser.cookies.get("dialer_session")
        browser.cookies.set("dialer_session", token[:-2] + "xx", path="/dashboard")
        r = await browser.get("/dashboard/batches")
        assert r.status_code == 303

    async def test_logout_ends_the_session_on_the_server(self, browser, seeded, app):
        await _login(browser, seeded["key"])
        stolen = browser.cookies.get("dialer_session")
        token = await csrf_token(browser)
        out = await browser.post("/dashboard/logout", data={"csrf_token": token})
        assert out.status_code == 303
        r = await browser.get("/dashboard/")
        assert r.status_code == 303
        # A copy of the cookie taken before logging out is worthless now.
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
            thief.cookies.set("dialer_session", stolen, path="/dashboard")
            assert (await thief.get("/dashboard/")).status_code == 303

    async def test_login_never_redirects_off_site(self, browser, seeded):
        for target in ("https://evil.example/", "//evil.example/", "/dashboard\\@evil"):
            browser.cookies.clear()
            r = await login(browser, seeded["key"], next=target)
            assert r.headers["location"] == "/dashboard/"


class TestPages:
    async def test_overview_shows_the_cards_and_chart(self, browser, seeded):
        await _login(browser, seeded["key"])
        r = await browser.get("/dashboard/")
        assert r.status_code == 200
        for label in (
            "Contactos cargados hoy",
            "Contestadas / llamadas",
            "Campañas activas",
            "Pendientes",
        ):
            assert label in r.text
        assert 'data-card="pending_jobs">3<' in r.text
        assert 'data-card="active_batches">1<' in r.text

    async def test_english_labels_on_request_and_remembered(self, browser, seeded):
        await _login(browser, seeded["key"])
        r = await browser.get("/dashboard/", params={"lang": "en"})
        assert "Contacts loaded today" in r.text
        assert '<html lang="en">' in r.text
        again = await browser.get("/dashboard/batches")
        assert "Batches" in again.text

    async def test_batch_page_has_live_panel_controls_and_jobs(self, browser, seeded):
        await _login(browser, seeded["key"])
        batch = seeded["batch"]
        r = await browser.get(f"/dashboard/batches/{batch.id}")
        assert r.status_code == 200
        assert f'sse-connect="/dashboard/batches/{batch.id}/stream"' in r.text
        assert 'role="progressbar"' in r.text
        assert 'id="btn-pause"' in r.text
        assert "Contacto 1" in r.text

    async def test_other_accounts_batches_and_jobs_are_not_found(self, browser, seeded):
        await _login(browser, seeded["key"])
        r = await browser.get(f"/dashboard/batches/{seeded['other_batch'].id}")
        assert r.status_code == 404
        assert "text/html" in r.headers["content-type"]
        assert "No encontrado" in r.text
        listing = await browser.get("/dashboard/batches")
        assert "Ajena" not in listing.text

    async def test_job_page_shows_contact_and_attempts(self, browser, seeded):
        await _login(browser, seeded["key"])
        job = seeded["jobs"][0]
        r = await browser.get(f"/dashboard/jobs/{job.id}")
        assert r.status_code == 200
        assert "Contacto 1" in r.text
        assert "Aún no hay intentos." in r.text

    async def test_account_page_shows_balance(self, browser, seeded):
        await _login(browser, seeded["key"])
        r = await browser.get("/dashboard/account")
        assert r.status_code == 200
        assert 'id="balance">600,00 minutos' in r.text

    async def test_ledger_names_the_campaign_of_a_charge(self, browser, seeded, database):
        own, other = seeded["batch"], seeded["other_batch"]
        async with database.write() as session:
            for n, (batch_id, description) in enumerate(
                [(own.id, None), (own.id, "re-settled as voicemail"), (other.id, None)]
            ):
                session.add(
                    LedgerEntry(
                        account_id=seeded["account"].id,
                        kind=EntryKind.CHARGE,
                        amount=-100,
                        balance_after=59_900 - 100 * n,
                        idempotency_key=f"t-{n}",
                        batch_id=batch_id,
                        description=description,
                    )
                )
        await _login(browser, seeded["key"])
        r = await browser.get("/dashboard/account")
        assert r.status_code == 200
        link = f'<a href="/dashboard/batches/{own.id}">Cobranza marzo</a>'
        assert r.text.count(link) == 2
        assert f"re-settled as voicemail · {link}" in r.text
        # Another account's campaign is never named (its id only, as stored on the entry).
        assert "Ajena" not in r.text
        assert other.id in r.text


class TestControls:
    async def test_pause_resume_cancel_from_the_batch_page(self, browser, seeded, admin):
        await _login(browser, seeded["key"])
        batch = seeded["batch"]
        token = await csrf_token(browser)
        hx = {"HX-Request": "true", "X-CSRF-Token": token}
        paused = await browser.post(f"/dashboard/batches/{batch.id}/pause", headers=hx)
        assert paused.status_code == 200
        assert 'data-status="paused"' in paused.text
        assert (await admin.get(f"/api/v1/batches/{batch.id}")).json()["status"] == "paused"

        resumed = await browser.post(f"/dashboard/batches/{batch.id}/resume", headers=hx)
        assert 'data-status="active"' in resumed.text

        cancelled = await browser.post(
            f"/dashboard/batches/{batch.id}/cancel", data={"reason": "deuda pagada"}, headers=hx
        )
        assert 'data-status="cancelled"' in cancelled.text
        body = (await admin.get(f"/api/v1/batches/{batch.id}")).json()
        assert body["status"] == "cancelled"
        assert body["cancelled_reason"] == "deuda pagada"
        assert body["cancelled_jobs"] == 3

    async def test_a_refused_action_comes_back_as_a_toast(self, browser, seeded):
        await _login(browser, seeded["key"])
        batch = seeded["batch"]
        hx = {"HX-Request": "true", "X-CSRF-Token": await csrf_token(browser)}
        await browser.post(f"/dashboard/batches/{batch.id}/cancel", headers=hx)
        r = await browser.post(f"/dashboard/batches/{batch.id}/pause", headers=hx)
        assert r.status_code == 409
        assert r.headers["HX-Retarget"] == "#toasts"
        assert 'class="toast error"' in r.text

    async def test_csv_export_has_one_row_per_job(self, browser, seeded):
        await _login(browser, seeded["key"])
        batch = seeded["batch"]
        r = await browser.get(f"/dashboard/batches/{batch.id}/export.csv")
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert len(rows) == 1 + 3


class TestUpload:
    async def test_preview_lists_row_errors_then_create_makes_the_batch(
        self, browser, seeded, tmp_path: Path, admin
    ):
        await _login(browser, seeded["key"])
        sample = write_sample_chile(tmp_path / "deudores.xlsx", rows=20, with_errors=True)
        form = {
            "batch_name": "Planilla de prueba",
            "call_start": "00:00",
            "call_end": "24:00",
            "max_attempts": "2",
            "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        }

        def files():
            return {"file": ("deudores.xlsx", sample.read_bytes(), "application/octet-stream")}

        hx = {"HX-Request": "true", "X-CSRF-Token": await csrf_token(browser)}
        preview = await browser.post(
            "/dashboard/upload/preview", data=form, files=files(), headers=hx
        )
        assert preview.status_code == 200, preview.text
        assert 'id="preview-errors"' in preview.text
        assert 'class="row-error"' in preview.text
        assert 'id="count-invalid">3<' in preview.text
        assert 'id="count-accepted">17<' in preview.text
        listed = (await admin.get("/api/v1/batches")).json()
        assert all(b["name"] != "Planilla de prueba" for b in listed["items"])

        created = await browser.post(
            "/dashboard/upload/create", data=form, files=files(), headers=hx
        )
        assert created.status_code == 204, created.text
        target = created.headers["HX-Redirect"]
        batch_id = target.rsplit("/", 1)[-1]
        body = (await admin.get(f"/api/v1/batches/{batch_id}")).json()
        assert body["name"] == "Planilla de prueba"
        assert body["total_jobs"] == 17  # three rows have errors
        # A draft: the review page says what will happen before anyone is called.
        assert body["status"] == "draft"
        review = await browser.get(target)
        assert 'id="review"' in review.text
        assert "Llama de 00:00 a 24:00 (hora de Santiago)" in review.text
        assert "Hasta 2 intentos por contacto" in review.text
        assert "17 contactos × 1,5 min ≈ 25,5 minutos; saldo disponible 600,00 minutos" in (
            review.text
        )
        assert review.text.count('class="row-error"') == 3
        assert "Borrador — no se llama a nadie hasta que la inicie." in review.text
        rejected = await browser.get(f"/dashboard/batches/{batch_id}/rejected.csv")
        rows = list(csv.reader(io.StringIO(rejected.text.lstrip("\ufeff")), delimiter=";"))
        assert rows[0] == ["Fila", "Columna", "Error"]
        assert len(rows) == 1 + 3
        token = await csrf_token(browser)
        started = await browser.post(
            f"/dashboard/batches/{batch_id}/start", data={"csrf_token": token}
        )
        assert started.status_code == 303
        assert (await admin.get(f"/api/v1/batches/{batch_id}")).json()["status"] == "active"

    async def test_bad_settings_are_a_clear_message_not_a_500(self, browser, seeded, tmp_path):
        await _login(browser, seeded["key"])
        sample = write_sample_chile(tmp_path / "d.xlsx", rows=3, with_errors=False)
        r = await hx_post(
            browser,
            "/dashboard/upload/preview",
            await csrf_token(browser),
            data={"call_start": "21:00", "call_end": "08:00"},
            files={"file": ("d.xlsx", sample.read_bytes())},
        )
        assert r.status_code == 422
        assert 'class="toast error"' in r.text
        assert "allowed_call_hours" in r.text


class TestAdmin:
    async def test_admin_chooses_an_account_with_a_post(self, browser, seeded):
        await _login(browser, seeded["admin"])
        r = await browser.get("/dashboard/accounts")
        assert seeded["account"].id in r.text
        # A GET link changes nothing any more (it was a cross-site state change).
        await browser.get("/dashboard/accounts", params={"account_id": seeded["account"].id})
        assert "dialer_account" not in browser.cookies
        token = await csrf_token(browser, "/dashboard/accounts")
        chosen = await browser.post(
            "/dashboard/accounts", data={"account_id": seeded["account"].id, "csrf_token": token}
        )
        assert chosen.status_code == 303
        account_page = await browser.get("/dashboard/account")
        assert seeded["account"].account_name in account_page.text
