"""Payments and recovery figures: ``/api/v1/accounts/{account_id}/payments``,
``/api/v1/accounts/{account_id}/recovery``, ``/api/v1/batches/{batch_id}/recovery``."""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dialer.account.auth import CurrentPrincipal
from dialer.collection import payments
from dialer.collection.rows import RowError, sheet_records
from dialer.collection.schemas import PaymentImport, PaymentIn, PaymentPage
from dialer.db.session import ReadSession, WriteSession
from dialer.errors import AppError, InvalidInput
from dialer.ingestion.parsers import FileFormatError, UploadLimitError, check_limits, open_sheet
from dialer.kit import child, clock
from dialer.reporting import recovery
from dialer.reporting.schemas import RecoveryReport

router = APIRouter(tags=["collections"])

MAX_PAYMENT_BYTES = 20 * 1024 * 1024
MAX_PAYMENT_ROWS = 100_000


class PaymentFileTooLarge(AppError):
    """The payments file is too large."""

    status_code = 413


class PaymentBodyInvalid(InvalidInput):
    """The payments body is not a JSON list of payments or a CSV/XLSX file."""


def _read_sheet(
    data: bytes, filename: str | None
) -> tuple[list[tuple[int, dict[str, object]]], list[RowError]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(filename or "payments").name or "payments")
        path.write_bytes(data)
        check_limits(path, filename, MAX_PAYMENT_ROWS)
        with open_sheet(path, filename) as sheet:
            return sheet_records(sheet.rows())


async def _records(request: Request) -> tuple[list[tuple[int, Any]], list[RowError]]:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=1, max_fields=10, max_part_size=MAX_PAYMENT_BYTES)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise PaymentBodyInvalid("send the payments file in the 'file' field", field="file")
        data = await upload.read()
        if len(data) > MAX_PAYMENT_BYTES:
            raise PaymentFileTooLarge(f"the file is larger than {MAX_PAYMENT_BYTES} bytes")
        try:
            # Untrusted file: parsed in a memory-limited child process (kit/child.py).
            return await child.run(_read_sheet, data, upload.filename)
        except (UploadLimitError, child.ChildFailed) as exc:
            raise PaymentFileTooLarge(str(exc)) from None
        except FileFormatError as exc:
            raise PaymentBodyInvalid(str(exc), field="file") from None
    body = await request.body()
    if len(body) > MAX_PAYMENT_BYTES:
        raise PaymentFileTooLarge(f"the body is larger than {MAX_PAYMENT_BYTES} bytes")
    try:
        items = json.loads(body)
    except ValueError:
        raise PaymentBodyInvalid("the body is not valid JSON") from None
    if isinstance(items, dict) and isinstance(items.get("payments"), list):
        items = items["payments"]
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PaymentBodyInvalid("expected a JSON list of payment objects")
    if len(items) > MAX_PAYMENT_ROWS:
        raise PaymentFileTooLarge(f"more than {MAX_PAYMENT_ROWS} payments in one request")
    return [(i + 1, item) for i, item in enumerate(items)], []


@router.post(
    "/api/v1/accounts/{account_id}/payments",
    response_model=PaymentImport,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": PaymentIn.model_json_schema()}
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def import_payments(
    account_id: str, request: Request, session: WriteSession, principal: CurrentPrincipal
) -> PaymentImport:
    """Record payments (JSON list, or a CSV/XLSX ``file``): idempotent by ``reference``.

    Each payment is matched to the debtor's jobs in every batch: paid in full -> waiting
    jobs cancelled (reason ``paid``); partly -> the next call says the amount still owed.
    Errors name the row and the column; nothing is recorded when any row is wrong.
    """
    principal.check_account(account_id)
    records, errors = await _records(request)
    return await payments.record_payments(
        session, principal, account_id, records, errors=errors, now=clock.now()
    )


@router.get("/api/v1/accounts/{account_id}/payments", response_model=PaymentPage)
async def list_payments(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    debtor_id: Annotated[str | None, Query(max_length=32)] = None,
    since: date | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> PaymentPage:
    return await payments.list_payments(
        session, principal, account_id, debtor_id=debtor_id, since=since, limit=limit, skip=skip
    )


@router.get("/api/v1/accounts/{account_id}/recovery", response_model=RecoveryReport)
async def account_recovery(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    start: date | None = None,
    end: date | None = None,
) -> RecoveryReport:
    """Recovery figures of the account: totals, by day and by hour of day (local time)."""
    return await recovery.recovery(session, principal, account_id=account_id, start=start, end=end)


@router.get("/api/v1/batches/{batch_id}/recovery", response_model=RecoveryReport)
async def batch_recovery(
    batch_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    start: date | None = None,
    end: date | None = None,
) -> RecoveryReport:
    """Recovery figures of one batch: totals, by day and by hour of day (local time)."""
    return await recovery.recovery(session, principal, batch_id=batch_id, start=start, end=end)
