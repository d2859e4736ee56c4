"""The campaign settings page through real HTTP: every setting the API accepts for a batch,
shown with its rule in Spanish, saved through the API's validation and service, refusals
beside the field with the API's text, and what is saved is what the dialer reads."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from dialer.batch.settings import resolve_settings
from dialer.batch.windows import schedule_for
from dialer.compliance.profiles import CL_COBRANZA
from dialer.models import AuditEntry, Batch, BatchStatus
from tests.dashboard.helpers import csrf_token, login
from tests.factories import add_account, add_batch, add_user

STORED = {
    "allowed_call_hours": {"start": "09:00", "end": "19:00"},
    "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri"],
    "retry_settings": {"max_attempts": 4, "retry_delay_hours": 3},
    "max_calls_per_contact_per_day": 2,
    "compliance_profile": "cl_cobranza",
}


@pytest.fixture
async def world(database: Any) -> dict[str, Any]:
    async with database.write() as s:
        account, key = await add_account(s)
        batch, _ = await add_batch(s, account, jobs=2, name="Cobranza abril",
                                      call_settings=STORED)  # fmt: skip
        sup = await add_user(s, account, "supervisor")
        op = await add_user(s, account, "operator")
    return {"account": account, "key": key, "batch": batch.id, "sup": sup.username,
            "op": op.username}  # fmt: skip


@pytest.fixture
async def client(app: Any) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


def full_form(**changes: str | list[str] | None) -> dict[str, Any]:
    """Every input of the page, as a browser submits it (ticked boxes only)."""
    form: dict[str, Any] = {
        "name": "Cobranza abril",
        "description": "",
        "priority": "0",
        "allowed_weekdays": ["mon", "tue", "wed", "thu", "fri"],
        "timezone": "",
        "holiday_country": "",
        "compliance_profile": "cl_cobranza",
        "retry_settings.max_attempts": "4",
        "retry_settings.retry_delay_hours": "3",
        "max_concurrent_calls": "5",
        "max_calls_per_contact_per_day": "2",
        "max_calls_per_contact_per_week": "",
        "max_call_duration_s": "600",
        "ring_timeout_s": "",
        "collections.max_callbacks": "2",
        "collections.broken_promise.grace_days": "1",
        "collections.voicemail.action": "",
        "collections.voicemail.message": "",
    }
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        form[f"hours.{day}.start"], form[f"hours.{day}.end"] = "09:00", "19:00"
    for o in ("no_answer", "voicemail", "failed"):
        form[f"retry_settings.per_outcome.{o}.retry"] = "true"
        form[f"retry_settings.per_outcome.{o}.next_phone_first"] = "true"
    form["retry_settings.per_outcome.busy.retry"] = "true"
    form["retry_settings.per_outcome.busy.next_phone_first"] = "true"
    form["retry_settings.per_outcome.busy.delay_hours"] = "0.5"
    for k, v in changes.items():
        k = k.replace("__", ".")
        if v is None:
            form.pop(k, None)
        else:
            form[k] = v
    return form


async def _save(c: httpx.AsyncClient, batch_id: str, form: dict[str, Any]) -> httpx.Response:
    token = await csrf_token(c, f"/dashboard/batches/{batch_id}/settings")
    return await c.post(
        f"/dashboard/batches/{batch_id}/settings", data={**form, "csrf_token": token}
    )


def _words_beside(html: str, field: str) -> str:
    """The Spanish reading shown above the API's text."""
    m = re.search(
        rf'<p class="error-text field-error-words">([^<]*)</p><p class="error-text field-error" data-field="{re.escape(field)}"',
        html,
    )
    assert m, field
    return unescape(m[1])


def _error_beside(html: str, field: str) -> str:
    m = re.search(
        rf'class="error-text field-error"[^>]*data-field="{re.escape(field)}"[^>]*>([^<]*)<', html
    )
    assert m, (field, re.findall(r'data-field="([^"]+)"', html))
    return unescape(m[1])


async def _stored(database: Any, batch_id: str) -> Any:
    """The batch row as saved (read in a new transaction)."""
    async with database.read() as s:
        batch = await s.get(Batch, batch_id)
        assert batch is not None
        s.expunge(batch)
        return batch


async def test_the_page_shows_every_setting_filled_and_explained(client, world):
    await login(client, world["sup"])
    r = await client.get(f"/dashboard/batches/{world['batch']}/settings")
    assert r.status_code == 200
    html = r.text
    # Stored values fill their inputs; unset ones are empty (null in the API).
    assert 'name="retry_settings.max_attempts" inputmode="decimal" value="4"' in html
    assert 'name="max_calls_per_contact_per_day" inputmode="decimal" value="2"' in html
    assert 'name="ring_timeout_s" inputmode="decimal" value=""' in html
    assert 'id="wd-sat" type="checkbox" name="allowed_weekdays" value="sat">' in html
    assert 'name="hours.mon.end" value="19:00"' in html
    # Stored without a collections part: callbacks and promise follow-ups are on by default.
    for box in ("collections.callbacks", "collections.broken_promise.follow_up"):
        assert f'name="{box}" value="true" checked' in html, box
    assert 'name="collections.voicemail.retry_other_band" value="true" checked' not in html
    # Every setting of call_settings has an input (nothing is API-only).
    for name in (
        "timezone", "skip_holidays", "holiday_country", "compliance_profile",
        "retry_settings.retry_delay_hours", "retry_settings.per_outcome.busy.delay_hours",
        "retry_settings.per_outcome.voicemail.next_phone_first",
        "retry_settings.per_outcome.failed.retry", "max_concurrent_calls",
        "max_calls_per_contact_per_week", "max_call_duration_s", "collections.callbacks",
        "collections.max_callbacks", "collections.broken_promise.grace_days",
        "collections.broken_promise.follow_up", "collections.voicemail.action",
        "collections.voicemail.message", "collections.voicemail.retry_other_band",
        "name", "description", "priority",
    ):  # fmt: skip
        assert f'name="{name}"' in html, name
    # Rules in Spanish, the profile's from the profile the dispatcher enforces.
    assert "Llamadas como máximo a un mismo deudor por día" in html
    assert "Ley 21.320" in html
    rules = html.split('id="rules-cl_cobranza"')[1].split("</div>")[0]
    assert "Solo de lunes a sábado." in rules
    assert f"Solo entre las {CL_COBRANZA.earliest:%H:%M} y las {CL_COBRANZA.latest:%H:%M}" in rules
    assert "Como máximo 1 llamada(s) contestada(s) por deudor cada 7 días" in rules
    assert "Nunca en feriados de Chile" in rules
    assert 'id="rules-ar_cobranza"' in html
    assert "Los sábados solo de 09:00 a 13:00" in html


async def test_saving_changes_what_the_dialer_reads(client, world, database):
    await login(client, world["sup"])
    form = full_form(
        allowed_weekdays=["mon", "tue", "wed", "thu", "fri", "sat"],
        hours__sat__start="10:00", hours__sat__end="14:00",
        retry_settings__max_attempts="5",
        retry_settings__per_outcome__busy__delay_hours="1.5",
        retry_settings__per_outcome__voicemail__retry=None,
        ring_timeout_s="25", max_calls_per_contact_per_week="4", priority="7",
        collections__callbacks="true", collections__max_callbacks="3",
        collections__voicemail__action="leave_message",
        collections__voicemail__message="Lo llamamos de Cobranzas Test.",
        timezone="America/Punta_Arenas",
    )  # fmt: skip
    r = await _save(client, world["batch"], form)
    assert r.status_code == 303, r.text[:2000]
    assert r.headers["location"].endswith("/settings?saved=1")
    batch = await _stored(database, world["batch"])
    assert batch.priority == 7
    s = resolve_settings(batch.call_settings, account_timezone="America/Santiago")
    assert s.retry_settings.max_attempts == 5
    assert s.retry_settings.rule_for("busy").delay_hours == 1.5
    assert s.retry_settings.rule_for("voicemail").retry is False
    assert s.ring_timeout_s == 25
    assert s.max_calls_per_contact_per_week == 4
    assert s.collections.callbacks
    assert s.collections.max_callbacks == 3
    assert s.collections.voicemail.action == "leave_message"
    assert s.timezone == "America/Punta_Arenas"
    # Different hours on Saturday: stored per weekday, and the dialer's schedule has them.
    assert s.hours_for(5).start == "10:00"
    assert s.hours_for(0).end == "19:00"
    assert s.hours_for(6) is None
    schedule = schedule_for(s, default_timezone="America/Santiago", country="CL")
    assert schedule.days[5] is not None
    assert f"{schedule.days[5][0]:%H:%M}" == "10:00"
    assert schedule.holiday_country == "CL"  # the profile's holidays, always
    # The page shows the saved values and says so; the change is in the audit log.
    page = await client.get(r.headers["location"])
    assert 'id="settings-saved"' in page.text
    assert 'name="hours.sat.start" value="10:00"' in page.text
    async with database.read() as rs:
        from sqlalchemy import select

        actions = (await rs.execute(select(AuditEntry.action).where(
            AuditEntry.target_id == world["batch"]))).scalars().all()  # fmt: skip
    assert "batch.settings" in actions


# (form changes, the input the refusal is shown beside, the same choice sent to the API)
REFUSALS: list[tuple[dict[str, Any], str, dict[str, Any]]] = [
    (
        {"retry_settings__max_attempts": "0"},
        "retry_settings.max_attempts",
        {"retry_settings": {"max_attempts": 0}},
    ),
    (
        {
            "hours__mon__start": "25:00",
            "hours__tue__start": "25:00",
            "hours__wed__start": "25:00",
            "hours__thu__start": "25:00",
            "hours__fri__start": "25:00",
        },
        "hours",
        {"allowed_call_hours": {"start": "25:00", "end": "19:00"}},
    ),
    (
        {"allowed_weekdays": ["mon", "sun"]},
        "allowed_weekdays",
        {"allowed_weekdays": ["mon", "sun"], "compliance_profile": "cl_cobranza"},
    ),
    (
        {"hours__sat__start": "07:00", "allowed_weekdays": ["mon", "sat"]},
        "hours.sat",
        {
            "allowed_call_hours": {
                "mon": {"start": "09:00", "end": "19:00"},
                "sat": {"start": "07:00", "end": "19:00"},
            },
            "allowed_weekdays": ["mon", "sat"],
            "compliance_profile": "cl_cobranza",
        },
    ),
    (
        {"collections__voicemail__action": "leave_message"},
        "collections.voicemail",
        {"collections": {"voicemail": {"action": "leave_message"}}},
    ),
    ({"timezone": "Mars/Olympus"}, "timezone", {"timezone": "Mars/Olympus"}),
    (
        {"max_calls_per_contact_per_day": "dos"},
        "max_calls_per_contact_per_day",
        {"max_calls_per_contact_per_day": "dos"},
    ),
]


async def test_a_refusal_is_the_apis_beside_the_field_and_nothing_changes(
    client, world, database, app
):
    await login(client, world["sup"])
    before = (await _stored(database, world["batch"])).call_settings
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {world['key']}"},
    ) as api:  # fmt: skip
        for changes, field, api_body in REFUSALS:
            r = await _save(client, world["batch"], full_form(**changes))
            assert r.status_code == 422, (field, r.text[:500])
            assert 'id="settings-errors"' in r.text
            shown = _error_beside(r.text, field)
            # The same rule and words as the API for the same choice.
            body = {"call_settings": {"compliance_profile": "none", **api_body}}
            a = await api.patch(f"/api/v1/batches/{world['batch']}", json=body)
            assert a.status_code == 422, a.text
            assert any(e["message"] == shown for e in a.json()["errors"]), (shown, a.json())
            # Read in Spanish too, above the API's words.
            assert _words_beside(r.text, field), shown
    # Nothing was saved.
    assert (await _stored(database, world["batch"])).call_settings == before


async def test_the_caller_id_is_checked_like_the_api_and_saved_for_the_dialer(
    client, world, database, app
):
    await login(client, world["sup"])
    r = await _save(client, world["batch"], full_form(provider_options__from_number="+56223456789"))
    assert r.status_code == 422
    shown = _error_beside(r.text, "provider_options.from_number")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver",
        headers={"Authorization": f"Bearer {world['key']}"},
    ) as api:  # fmt: skip
        a = await api.patch(
            f"/api/v1/batches/{world['batch']}",
            json={"provider_options": {"from_number": "+56223456789"}},
        )
    assert a.status_code == 422
    assert a.json()["detail"] == shown
    assert "SUBTEL" in shown
    assert (await _stored(database, world["batch"])).provider_options == {}
    r = await _save(
        client, world["batch"],
        full_form(provider_options__from_number="+56600123456", provider_options__agent_id="ag-7"),
    )  # fmt: skip
    assert r.status_code == 303
    assert (await _stored(database, world["batch"])).provider_options == {
        "from_number": "+56600123456",
        "agent_id": "ag-7",
    }
    page = await client.get(f"/dashboard/batches/{world['batch']}/settings")
    assert 'name="provider_options.from_number" maxlength="200" value="+56600123456"' in page.text


async def test_an_operator_sees_the_settings_but_cannot_save(client, world, database):
    await login(client, world["op"])
    page = await client.get(f"/dashboard/batches/{world['batch']}/settings")
    assert page.status_code == 200
    assert 'id="settings-readonly"' in page.text
    assert 'id="btn-save-settings"' not in page.text
    r = await _save(client, world["batch"], full_form(priority="9"))
    assert r.status_code == 403
    assert (await _stored(database, world["batch"])).priority == 0


async def test_an_ended_batch_is_read_only_and_a_save_is_a_409(client, world, database):
    async with database.write() as s:
        batch = await s.get(Batch, world["batch"])
        assert batch is not None
        batch.status = BatchStatus.COMPLETED
        batch.is_active = False
    await login(client, world["sup"])
    page = await client.get(f"/dashboard/batches/{world['batch']}/settings")
    assert 'id="settings-readonly"' in page.text
    r = await _save(client, world["batch"], full_form(priority="9"))
    assert r.status_code == 409
    assert "cannot update" in r.text
