"""Compliance API: the profiles on offer, each account's do-not-call list and its legal
stops (debtors who must not be contacted at all)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from dialer.account.auth import CurrentPrincipal
from dialer.account.ratelimit import UploadRateLimit
from dialer.compliance import service
from dialer.compliance.schemas import (
    ComplianceProfileRead,
    DoNotCallAdded,
    DoNotCallCreate,
    DoNotCallImportResult,
    DoNotCallPage,
    DoNotCallRead,
    LegalStopAdded,
    LegalStopCreate,
    LegalStopImportResult,
    LegalStopPage,
    LegalStopRead,
    LegalStopReason,
)
from dialer.db.session import DatabaseDep, ReadSession, WriteSession
from dialer.errors import AppError

router = APIRouter(tags=["compliance"])

_CHUNK = 1024 * 1024


class UploadTooLarge(AppError):
    """The file is too large."""

    status_code = 413


async def _read_upload(file: UploadFile, limit: int) -> bytes:
    """The upload's bytes; 413 past ``limit`` (DIALER_MAX_UPLOAD_BYTES, the spreadsheets')."""
    data = bytearray()
    while chunk := await file.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise UploadTooLarge(
                f"the file is larger than the {limit // (1024 * 1024)} MB limit", field="file"
            )
    return bytes(data)


@router.get("/api/v1/compliance/profiles", response_model=list[ComplianceProfileRead])
async def list_profiles(principal: CurrentPrincipal) -> list[ComplianceProfileRead]:
    return service.list_profiles()


@router.post(
    "/api/v1/accounts/{account_id}/do-not-call",
    response_model=DoNotCallAdded,
    status_code=201,
)
async def add_do_not_call(
    account_id: str, body: DoNotCallCreate, session: WriteSession, principal: CurrentPrincipal
) -> DoNotCallAdded:
    return await service.add_numbers(session, principal, account_id, body)


@router.get("/api/v1/accounts/{account_id}/do-not-call", response_model=DoNotCallPage)
async def list_do_not_call(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    search: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> DoNotCallPage:
    return await service.list_numbers(
        session, principal, account_id, search=search, limit=limit, skip=skip
    )


@router.post(
    "/api/v1/accounts/{account_id}/do-not-call/import",
    response_model=DoNotCallImportResult,
    dependencies=[UploadRateLimit],
)
async def import_do_not_call(
    account_id: str,
    request: Request,
    db: DatabaseDep,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description=".csv or .xlsx")],
    country: Annotated[str | None, Form(pattern="^(CL|AR)$")] = None,
    # No NUL (PostgreSQL text cannot hold it; multipart fields pass no JSON NUL check).
    source: Annotated[str | None, Form(max_length=64, pattern="^[^\x00]*$")] = None,
    reason: Annotated[str | None, Form(max_length=500, pattern="^[^\x00]*$")] = None,
) -> DoNotCallImportResult:
    data = await _read_upload(file, request.app.state.settings.MAX_UPLOAD_BYTES)
    return await service.import_file(
        db,
        principal,
        account_id,
        data=data,
        filename=file.filename,
        country=country,
        source=source,
        reason=reason,
    )


@router.get(
    "/api/v1/accounts/{account_id}/do-not-call/{phone}",
    response_model=DoNotCallRead,
)
async def get_do_not_call(
    account_id: str, phone: str, session: ReadSession, principal: CurrentPrincipal
) -> DoNotCallRead:
    return await service.get_number(session, principal, account_id, phone)


@router.delete("/api/v1/accounts/{account_id}/do-not-call/{phone}", status_code=204)
async def remove_do_not_call(
    account_id: str, phone: str, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    await service.remove_number(session, principal, account_id, phone)
    return Response(status_code=204)


# -- legal stops ----------------------------------------------------------------------------

_STOPS = "/api/v1/accounts/{account_id}/legal-stops"


@router.post(_STOPS, response_model=LegalStopAdded, status_code=201)
async def add_legal_stops(
    account_id: str, body: LegalStopCreate, session: WriteSession, principal: CurrentPrincipal
) -> LegalStopAdded:
    return await service.add_legal_stops(session, principal, account_id, body)


@router.get(_STOPS, response_model=LegalStopPage)
async def list_legal_stops(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    reason: LegalStopReason | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> LegalStopPage:
    return await service.list_legal_stops(
        session, principal, account_id, reason=reason, limit=limit, skip=skip
    )


@router.post(_STOPS + "/import", response_model=LegalStopImportResult)
async def import_legal_stops(
    account_id: str,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description=".csv or .xlsx")],
    reason: Annotated[LegalStopReason | None, Form()] = None,
    country: Annotated[str | None, Form(pattern="^(CL|AR)$")] = None,
    source: Annotated[str | None, Form(max_length=64)] = None,
) -> LegalStopImportResult:
    return await service.import_legal_stops(
        session,
        principal,
        account_id,
        data=await _read_upload(file, request.app.state.settings.MAX_UPLOAD_BYTES),
        filename=file.filename,
        reason=reason,
        country=country,
        source=source,
    )


@router.get(_STOPS + "/{debtor_id}", response_model=LegalStopRead)
async def get_legal_stop(
    account_id: str, debtor_id: str, session: ReadSession, principal: CurrentPrincipal
) -> LegalStopRead:
    return await service.get_legal_stop(session, principal, account_id, debtor_id)


@router.delete(_STOPS + "/{debtor_id}", status_code=204)
async def remove_legal_stop(
    account_id: str, debtor_id: str, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    await service.remove_legal_stop(session, principal, account_id, debtor_id)
    return Response(status_code=204)
