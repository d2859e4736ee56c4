"""The replaced system's HTTP contract under ``/legacy``.

Every route of its ``app/api.py`` (at its HEAD), with the same methods, paths,
parameters and response shapes, so a client configured with ``https://host`` changes
its base URL to ``https://host/legacy`` and adds an API key. Each route parses the
original's input and calls one operation of ``legacy.service`` (itself a composition of
dialer's services). Where the original declared a route twice, the first declaration
is the one its clients reached (FastAPI matches in order), so that is the one served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from dialer.account.auth import AdminPrincipal, CurrentPrincipal
from dialer.db.session import Database, ReadSession, SnapshotSession, WriteSession
from dialer.errors import InvalidInput
from dialer.ingestion.endpoints import _saved_upload
from dialer.ingestion.schemas import ImportOptions
from dialer.kit import clock
from dialer.legacy import service
from dialer.legacy.errors import LEGACY_ERROR_RESPONSES

# The error statuses are documented with the /legacy error body (they override the
# application-wide ones the router is included with).
router = APIRouter(prefix="/legacy", tags=["legacy"], responses=LEGACY_ERROR_RESPONSES)

Limit = Annotated[int, Query(ge=1, le=1000)]
Skip = Annotated[int, Query(ge=0, le=1_000_000_000)]
LegacyList = list[dict[str, Any]]
LegacyDict = dict[str, Any]


# -- request bodies (the original's pydantic models) ------------------------------------


class CreateAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_name: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    plan_type: str = "credit_based"
    initial_minutes: float | None = None
    initial_credits: float | None = None
    country: str = "CL"
    timezone: str | None = None
    max_concurrent_calls: int | None = 5
    features: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None
    account_id: str | None = None  # dialer: an optional slug
    # Its AccountModel's limit (the original could not set it through the API); here
    # enforced: calls started per day on the account's clock. None: no limit.
    daily_call_limit: int | None = None


class TopupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: float | None = None
    credits: float | None = None


class UpdateAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_name: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    timezone: str | None = None
    max_concurrent_calls: int | None = None
    features: dict[str, Any] | None = None
    status: str | None = None
    daily_call_limit: int | None = None  # null removes the limit


class CreateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str
    name: str
    description: str = ""
    priority: int = 1
    call_settings: dict[str, Any] | None = None
    script_id: str | None = None
    variable_set: str | None = None


class UpdateBatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_active: bool | None = None
    name: str | None = None
    description: str | None = None
    priority: int | None = None
    call_settings: dict[str, Any] | None = None


def _given(body: BaseModel) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


# -- health -----------------------------------------------------------------------------


@router.get("/", response_model=LegacyDict)
async def root() -> LegacyDict:
    return {"message": "Speech AI Call Tracking API", "version": "1.0.0", "status": "active"}


@router.get("/health", response_model=LegacyDict)
async def health(request: Request) -> Any:
    db: Database = request.app.state.db
    at = datetime.now(UTC).isoformat()
    try:
        async with db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # the original answered 503 with the error, not a 500
        return JSONResponse(
            {"status": "unhealthy", "error": type(exc).__name__, "timestamp": at},
            status_code=503,
        )
    return {"status": "healthy", "timestamp": at, "database": "connected"}


# -- accounts ---------------------------------------------------------------------------


@router.post("/api/v1/accounts", response_model=LegacyDict)
async def create_account(
    body: CreateAccountRequest, session: WriteSession, principal: AdminPrincipal
) -> LegacyDict:
    """``{"success": true, "account": {...}, "api_key": "..."}`` (the key: new, shown once)."""
    return await service.create_account(session, principal, _given(body))


@router.get("/api/v1/accounts", response_model=LegacyList)
async def list_accounts(
    session: ReadSession,
    principal: CurrentPrincipal,
    status: str | None = None,
    plan_type: str | None = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyList:
    if status is not None and status not in ("active", "suspended"):
        raise InvalidInput(f"Invalid status: {status}", field="status")
    if plan_type is not None and plan_type not in ("credit_based", "minutes_based", "unlimited"):
        raise InvalidInput(f"Invalid plan_type: {plan_type}", field="plan_type")
    return await service.list_accounts(
        session, principal, status=status, plan_type=plan_type, limit=limit, skip=skip
    )


@router.get("/api/v1/accounts/{account_id}", response_model=LegacyDict)
async def get_account(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.account(session, principal, account_id)


@router.patch("/api/v1/accounts/{account_id}", response_model=LegacyDict)
async def update_account(
    account_id: str, body: UpdateAccountRequest, session: WriteSession, principal: AdminPrincipal
) -> LegacyDict:
    """What its clients call instead of suspend/activate: fields and ``status``."""
    return await service.update_account(session, principal, account_id, _given(body))


@router.get("/api/v1/accounts/{account_id}/balance", response_model=LegacyDict)
async def get_balance(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.balance(session, principal, account_id)


@router.post("/api/v1/accounts/{account_id}/topup", response_model=LegacyDict)
async def topup(
    account_id: str, body: TopupRequest, session: WriteSession, principal: AdminPrincipal
) -> LegacyDict:
    if body.minutes is None and body.credits is None:
        raise InvalidInput("Must provide either minutes or credits")
    return await service.topup(session, principal, account_id, body.minutes, body.credits)


@router.get("/api/v1/accounts/{account_id}/stats", response_model=LegacyDict)
async def get_stats(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.stats(session, principal, account_id)


@router.get("/api/v1/accounts/{account_id}/last-call-settings", response_model=LegacyDict)
async def last_call_settings(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.last_call_settings(session, principal, account_id)


@router.get("/api/v1/accounts/{account_id}/batches", response_model=LegacyList)
async def account_batches(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    is_active: bool | None = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyList:
    return await service.account_batches(
        session, principal, account_id, is_active=is_active, limit=limit, skip=skip
    )


@router.get("/api/v1/accounts/{account_id}/transactions", response_model=LegacyList)
async def account_transactions(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    transaction_type: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    skip: Skip = 0,
) -> LegacyList:
    return await service.transactions(
        session, principal, account_id, transaction_type=transaction_type, limit=limit, skip=skip
    )


@router.get("/api/v1/accounts/{account_id}/summary", response_model=LegacyDict)
async def account_summary(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.account_summary(session, principal, account_id)


# -- batches ----------------------------------------------------------------------------


@router.post("/api/v1/batches", response_model=LegacyDict)
async def create_batch(
    body: CreateBatchRequest, session: WriteSession, principal: CurrentPrincipal
) -> LegacyDict:
    # The original's defaults (priority 1, description "") apply when not given.
    return await service.create_batch(session, principal, body.model_dump(exclude_none=True))


@router.get("/api/v1/batches", response_model=LegacyList)
async def list_batches(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    is_active: bool | None = None,
    status: Annotated[
        str | None, Query(description="PENDING | RUNNING | PAUSED | COMPLETED | CANCELLED")
    ] = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyList:
    return await service.list_batches(
        session, principal, account_id=account_id, is_active=is_active, status=status,
        limit=limit, skip=skip,
    )  # fmt: skip


@router.post("/api/v1/batches/excel/preview", response_model=LegacyDict)
async def preview_excel(
    request: Request,
    session: SnapshotSession,  # a preview writes nothing: no write lock while parsing
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File()],
    account_id: Annotated[str, Query(description="ID de la cuenta")],
) -> LegacyDict:
    options = service.validated(ImportOptions, {"account_id": account_id})
    async with _saved_upload(file, request.app.state.settings) as path:
        return await service.preview(session, principal, options, path, file.filename or "")


@router.post("/api/v1/batches/excel/create", response_model=LegacyDict)
async def create_excel(
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File()],
    account_id: Annotated[str, Form()],
    batch_name: Annotated[str | None, Form()] = None,
    batch_description: Annotated[str | None, Form()] = None,
    allow_duplicates: Annotated[bool, Form()] = False,
    processing_type: Annotated[str, Form()] = "basic",
    dias_fecha_limite: Annotated[int | None, Form()] = None,
    dias_fecha_maxima: Annotated[int | None, Form()] = None,
    call_settings_json: Annotated[str | None, Form()] = None,
) -> LegacyDict:
    if processing_type not in ("basic", "acquisition"):
        raise InvalidInput(
            "processing_type debe ser 'basic' o 'acquisition'", field="processing_type"
        )
    when = clock.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    label = "Acquisition" if processing_type == "acquisition" else "Basic"
    options = service.validated(ImportOptions, {
        "account_id": account_id,
        "batch_name": batch_name or f"{label} Batch {when}",
        "batch_description": batch_description or None,
        "processing_type": processing_type,
        "allow_duplicates": allow_duplicates,
        "call_settings": service.call_settings_json(call_settings_json),
        "dias_fecha_limite": dias_fecha_limite,
        "dias_fecha_maxima": dias_fecha_maxima,
        "variable_set": "legacy",
    })  # fmt: skip
    async with _saved_upload(file, request.app.state.settings) as path:
        return await service.create_from_file(
            session, principal, options, path, file.filename or ""
        )


class UseCaseForm:
    """The form of the original's ``/batches/chile/{use_case}`` and
    ``/batches/argentina/{use_case}`` (one declaration for both routes)."""

    def __init__(
        self,
        file: Annotated[UploadFile, File()],
        account_id: Annotated[str, Form()],
        company_name: Annotated[str, Form(description="la empresa: `empresa` del agente")],
        batch_name: Annotated[str | None, Form()] = None,
        batch_description: Annotated[str | None, Form()] = None,
        allow_duplicates: Annotated[bool, Form()] = False,
        discount_percentage: Annotated[
            float | None, Form(description="marketing: `descuento_porcentaje` (0-100)")
        ] = 0.0,
        offer_description: Annotated[
            str | None, Form(description="marketing (requerido): `descripcion_oferta`")
        ] = "",
        product_category: Annotated[
            str | None, Form(description="marketing: `categoria_producto`")
        ] = "general",
        retell_agent_id: Annotated[str | None, Form(description="requerido")] = None,
    ) -> None:
        self.file = file
        self.account_id = account_id
        self.company_name = company_name
        self.batch_name = batch_name
        self.batch_description = batch_description
        self.allow_duplicates = allow_duplicates
        self.discount_percentage = discount_percentage
        self.offer_description = offer_description
        self.product_category = product_category
        self.retell_agent_id = retell_agent_id


async def _use_case(
    request: Request,
    session: Any,
    principal: Any,
    *,
    country: str,
    use_case: str,
    form: UseCaseForm,
) -> LegacyDict:
    # Another account's id is a 404 before anything about the form is said.
    principal.check_account(form.account_id)
    plan = service.use_case_plan(
        country=country, use_case=use_case, company_name=form.company_name,
        retell_agent_id=form.retell_agent_id, offer_description=form.offer_description,
        discount_percentage=form.discount_percentage, product_category=form.product_category,
    )  # fmt: skip
    options = service.validated(ImportOptions, {
        "account_id": form.account_id,
        "batch_name": form.batch_name or plan.batch_name,
        "batch_description": form.batch_description or plan.batch_description,
        "processing_type": plan.processing_type,
        "country": country,
        "allow_duplicates": form.allow_duplicates,
        "call_settings": plan.call_settings,
        "variable_set": "legacy",
        "provider_options": {"agent_id": plan.agent_id},
        "payload_constants": plan.payload,
    })  # fmt: skip
    async with _saved_upload(form.file, request.app.state.settings) as path:
        created = await service.create_from_file(
            session, principal, options, path, form.file.filename or "",
            stats_extra={"processing_type": use_case},
        )  # fmt: skip
    country_word = "chileno" if country == "CL" else "argentino"
    return created | {
        "message": f"Batch {country_word} de {use_case} creado exitosamente",
        "use_case": use_case,
        "country": country,
    }


UseCaseFields = Annotated[UseCaseForm, Depends()]


@router.post("/api/v1/batches/chile/{use_case}", response_model=LegacyDict)
async def create_chile_batch(
    use_case: str,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    form: UseCaseFields,
) -> LegacyDict:
    """Chilean normalisation (RUT, +56 phones, dd/mm/yyyy dates) is dialer's own."""
    return await _use_case(request, session, principal, country="CL", use_case=use_case, form=form)


@router.post("/api/v1/batches/argentina/{use_case}", response_model=LegacyDict)
async def create_argentina_batch(
    use_case: str,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    form: UseCaseFields,
) -> LegacyDict:
    """Argentine normalisation (DNI/CUIT, +54 9 mobiles) is dialer's own."""
    return await _use_case(request, session, principal, country="AR", use_case=use_case, form=form)


@router.get("/api/v1/use-cases", response_model=LegacyDict)
async def use_cases(_principal: CurrentPrincipal) -> LegacyDict:
    return {
        "success": True,
        "use_cases": ["debt_collection", "marketing"],
        "description": {
            "debt_collection": "Cobranza de deudas con normalización por país",
            "marketing": "Campañas de marketing personalizadas",
        },
        "countries": {
            "chile": "/api/v1/batches/chile/{use_case}",
            "argentina": "/api/v1/batches/argentina/{use_case}",
        },
    }


@router.get("/api/v1/batches/{batch_id}", response_model=LegacyDict)
async def get_batch(batch_id: str, session: ReadSession, principal: CurrentPrincipal) -> LegacyDict:
    return await service.get_batch(session, principal, batch_id)


@router.patch("/api/v1/batches/{batch_id}", response_model=LegacyDict)
async def update_batch(
    batch_id: str, body: UpdateBatchRequest, session: WriteSession, principal: CurrentPrincipal
) -> LegacyDict:
    """``is_active`` false/true pauses/resumes (the original's replacement for pause)."""
    return await service.update_batch(session, principal, batch_id, _given(body))


@router.get("/api/v1/batches/{batch_id}/summary", response_model=LegacyDict)
async def batch_summary(
    batch_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    return await service.batch_summary(session, principal, batch_id)


@router.get("/api/v1/batches/{batch_id}/status", response_model=LegacyDict)
async def batch_status(
    batch_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegacyDict:
    """Constant time, from the batch's counters (``account_id`` was ignored here)."""
    return await service.batch_status(session, principal, batch_id)


@router.post("/api/v1/batches/{batch_id}/cancel", response_model=LegacyDict)
async def cancel_batch(
    batch_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
    reason: Annotated[str | None, Query(max_length=1000)] = None,
) -> LegacyDict:
    return await service.cancel_batch(session, principal, batch_id, reason)


@router.post("/api/v1/batches/{batch_id}/upload", response_model=LegacyDict)
async def upload_jobs(
    batch_id: str,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File()],
) -> LegacyDict:
    """``{"success", "message", "jobs_added"}``; any spreadsheet format dialer reads."""
    async with _saved_upload(file, request.app.state.settings) as path:
        return await service.upload_into_batch(
            session, principal, batch_id, path, file.filename or ""
        )


@router.delete("/api/v1/batches/{batch_id}", response_model=LegacyDict)
async def delete_batch(
    batch_id: str,
    session: WriteSession,
    principal: CurrentPrincipal,
    delete_jobs: bool = False,
) -> LegacyDict:
    """Jobs go with the batch either way (``delete_jobs`` is accepted): a batch that has
    placed calls keeps its history and answers 409 (cancel it instead)."""
    return await service.delete_batch(session, principal, batch_id)


@router.get("/api/v1/batches/{batch_id}/jobs", response_model=LegacyList)
async def batch_jobs(
    batch_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    status: str | None = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyList:
    return await service.batch_jobs(
        session, principal, batch_id, status=status, limit=limit, skip=skip
    )


# -- jobs -------------------------------------------------------------------------------


@router.get("/api/v1/jobs", response_model=LegacyList)
async def list_jobs(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    batch_id: str | None = None,
    status: str | None = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyList:
    return await service.list_jobs(
        session, principal, account_id=account_id, batch_id=batch_id, status=status,
        limit=limit, skip=skip,
    )  # fmt: skip


@router.get("/api/v1/jobs/{job_id}", response_model=LegacyDict)
async def get_job(job_id: str, session: ReadSession, principal: CurrentPrincipal) -> LegacyDict:
    return await service.get_job(session, principal, job_id)


@router.put("/api/v1/jobs/{job_id}/retry", response_model=LegacyDict)
async def retry_job(job_id: str, session: WriteSession, principal: CurrentPrincipal) -> LegacyDict:
    return await service.retry_job(session, principal, job_id)


@router.put("/api/v1/jobs/{job_id}/cancel", response_model=LegacyDict)
async def cancel_job(job_id: str, session: WriteSession, principal: CurrentPrincipal) -> LegacyDict:
    return await service.cancel_job(session, principal, job_id)


# -- dashboard and calls ----------------------------------------------------------------


@router.get("/api/v1/dashboard/stats", response_model=LegacyDict)
async def dashboard_stats(
    session: ReadSession, principal: CurrentPrincipal, account_id: str | None = None
) -> LegacyDict:
    return await service.dashboard_stats(session, principal, account_id)


@router.get("/api/v1/dashboard/overview", response_model=LegacyDict)
async def dashboard_overview(
    session: ReadSession, principal: CurrentPrincipal, account_id: str | None = None
) -> LegacyDict:
    return await service.dashboard_overview(session, principal, account_id)


@router.get("/api/v1/calls/history", response_model=LegacyDict)
async def call_history(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    batch_id: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    limit: Limit = 100,
    skip: Skip = 0,
) -> LegacyDict:
    return await service.call_history(
        session, principal, account_id=account_id, batch_id=batch_id, start_date=start_date,
        end_date=end_date, limit=limit, skip=skip,
    )  # fmt: skip
