"""A campaign's settings page: every setting the API accepts for a batch, each explained,
saved through the same service and validation as ``PATCH /api/v1/batches/{batch_id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchRead, BatchUpdate
from dialer.batch.settings import WEEKDAYS, CallSettings
from dialer.dashboard.auth import CsrfUser, DashboardUser
from dialer.dashboard.explain import all_profile_rules
from dialer.dashboard.rendering import render, request_lang
from dialer.dashboard.settings_form import (
    RETRY_OUTCOMES,
    field_errors,
    form_values,
    input_of,
    settings_from_form,
    submitted_values,
)
from dialer.db.session import DatabaseDep, ReadSession
from dialer.errors import AppError
from dialer.models import Batch
from dialer.script import service as script_service

router = APIRouter()

EDITABLE = ("draft", "active", "paused")
# The provider options the page edits (others a batch was created with are kept).
PROVIDER_KEYS = ("from_number", "agent_id", "agent_version", "phone_number_id")
# Zones offered in the list (any IANA name may be typed).
ZONES = (
    "America/Santiago", "America/Punta_Arenas", "Pacific/Easter",
    "America/Argentina/Buenos_Aires", "America/Argentina/Cordoba",
    "America/Argentina/Mendoza", "UTC",
)  # fmt: skip


async def _page(
    request: Request,
    session: AsyncSession,
    user: Principal,
    batch: Batch,
    account_timezone: str,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    read = BatchRead.of(batch)
    scripts = list(await script_service.list_scripts_for_batch(session, batch))
    return render(
        request,
        "batch_settings.html",
        {
            "batch": read,
            "v": values,
            "errors": errors,
            "editable": read.status in EDITABLE and user.may("edit_settings"),
            "weekdays": WEEKDAYS,
            "outcomes": RETRY_OUTCOMES,
            "zones": ZONES,
            "provider_keys": PROVIDER_KEYS,
            "account_timezone": account_timezone,
            "scripts": scripts,
            "profile_rules": all_profile_rules(request_lang(request)),
            "tz": values.get("timezone") or account_timezone,
            "saved": saved,
        },
        status_code=status_code,
    )


def _stored_values(batch: Batch) -> dict[str, Any]:
    try:
        settings = CallSettings.model_validate(batch.call_settings or {})
    except ValidationError:  # saved by an older version: start from the defaults
        settings = CallSettings()
    values = form_values(settings)
    values.update(
        name=batch.name, description=batch.description or "", priority=str(batch.priority)
    )
    options = batch.provider_options or {}
    for key in PROVIDER_KEYS:
        values[f"provider_options.{key}"] = str(options.get(key) or "")
    values["script_id"] = batch.script_id or ""
    return values


@router.get("/batches/{batch_id}/settings", name="dashboard_batch_settings")
async def settings_page(
    request: Request, batch_id: str, user: DashboardUser, session: ReadSession
) -> Response:
    batch = await batch_service.get_batch(session, user, batch_id)
    account = await account_service.get_account(session, user, batch.account_id)
    saved = request.query_params.get("saved") == "1"
    return await _page(request, session, user, batch, account.timezone, _stored_values(batch),
                       {}, saved=saved)  # fmt: skip


def _update_of(form: FormData, stored_options: dict[str, Any]) -> BatchUpdate:
    """The form as the API's update body; raises ValidationError with the API's rules."""
    options = {k: str(v) for k, v in stored_options.items() if k not in PROVIDER_KEYS}
    for key in PROVIDER_KEYS:
        value = str(form.get(f"provider_options.{key}") or "").strip()
        if value:
            options[key] = value
    return BatchUpdate.model_validate(
        {
            "name": str(form.get("name") or "").strip(),
            "description": str(form.get("description") or "").strip() or None,
            "priority": str(form.get("priority") or "").strip(),
            "call_settings": settings_from_form(form),
            "provider_options": options,
            "script_id": str(form.get("script_id") or "").strip() or None,
        }
    )


@router.post("/batches/{batch_id}/settings", name="dashboard_batch_settings_save")
async def save_settings(
    request: Request, batch_id: str, user: CsrfUser, db: DatabaseDep
) -> Response:
    """Save, or show the form again with each refusal beside its field (422/409)."""
    # Who and which batch first: a refused role or another account's batch is told so
    # before any value is judged.
    user.require("edit_settings")
    async with db.read() as session:
        stored = dict(
            (await batch_service.get_batch(session, user, batch_id)).provider_options or {}
        )
    form = await request.form()
    errors: dict[str, str] = {}
    status_code = 422
    try:
        data = _update_of(form, stored)
    except ValidationError as exc:
        errors = field_errors(exc)
    else:
        try:
            async with db.write() as session:
                await batch_service.update_batch(session, user, batch_id, data)
        except AppError as exc:
            if exc.status_code in (401, 403, 404):
                raise
            field = (exc.field or "").removeprefix("call_settings.")
            if field.startswith("script"):  # script_id, script_version, script.variables.x
                field = "script_id"
            errors = {input_of(field) if field else "": exc.message}
            status_code = exc.status_code
    if not errors:
        target = f"/dashboard/batches/{batch_id}/settings?saved=1"
        return RedirectResponse(target, status_code=303)
    values = submitted_values(form) | {
        "name": str(form.get("name") or ""),
        "description": str(form.get("description") or ""),
        "priority": str(form.get("priority") or ""),
        "script_id": str(form.get("script_id") or ""),
        **{
            f"provider_options.{k}": str(form.get(f"provider_options.{k}") or "")
            for k in PROVIDER_KEYS
        },
    }
    async with db.read() as session:  # rendered inside: the rows expire on leaving
        batch = await batch_service.get_batch(session, user, batch_id)
        account = await account_service.get_account(session, user, batch.account_id)
        return await _page(request, session, user, batch, account.timezone, values, errors,
                           status_code=status_code)  # fmt: skip
