"""Upload a spreadsheet: preview (counts, first rows, per-row errors), then create."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.batch.settings import CallSettings
from dialer.dashboard.auth import CsrfUser, DashboardUser
from dialer.dashboard.preview import preview_view
from dialer.dashboard.rendering import current_account_id, render, request_lang
from dialer.db.session import ReadSession, SnapshotSession, WriteSession
from dialer.errors import InvalidInput, invalid_input
from dialer.ingestion import service as ingestion_service
from dialer.ingestion.endpoints import _saved_upload
from dialer.ingestion.schemas import ImportOptions

router = APIRouter()

Text = Annotated[str, Form(max_length=500)]


@router.get("/upload", name="dashboard_upload")
async def upload_page(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    user.require("upload")
    account_id = current_account_id(request, user)
    if account_id is None:
        return RedirectResponse("/dashboard/accounts", status_code=303)
    account = await account_service.get_account(session, user, account_id)
    last = await account_service.last_call_settings(session, user, account_id)
    try:
        defaults = CallSettings.model_validate(last.call_settings or {})
    except ValidationError:  # settings saved by an older version: start from defaults
        defaults = CallSettings()
    hours = defaults.allowed_call_hours
    return render(
        request,
        "upload.html",
        {
            "account": account,
            "defaults": defaults,
            "hours": hours if hasattr(hours, "start") else None,
        },
    )


def _options(
    user: Principal,
    request: Request,
    *,
    batch_name: str,
    batch_description: str,
    processing_type: str,
    allow_duplicates: bool,
    call_start: str,
    call_end: str,
    max_attempts: int,
    retry_delay_hours: float,
    max_concurrent_calls: int,
    compliance_profile: str,
    dias_fecha_limite: int | None,
    allowed_weekdays: list[str],
) -> ImportOptions:
    account_id = current_account_id(request, user)
    if account_id is None:
        raise InvalidInput("choose an account first", field="account_id")
    raw: dict[str, Any] = {
        "allowed_call_hours": {"start": call_start, "end": call_end},
        "retry_settings": {"max_attempts": max_attempts, "retry_delay_hours": retry_delay_hours},
        "max_concurrent_calls": max_concurrent_calls,
        "compliance_profile": compliance_profile,
    }
    if allowed_weekdays:
        raw["allowed_weekdays"] = allowed_weekdays
    try:
        return ImportOptions(
            account_id=account_id,
            batch_name=batch_name.strip() or None,
            batch_description=batch_description.strip() or None,
            processing_type=processing_type,
            allow_duplicates=allow_duplicates,
            call_settings=CallSettings.model_validate(raw),
            dias_fecha_limite=dias_fecha_limite,
            # The dashboard creates a draft: the review page shows it before any call.
            status="draft",
        )
    except ValidationError as exc:
        raise invalid_input(exc) from None


class _Form:
    """The upload form's fields, parsed once for preview and create."""

    def __init__(
        self,
        file: Annotated[UploadFile, File()],
        batch_name: Text = "",
        batch_description: Text = "",
        processing_type: Annotated[Literal["basic", "acquisition"], Form()] = "basic",
        allow_duplicates: Annotated[bool, Form()] = False,
        call_start: Annotated[str, Form(max_length=5)] = "09:00",
        call_end: Annotated[str, Form(max_length=5)] = "20:00",
        max_attempts: Annotated[int, Form(ge=1, le=50)] = 3,
        retry_delay_hours: Annotated[float, Form(ge=0, le=720)] = 2.0,
        max_concurrent_calls: Annotated[int, Form(ge=1, le=1000)] = 5,
        compliance_profile: Annotated[str, Form(max_length=40)] = "none",
        dias_fecha_limite: Annotated[str, Form(max_length=6)] = "",
        allowed_weekdays: Annotated[list[str] | None, Form()] = None,
    ) -> None:
        self.file = file
        self.fields: dict[str, Any] = {
            "batch_name": batch_name,
            "batch_description": batch_description,
            "processing_type": processing_type,
            "allow_duplicates": allow_duplicates,
            "call_start": call_start,
            "call_end": call_end,
            "max_attempts": max_attempts,
            "retry_delay_hours": retry_delay_hours,
            "max_concurrent_calls": max_concurrent_calls,
            "compliance_profile": compliance_profile,
            "allowed_weekdays": allowed_weekdays or [],
        }
        dias = dias_fecha_limite.strip()
        if dias and not dias.isdigit():
            raise InvalidInput("must be a whole number of days", field="dias_fecha_limite")
        self.fields["dias_fecha_limite"] = int(dias) if dias else None


@router.post("/upload/preview", name="dashboard_upload_preview")
async def preview(
    request: Request,
    user: CsrfUser,
    session: SnapshotSession,  # a preview writes nothing: no write lock while parsing
    form: Annotated[_Form, Depends()],
) -> Response:
    options = _options(user, request, **form.fields)
    async with _saved_upload(form.file, request.app.state.settings) as path:
        report = await ingestion_service.preview_import(
            session, user, options, path, filename=form.file.filename
        )
    account = await account_service.get_account(session, user, options.account_id)
    zone = (options.call_settings.timezone if options.call_settings else None) or account.timezone
    view = preview_view(report, request_lang(request), zone)
    return render(request, "_preview.html", {"report": report, "view": view})


@router.post("/upload/create", name="dashboard_upload_create")
async def create(
    request: Request,
    user: CsrfUser,
    session: WriteSession,
    form: Annotated[_Form, Depends()],
) -> Response:
    options = _options(user, request, **form.fields)
    async with _saved_upload(form.file, request.app.state.settings) as path:
        created = await ingestion_service.create_import(
            session, user, options, path, filename=form.file.filename
        )
    target = f"/dashboard/batches/{created.batch_id}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
