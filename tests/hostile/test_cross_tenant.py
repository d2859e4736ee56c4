"""Cross-tenant sweep over every route the application serves.

Account B, with its own API key (and its own dashboard session for /dashboard pages),
tries every route on account A's ids. Routes about a given account, batch, job, script,
provider config or do-not-call entry answer 404 (or 403 for admin-only ones); routes
scoped to "my account" answer for B only. No answer carries any of A's data, and A's
data is unchanged afterwards. A new route fails ``test_every_route_is_covered`` until it
is added here, so the sweep cannot silently fall behind the API.

Routes a provider or an agent server calls are authenticated by a signature, not by an
API key: B signs with its own secret a request naming A's call, and is refused (401).
"""

from __future__ import annotations

import io
import json as jsonlib
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

from dialer.kit import clock
from dialer.telephony.providers.twilio import REPORT_SIGNATURE_HEADER, sign_report
from tests.dashboard.helpers import csrf_token, login
from tests.fixtures.servers import serve
from tests.hostile.conftest import (
    A_TWILIO_SID,
    B_REPORT_SECRET,
    USER_PASSWORD,
    Tenants,
    snapshot_a,
)
from tests.hostile.routes import all_routes

# Served without credentials on purpose (login, health, docs, signed provider webhooks).
PUBLIC = {
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/dashboard/login"),
    ("POST", "/dashboard/login"),
    ("POST", "/dashboard/logout"),
    ("MOUNT", "/dashboard/static"),
    ("POST", "/api/v1/webhooks/{provider}"),
    ("GET", "/legacy/"),
    ("GET", "/legacy/health"),
}

CSV = b"Rut;Nombre;Telefono;Monto\n12.345.678-5;Ana Perez;+56955554444;1000\n"


@dataclass(frozen=True)
class Probe:
    """How B tries a route: ``foreign`` routes name A's resources (expect 403/404);
    ``own`` routes are scoped to the caller and must answer with B's data only;
    ``signed`` routes get a request about A's call signed with B's secret (expect 401)."""

    kind: str
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    upload: bool = False
    agent_report: bool = False
    # an event stream B may open: sent over real TCP, since the in-process transport
    # returns only once a response ends and B's own stream never does
    live: bool = False


FOREIGN = Probe("foreign")
A_QUERY = {"account_id": "tenant-a"}

SWEEP: dict[tuple[str, str], Probe] = {
    # accounts
    ("GET", "/api/v1/accounts"): Probe("own"),
    ("POST", "/api/v1/accounts"): Probe("foreign", json={"account_name": "intrusa"}),
    ("GET", "/api/v1/accounts/{account_id}"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/balance"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/topup"): Probe("foreign", json={"minutes": 10}),
    ("GET", "/api/v1/accounts/{account_id}/stats"): FOREIGN,
    ("PUT", "/api/v1/accounts/{account_id}/suspend"): Probe("foreign", query={"reason": "x"}),
    ("PUT", "/api/v1/accounts/{account_id}/activate"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/transactions"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/last-call-settings"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/api-keys"): FOREIGN,
    ("PATCH", "/api/v1/accounts/{account_id}"): Probe("foreign", json={"account_name": "hacked"}),
    ("GET", "/api/v1/accounts/{account_id}/summary"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/batches"): FOREIGN,
    ("GET", "/api/v1/dashboard/stats"): Probe("foreign", query=A_QUERY),
    ("GET", "/api/v1/accounts/{account_id}/api-keys"): FOREIGN,
    ("DELETE", "/api/v1/accounts/{account_id}/api-keys/{key_id}"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/api-keys/{key_id}/rotate"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/users"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/users"): Probe(
        "foreign", json={"username": "intrusa", "password": "0123456789ab", "role": "admin"}
    ),
    ("PATCH", "/api/v1/accounts/{account_id}/users/{user_id}"): Probe(
        "foreign", json={"password": "0123456789ab"}
    ),
    ("GET", "/api/v1/accounts/{account_id}/audit"): FOREIGN,
    # outbound webhooks, payments and recovery figures
    ("POST", "/api/v1/accounts/{account_id}/webhooks"): Probe(
        "foreign", json={"url": "https://93.184.215.14/hooks/b", "events": ["call.completed"]}
    ),
    ("GET", "/api/v1/accounts/{account_id}/webhooks"): FOREIGN,
    ("DELETE", "/api/v1/accounts/{account_id}/webhooks/{subscription_id}"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/webhooks/deliveries"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/webhooks/deliveries/{delivery_id}/redeliver"): (
        FOREIGN
    ),
    ("POST", "/api/v1/accounts/{account_id}/payments"): Probe(
        "foreign",
        json=[
            {"debtor_id": "12.345.678-5", "amount": 1000, "date": "2026-11-30", "reference": "B-1"}
        ],
    ),
    ("GET", "/api/v1/accounts/{account_id}/payments"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/recovery"): FOREIGN,
    ("GET", "/api/v1/accounts/{account_id}/events"): FOREIGN,
    ("GET", "/api/v1/batches/{batch_id}/recovery"): FOREIGN,
    # the agent server's report of a Twilio call: signed with the account's Twilio
    # report_secret, bound to the attempt's own account (B's secret on A's call: 401)
    ("POST", "/api/v1/webhooks/twilio/report"): Probe("signed", agent_report=True),
    # batches and jobs
    ("POST", "/api/v1/batches"): Probe("foreign", json={"account_id": "tenant-a", "name": "x"}),
    ("GET", "/api/v1/batches"): Probe("foreign", query=A_QUERY),
    ("GET", "/api/v1/batches/{batch_id}"): FOREIGN,
    ("PATCH", "/api/v1/batches/{batch_id}"): Probe("foreign", json={"name": "hacked"}),
    ("GET", "/api/v1/batches/{batch_id}/summary"): FOREIGN,
    ("GET", "/api/v1/batches/{batch_id}/status"): FOREIGN,
    ("POST", "/api/v1/batches/{batch_id}/pause"): FOREIGN,
    ("POST", "/api/v1/batches/{batch_id}/resume"): FOREIGN,
    ("POST", "/api/v1/batches/{batch_id}/start"): FOREIGN,
    ("POST", "/api/v1/batches/{batch_id}/cancel"): Probe("foreign", query={"reason": "x"}),
    ("DELETE", "/api/v1/batches/{batch_id}"): FOREIGN,
    ("POST", "/api/v1/batches/{batch_id}/upload"): Probe("foreign", form={}, upload=True),
    ("GET", "/api/v1/batches/{batch_id}/jobs"): FOREIGN,
    ("GET", "/api/v1/batches/{batch_id}/events"): FOREIGN,
    ("GET", "/api/v1/batches/{batch_id}/export.csv"): FOREIGN,
    ("GET", "/api/v1/batches/{batch_id}/export.xlsx"): FOREIGN,
    ("GET", "/api/v1/jobs/{job_id}"): FOREIGN,
    ("GET", "/api/v1/jobs"): Probe("foreign", query=A_QUERY),
    ("PUT", "/api/v1/jobs/{job_id}/retry"): FOREIGN,
    ("PUT", "/api/v1/jobs/{job_id}/cancel"): FOREIGN,
    # an operator resolving an attempt the provider could not attribute
    ("POST", "/api/v1/attempts/{attempt_id}/resolve"): Probe("foreign", json={"no_call": True}),
    ("GET", "/api/v1/calls/history"): Probe("foreign", query=A_QUERY),
    ("GET", "/api/v1/dashboard/overview"): Probe("foreign", query=A_QUERY),
    # ingestion
    ("POST", "/api/v1/batches/excel/preview"): Probe("foreign", form=A_QUERY, upload=True),
    ("POST", "/api/v1/batches/excel/create"): Probe("foreign", form=A_QUERY, upload=True),
    # compliance
    ("GET", "/api/v1/compliance/profiles"): Probe("own"),
    ("POST", "/api/v1/accounts/{account_id}/do-not-call"): Probe(
        "foreign", json={"phone": "+56911112222"}
    ),
    ("GET", "/api/v1/accounts/{account_id}/do-not-call"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/do-not-call/import"): Probe("foreign", upload=True),
    ("GET", "/api/v1/accounts/{account_id}/do-not-call/{phone}"): FOREIGN,
    ("DELETE", "/api/v1/accounts/{account_id}/do-not-call/{phone}"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/legal-stops"): Probe(
        "foreign", json={"debtor_id": "12345678-5", "reason": "judicial"}
    ),
    ("GET", "/api/v1/accounts/{account_id}/legal-stops"): FOREIGN,
    ("POST", "/api/v1/accounts/{account_id}/legal-stops/import"): Probe("foreign", upload=True),
    ("GET", "/api/v1/accounts/{account_id}/legal-stops/{debtor_id}"): FOREIGN,
    ("DELETE", "/api/v1/accounts/{account_id}/legal-stops/{debtor_id}"): FOREIGN,
    # scripts
    ("POST", "/api/v1/scripts"): Probe(
        "foreign", json={"account_id": "tenant-a", "name": "x", "template": "Hola"}
    ),
    ("GET", "/api/v1/scripts"): Probe("foreign", query=A_QUERY),
    ("GET", "/api/v1/scripts/default"): Probe("foreign", query=A_QUERY),
    ("GET", "/api/v1/scripts/{script_id}"): FOREIGN,
    ("POST", "/api/v1/scripts/{script_id}/versions"): Probe("foreign", json={"template": "x"}),
    ("POST", "/api/v1/scripts/{script_id}/preview"): Probe("foreign", json={"variables": {}}),
    # providers
    ("GET", "/api/v1/accounts/{account_id}/providers/{provider}"): FOREIGN,
    ("PUT", "/api/v1/accounts/{account_id}/providers/{provider}"): Probe(
        "foreign", json={"credentials": {"api_key": "stolen"}}
    ),
    # dashboard (B's session cookie; A named in the query and the account cookie)
    ("GET", "/dashboard/"): Probe("own", query=A_QUERY),
    ("GET", "/dashboard/overview/live"): Probe("own", query=A_QUERY),
    ("GET", "/dashboard/overview/stream"): Probe("own", query=A_QUERY, live=True),
    ("GET", "/dashboard/accounts"): Probe("own", query=A_QUERY),
    ("GET", "/dashboard/account"): Probe("own", query=A_QUERY),
    ("GET", "/dashboard/batches"): Probe("own", query=A_QUERY),
    ("GET", "/dashboard/batches/{batch_id}"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/live"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/outcomes"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/jobs"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/stream"): FOREIGN,
    ("POST", "/dashboard/batches/{batch_id}/pause"): Probe("foreign", form={}),
    ("POST", "/dashboard/batches/{batch_id}/resume"): Probe("foreign", form={}),
    ("POST", "/dashboard/batches/{batch_id}/start"): Probe("foreign", form={}),
    ("POST", "/dashboard/batches/{batch_id}/cancel"): Probe("foreign", form={"reason": "x"}),
    ("GET", "/dashboard/batches/{batch_id}/settings"): FOREIGN,
    ("POST", "/dashboard/batches/{batch_id}/settings"): Probe("foreign", form={"name": "x"}),
    ("GET", "/dashboard/jobs/{job_id}"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/export.csv"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/export.xlsx"): FOREIGN,
    ("GET", "/dashboard/batches/{batch_id}/rejected.csv"): FOREIGN,
    ("GET", "/dashboard/upload"): Probe("own", query=A_QUERY),
    ("POST", "/dashboard/upload/preview"): Probe("own", query=A_QUERY, form={}, upload=True),
    ("POST", "/dashboard/upload/create"): Probe("own", query=A_QUERY, form={}, upload=True),
    # the replaced system's contract under /legacy
    ("POST", "/legacy/api/v1/accounts"): Probe("foreign", json={"account_name": "intrusa"}),
    ("GET", "/legacy/api/v1/accounts"): Probe("own"),
    ("GET", "/legacy/api/v1/accounts/{account_id}"): FOREIGN,
    ("PATCH", "/legacy/api/v1/accounts/{account_id}"): Probe("foreign", json={"status": "active"}),
    ("GET", "/legacy/api/v1/accounts/{account_id}/balance"): FOREIGN,
    ("POST", "/legacy/api/v1/accounts/{account_id}/topup"): Probe("foreign", json={"minutes": 9}),
    ("GET", "/legacy/api/v1/accounts/{account_id}/stats"): FOREIGN,
    ("GET", "/legacy/api/v1/accounts/{account_id}/last-call-settings"): FOREIGN,
    ("GET", "/legacy/api/v1/accounts/{account_id}/batches"): FOREIGN,
    ("GET", "/legacy/api/v1/accounts/{account_id}/transactions"): FOREIGN,
    ("GET", "/legacy/api/v1/accounts/{account_id}/summary"): FOREIGN,
    ("POST", "/legacy/api/v1/batches"): Probe(
        "foreign", json={"account_id": "tenant-a", "name": "x"}
    ),
    ("GET", "/legacy/api/v1/batches"): Probe("foreign", query=A_QUERY),
    ("GET", "/legacy/api/v1/batches/{batch_id}"): FOREIGN,
    ("PATCH", "/legacy/api/v1/batches/{batch_id}"): Probe("foreign", json={"is_active": False}),
    ("GET", "/legacy/api/v1/batches/{batch_id}/summary"): FOREIGN,
    ("GET", "/legacy/api/v1/batches/{batch_id}/status"): FOREIGN,
    ("POST", "/legacy/api/v1/batches/{batch_id}/cancel"): Probe("foreign", query={"reason": "x"}),
    ("GET", "/legacy/api/v1/batches/{batch_id}/jobs"): FOREIGN,
    ("POST", "/legacy/api/v1/batches/{batch_id}/upload"): Probe("foreign", upload=True),
    ("DELETE", "/legacy/api/v1/batches/{batch_id}"): FOREIGN,
    ("POST", "/legacy/api/v1/batches/excel/preview"): Probe("foreign", query=A_QUERY, upload=True),
    ("POST", "/legacy/api/v1/batches/excel/create"): Probe("foreign", form=A_QUERY, upload=True),
    ("POST", "/legacy/api/v1/batches/chile/{use_case}"): Probe(
        "foreign", form={**A_QUERY, "company_name": "x", "retell_agent_id": "a1"}, upload=True
    ),
    ("POST", "/legacy/api/v1/batches/argentina/{use_case}"): Probe(
        "foreign", form={**A_QUERY, "company_name": "x", "retell_agent_id": "a1"}, upload=True
    ),
    ("GET", "/legacy/api/v1/use-cases"): Probe("own"),
    ("GET", "/legacy/api/v1/jobs"): Probe("foreign", query=A_QUERY),
    ("GET", "/legacy/api/v1/jobs/{job_id}"): FOREIGN,
    ("PUT", "/legacy/api/v1/jobs/{job_id}/retry"): FOREIGN,
    ("PUT", "/legacy/api/v1/jobs/{job_id}/cancel"): FOREIGN,
    ("GET", "/legacy/api/v1/dashboard/stats"): Probe("foreign", query=A_QUERY),
    ("GET", "/legacy/api/v1/dashboard/overview"): Probe("foreign", query=A_QUERY),
    ("GET", "/legacy/api/v1/calls/history"): Probe("foreign", query=A_QUERY),
    ("POST", "/dashboard/accounts"): Probe("foreign", form={"account_id": "tenant-a"}),
    ("GET", "/dashboard/users"): Probe("own", query=A_QUERY),
    ("POST", "/dashboard/users"): Probe(
        "own", query=A_QUERY, form={"username": "nueva-b", "password": "0123456789ab"}
    ),
    ("POST", "/dashboard/users/{user_id}"): Probe("foreign", form={"is_active": "false"}),
    ("GET", "/dashboard/audit"): Probe("own", query=A_QUERY),
    ("POST", "/dashboard/account/keys"): Probe("own", query=A_QUERY, form={"name": "b"}),
    ("POST", "/dashboard/account/keys/{key_id}/revoke"): FOREIGN,
    ("POST", "/dashboard/account/keys/{key_id}/rotate"): FOREIGN,
}


def test_every_route_is_covered(app: Any) -> None:
    routes = all_routes(app)
    assert PUBLIC <= routes, f"stale public entries: {PUBLIC - routes}"
    uncovered = routes - PUBLIC - set(SWEEP)
    assert not uncovered, f"routes missing from the cross-tenant sweep: {sorted(uncovered)}"
    stale = set(SWEEP) - routes
    assert not stale, f"sweep entries for routes that no longer exist: {sorted(stale)}"


def agent_report(t: Tenants) -> bytes:
    """A report on A's Twilio call, as B's agent server would send it."""
    return jsonlib.dumps(
        {"attempt_id": t.a_attempt, "call_sid": A_TWILIO_SID, "business_result": "pagado",
         "transcript": "Cliente: ya pague todo.", "summary": "pagado"}
    ).encode()  # fmt: skip


async def _send(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    probe: Probe,
    tenants: Tenants,
    *,
    signed: bool = True,
) -> httpx.Response:
    kwargs: dict[str, Any] = {"params": probe.query or None}
    if probe.json is not None:
        kwargs["json"] = probe.json
    if probe.agent_report:
        body = agent_report(tenants)
        kwargs["content"] = body
        kwargs["headers"] = {"content-type": "application/json"}
        if signed:
            kwargs["headers"][REPORT_SIGNATURE_HEADER] = sign_report(
                body, B_REPORT_SECRET, clock.now()
            )
    if probe.form is not None:
        kwargs["data"] = probe.form
    if probe.upload:
        kwargs["files"] = {"file": ("cartera.csv", io.BytesIO(CSV), "text/csv")}
    # A stream that wrongly opened would never end: read the head only, under a deadline.
    with anyio.fail_after(10):
        async with client.stream(method, path, **kwargs) as response:
            if response.status_code < 300 and "event-stream" in response.headers.get(
                "content-type", ""
            ):
                return response
            await response.aread()
    return response


@pytest.fixture
async def b_dashboard(app: Any, tenants: Tenants) -> Any:
    """B's supervisor logged in to the dashboard, with A named in the account cookie.
    Its requests carry B's valid CSRF token: what stops them is the tenant check."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await login(c, tenants.b_user, USER_PASSWORD)
        assert r.status_code == 303, r.text
        c.headers["X-CSRF-Token"] = await csrf_token(c)
        c.cookies.set("dialer_account", tenants.a_id, path="/dashboard")
        yield c


@pytest.mark.parametrize(("method", "template"), sorted(SWEEP), ids=lambda v: str(v))
async def test_account_b_cannot_reach_account_a(
    app: Any,
    admin: httpx.AsyncClient,
    tenants: Tenants,
    b_dashboard: httpx.AsyncClient,
    method: str,
    template: str,
) -> None:
    probe = SWEEP[(method, template)]
    before = await snapshot_a(admin, tenants)
    path = tenants.fill(template)
    client = b_dashboard if template.startswith("/dashboard") else tenants.b
    if probe.live:
        async with (
            serve(app) as url,
            httpx.AsyncClient(base_url=url, cookies=client.cookies, headers=client.headers) as tcp,
        ):
            response = await _send(tcp, method, path, probe, tenants)
    else:
        response = await _send(client, method, path, probe, tenants)

    if probe.kind == "foreign":
        assert response.status_code in (403, 404), (response.status_code, response.text[:500])
    elif probe.kind == "signed":
        assert response.status_code == 401, (response.status_code, response.text[:500])
    else:
        assert response.status_code < 500, response.text[:500]
    # Error pages may echo the id B asked for; nothing else of A may show.
    sent = path + str(probe.query) + str(probe.json) + str(probe.form)
    if probe.agent_report:
        sent += agent_report(tenants).decode()
    body = response.text if "event-stream" not in response.headers.get("content-type", "") else ""
    leaked = [m for m in tenants.a_markers() if m not in sent and m in body]
    assert not leaked, f"A's data in B's answer: {leaked}"
    assert await snapshot_a(admin, tenants) == before


async def test_every_private_route_needs_credentials(
    client: httpx.AsyncClient, tenants: Tenants
) -> None:
    for method, template in sorted(SWEEP):
        probe = SWEEP[(method, template)]
        response = await _send(client, method, tenants.fill(template), probe, tenants, signed=False)
        if template.startswith("/dashboard"):
            # Browsers are sent to the login page.
            assert response.status_code == 303, (template, response.status_code)
            assert response.headers["location"].startswith("/dashboard/login")
        else:
            assert response.status_code == 401, (method, template, response.status_code)
