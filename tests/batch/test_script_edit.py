"""A batch's script can be changed after creation (PATCH and the settings page): checked
as on creation, audited; on a running batch the next calls use the new script and a call
already placed keeps the variables it was sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from dialer.db.session import Database
from dialer.job.service import transition
from dialer.job.states import JobStatus
from dialer.kit import clock
from dialer.models import CallAttempt, Job
from dialer.worker.claim import claim_due_jobs
from tests.dashboard.helpers import csrf_token, login
from tests.factories import ALWAYS_OPEN, TEST_PASSWORD, api_account, as_key, job_bodies

FIRST = "Hola {{nombre}}, su deuda es de {{monto}}."
SECOND = "Buenas tardes {{nombre}}, le llamamos por su pago del {{fecha_limite}}."
NEEDS_EMPRESA = "Hola {{nombre}}, llamamos de {{empresa}}."


async def _script(c: httpx.AsyncClient, name: str, template: str) -> str:
    r = await c.post("/api/v1/scripts", json={"name": name, "template": template})
    assert r.status_code == 201, r.text
    return str(r.json()["script_id"])


async def _batch(c: httpx.AsyncClient, account_id: str, script_id: str, **extra: Any) -> str:
    rows = job_bodies(3)
    for r in rows:
        r["payload"] = {"monto": 150000, "fecha_limite": "2026-12-20"}
    r = await c.post(
        "/api/v1/batches",
        json={
            "account_id": account_id, "name": "Diciembre", "script_id": script_id,
            "call_settings": ALWAYS_OPEN, "provider": "simulated", "jobs": rows, **extra,
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    return str(r.json()["batch_id"])


async def _claim_one(database: Database) -> tuple[str, str | None]:
    """(attempt id, the script it was placed with) of the next call the claim places."""
    async with database.write() as s:
        [claimed] = await claim_due_jobs(
            s, worker_id="w", now=clock.now(), limit=1, lease=timedelta(minutes=5)
        )
    return claimed.attempt_id, claimed.script_id


async def _variables(database: Database, attempt_id: str) -> dict[str, Any]:
    async with database.read() as s:
        row = (
            await s.execute(select(CallAttempt.variables).where(CallAttempt.id == attempt_id))
        ).scalar_one()
    return dict(row)


async def test_a_running_batch_takes_the_new_script_from_its_next_call(
    admin: httpx.AsyncClient, database: Database
) -> None:
    acc = await api_account(admin, max_concurrent_calls=1, initial_minutes=100)
    async with as_key(admin, acc["api_key"]) as c:
        first = await _script(c, "cobro", FIRST)
        second = await _script(c, "recordatorio", SECOND)
        bid = await _batch(c, acc["account_id"], first)

        on_the_line, placed_with = await _claim_one(database)
        assert placed_with == first
        before = await _variables(database, on_the_line)

        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": second})
        assert r.status_code == 200, r.text
        assert (r.json()["script_id"], r.json()["script_version"]) == (second, 1)
        _next_call, next_with = await _claim_one_after_release(database, bid)

        # The call already placed keeps what it was sent; the next one uses the new script.
        assert await _variables(database, on_the_line) == before
        assert next_with == second

        audit = (await admin.get(f"/api/v1/accounts/{acc['account_id']}/audit")).json()
        [entry] = [e for e in audit["items"] if e["action"] == "batch.settings"]
        assert entry["details"]["changed"] == ["script_id"]
        assert entry["details"]["script_id"] == second

        # Back to the account's default script.
        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": None})
        assert r.status_code == 200, r.text
        assert r.json()["script_id"] is None


async def _claim_one_after_release(database: Database, batch_id: str) -> tuple[str, str | None]:
    """Claim the batch's next job once the account's only line is free (the first call is
    settled as the worker would: its job back to waiting)."""
    async with database.write() as s:
        job = (
            await s.execute(select(Job).where(Job.batch_id == batch_id, Job.status == "dialing"))
        ).scalar_one()
        await transition(s, job, JobStatus.COMPLETED, last_outcome="completed")
    return await _claim_one(database)


async def test_a_script_the_rows_cannot_fill_or_of_another_account_is_refused(
    admin: httpx.AsyncClient,
) -> None:
    acc = await api_account(admin)
    other = await api_account(admin)
    async with as_key(admin, acc["api_key"]) as c, as_key(admin, other["api_key"]) as o:
        first = await _script(c, "cobro", FIRST)
        bid = await _batch(c, acc["account_id"], first)
        needs = await _script(c, "empresa", NEEDS_EMPRESA)
        foreign = await _script(o, "ajeno", FIRST)

        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": needs})
        assert r.status_code == 422, r.text
        assert r.json()["field"] == "script.variables.empresa"
        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": foreign})
        assert r.status_code == 404, r.text
        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": first, "script_version": 9})
        assert r.status_code == 404
        assert r.json()["field"] == "script_version"
        assert (await c.get(f"/api/v1/batches/{bid}")).json()["script_id"] == first

        assert (await c.post(f"/api/v1/batches/{bid}/cancel")).status_code == 200
        r = await c.patch(f"/api/v1/batches/{bid}", json={"script_id": None})
        assert r.status_code == 409, r.text  # a finished batch keeps its history


async def test_the_settings_page_changes_the_script(admin: httpx.AsyncClient, app: Any) -> None:
    acc = await api_account(admin)
    async with as_key(admin, acc["api_key"]) as c:
        first = await _script(c, "cobro", FIRST)
        second = await _script(c, "recordatorio", SECOND)
        needs = await _script(c, "empresa", NEEDS_EMPRESA)
        bid = await _batch(c, acc["account_id"], first, status="draft")
    r = await admin.post(
        f"/api/v1/accounts/{acc['account_id']}/users",
        json={"username": "jefa", "password": TEST_PASSWORD, "role": "supervisor"},
    )
    assert r.status_code == 201, r.text
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as boss:
        await login(boss, "jefa")
        page = await boss.get(f"/dashboard/batches/{bid}/settings")
        assert f'<option value="{first}" selected>cobro (v1)</option>' in page.text
        form = _form_of(page.text)
        token = await csrf_token(boss, f"/dashboard/batches/{bid}/settings")

        refused = await boss.post(
            f"/dashboard/batches/{bid}/settings",
            data={**form, "script_id": needs, "csrf_token": token},
        )
        assert refused.status_code == 422
        assert 'id="err-f-script_id"' in refused.text
        assert "empresa" in refused.text

        saved = await boss.post(
            f"/dashboard/batches/{bid}/settings",
            data={**form, "script_id": second, "csrf_token": token},
        )
        assert saved.status_code == 303, saved.text[:500]
    assert (await admin.get(f"/api/v1/batches/{bid}")).json()["script_id"] == second


def _form_of(html: str) -> dict[str, Any]:
    """The settings form's current values, as the browser would send them back."""
    out: dict[str, Any] = {"allowed_weekdays": []}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'\bname="([^"]+)"', tag)
        value = re.search(r'\bvalue="([^"]*)"', tag)
        if not name or not value or name[1] == "csrf_token":
            continue
        if 'type="checkbox"' not in tag:
            out[name[1]] = value[1]
        elif " checked" in tag and name[1] == "allowed_weekdays":
            out["allowed_weekdays"].append(value[1])
        elif " checked" in tag:
            out[name[1]] = value[1]
    for name, body in re.findall(
        r'<select id="[^"]*" name="([^"]+)"[^>]*>(.*?)</select>', html, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        out[name] = chosen[1] if chosen else ""
    return out
