"""Every state-changing dashboard route refuses a request without the session's CSRF
token (or from another origin) and a user whose role does not allow it; nothing changes.

A new POST route under /dashboard fails ``test_every_form_route_is_listed`` until it
is added to FORMS with the least role that may use it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from tests.dashboard.helpers import csrf_token, login
from tests.factories import add_account, add_batch, add_user
from tests.hostile.routes import all_routes

# route -> (least role that may use it, form fields)
FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "/dashboard/logout": ("viewer", {}),
    "/dashboard/accounts": ("admin", {"account_id": "{account}"}),
    "/dashboard/batches/{batch_id}/pause": ("operator", {}),
    "/dashboard/batches/{batch_id}/resume": ("operator", {}),
    "/dashboard/batches/{batch_id}/start": ("operator", {}),
    "/dashboard/batches/{batch_id}/cancel": ("supervisor", {"reason": "x"}),
    "/dashboard/batches/{batch_id}/settings": (
        "supervisor",
        {
            "name": "Cambiada",
            "priority": "9",
            "allowed_weekdays": "mon",
            "hours.mon.start": "10:00",
            "hours.mon.end": "12:00",
            "retry_settings.max_attempts": "2",
            "retry_settings.retry_delay_hours": "1",
            "max_concurrent_calls": "1",
            "max_call_duration_s": "60",
            "compliance_profile": "none",
            "collections.max_callbacks": "1",
            "collections.broken_promise.grace_days": "0",
        },
    ),
    "/dashboard/upload/preview": ("operator", {}),
    "/dashboard/upload/create": ("operator", {}),
    "/dashboard/users": ("supervisor", {"username": "nuevo", "password": "0123456789ab"}),
    "/dashboard/users/{user_id}": ("supervisor", {"role": "supervisor"}),
    "/dashboard/account/keys": ("supervisor", {"name": "crm"}),
    "/dashboard/account/keys/{key_id}/revoke": ("supervisor", {}),
    "/dashboard/account/keys/{key_id}/rotate": ("supervisor", {}),
}
# The log-in form has its own double-submit token (tested below).
OWN_TOKEN = {"/dashboard/login"}
RANK = {"viewer": -1, "operator": 0, "supervisor": 1, "admin": 2}


def test_every_form_route_is_listed(app: Any) -> None:
    posts = {
        p for m, p in all_routes(app) if p.startswith("/dashboard") and m not in ("GET", "MOUNT")
    }
    assert posts - OWN_TOKEN == set(FORMS), sorted((posts - OWN_TOKEN) ^ set(FORMS))


@pytest.fixture
async def world(database: Database) -> dict[str, Any]:
    async with database.write() as s:
        account, _key = await add_account(s)
        batch, _jobs = await add_batch(s, account, jobs=2, name="Campaña")
        people = {
            role: (await add_user(s, account, role)).username
            for role in ("viewer", "operator", "supervisor")
        }
        home, _ = await add_account(s, account_name="Casa")
        people["admin"] = (await add_user(s, home, "admin")).username
        victim = (await add_user(s, account, "operator", username="victima")).id
        account_id, batch_id = account.id, batch.id
    keys = await _snapshot(database, account_id, batch_id)
    return {
        "account_id": account_id,
        "batch_id": batch_id,
        "people": people,
        "victim": victim,
        "key_id": keys["keys"][0][0],
        "before": keys,
    }


async def _snapshot(database: Database, account_id: str, batch_id: str) -> dict[str, Any]:
    from sqlalchemy import select

    from dialer.models import ApiKey, Batch, DashboardSession, User

    async with database.read() as s:
        batch = await s.get(Batch, batch_id)
        assert batch is not None
        batch_state = (
            str(batch.status), batch.cancelled_jobs, batch.name, batch.priority,
            batch.call_settings,
        )  # fmt: skip
        keys = (
            await s.execute(
                select(ApiKey.id, ApiKey.revoked)
                .where(ApiKey.account_id == account_id)
                .order_by(ApiKey.id)
            )
        ).all()
        people = (
            await s.execute(
                select(User.username, User.role, User.is_active)
                .where(User.account_id == account_id)
                .order_by(User.username)
            )
        ).all()
        sessions = (await s.execute(select(DashboardSession.id))).all()
    return {
        "batch": batch_state,
        "keys": [tuple(k) for k in keys],
        "users": [tuple(u) for u in people],
        "sessions": len(sessions),
    }


def _fill(template: str, world: dict[str, Any]) -> str:
    return template.format(
        batch_id=world["batch_id"], user_id=world["victim"], key_id=world["key_id"]
    )


async def _client(app: Any, world: dict[str, Any], role: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    r = await login(c, world["people"][role])
    assert r.status_code == 303, r.text
    if role == "admin":
        c.cookies.set("dialer_account", world["account_id"], path="/dashboard")
    return c


def _form(template: str, world: dict[str, Any]) -> dict[str, str]:
    return {k: v.format(account=world["account_id"]) for k, v in FORMS[template][1].items()}


@pytest.mark.parametrize("template", sorted(FORMS))
async def test_a_form_without_the_token_changes_nothing(
    app: Any, database: Database, world: dict[str, Any], template: str
) -> None:
    c = await _client(app, world, "admin")
    try:
        token = await csrf_token(c)
        before = await _snapshot(database, world["account_id"], world["batch_id"])
        path = _fill(template, world)
        attempts = [
            {},  # no token at all (a cross-site form cannot read it)
            {"X-CSRF-Token": "forged-" + token[:10]},
            {"X-CSRF-Token": token, "Origin": "https://evil.example"},
            {"X-CSRF-Token": token, "Origin": "null"},
        ]
        for headers in attempts:
            r = await c.post(path, data=_form(template, world), headers=headers)
            assert r.status_code == 403, (template, headers, r.status_code, r.text[:300])
        # The hidden form field must be the session's own token too.
        r = await c.post(path, data={**_form(template, world), "csrf_token": "x" * 43})
        assert r.status_code == 403
        assert await _snapshot(database, world["account_id"], world["batch_id"]) == before
        # Still logged in: a refused form does not end the session.
        assert (await c.get("/dashboard/batches")).status_code == 200
    finally:
        await c.aclose()


@pytest.mark.parametrize(
    ("template", "role"),
    [
        (t, role)
        for t, (least, _) in sorted(FORMS.items())
        for role in ("viewer", "operator", "supervisor")
        if RANK[role] < RANK[least]
    ],
)
async def test_a_role_below_the_route_is_refused(
    app: Any, database: Database, world: dict[str, Any], template: str, role: str
) -> None:
    c = await _client(app, world, role)
    try:
        token = await csrf_token(c)
        before = await _snapshot(database, world["account_id"], world["batch_id"])
        r = await c.post(
            _fill(template, world),
            data=_form(template, world),
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert r.status_code == 403, (template, role, r.status_code, r.text[:300])
        assert await _snapshot(database, world["account_id"], world["batch_id"]) == before
    finally:
        await c.aclose()


async def test_login_from_another_site_is_refused(app: Any, world: dict[str, Any]) -> None:
    """Login CSRF: a page elsewhere posting the attacker's credentials to our form."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as victim:
        form = {"login": world["people"]["supervisor"], "password": "x" * 12}
        r = await victim.post("/dashboard/login", data=form)
        assert r.status_code == 403
        assert "dialer_session" not in r.headers.get("set-cookie", "")
        # Even with a token, another origin is refused.
        page = await victim.get("/dashboard/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = await victim.post(
            "/dashboard/login",
            data={**form, "csrf_token": token},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        assert "dialer_session" not in r.headers.get("set-cookie", "")


async def test_a_nul_in_the_cancel_reason_is_a_422_and_cancels_nothing(
    app: Any, database: Database, world: dict[str, Any]
) -> None:
    """PostgreSQL cannot store NUL in text: the form answers a 4xx naming the field."""
    c = await _client(app, world, "supervisor")
    try:
        token = await csrf_token(c)
        before = await _snapshot(database, world["account_id"], world["batch_id"])
        path = _fill("/dashboard/batches/{batch_id}/cancel", world)
        r = await c.post(
            path,
            data={"reason": "fin\x00de campaña"},
            headers={"X-CSRF-Token": token, "HX-Request": "true"},
        )
        assert r.status_code == 422, (r.status_code, r.text[:300])
        assert "reason" in r.text
        assert await _snapshot(database, world["account_id"], world["batch_id"]) == before
        # The same form with a clean reason still works.
        r = await c.post(path, data={"reason": "fin de campaña"}, headers={"X-CSRF-Token": token})
        assert r.status_code in (200, 303), (r.status_code, r.text[:300])
        after = await _snapshot(database, world["account_id"], world["batch_id"])
        assert after["batch"][0] == "cancelled"
    finally:
        await c.aclose()
