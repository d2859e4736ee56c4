"""Spreadsheet import (preview / create) and batch results export (CSV / XLSX)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import ValidationError

from dialer.account.auth import CurrentPrincipal
from dialer.account.ratelimit import UploadRateLimit
from dialer.batch.settings import CallSettings
from dialer.config import Settings
from dialer.db.session import Database, DatabaseDep, SnapshotSession, WriteSession
from dialer.errors import InvalidInput, error_responses, invalid_input
from dialer.ingestion import export, parsers, service
from dialer.ingestion.errors import UnreadableFile, UnsupportedFile, UploadTooLarge
from dialer.ingestion.schemas import (
    AppendOptions,
    CreateResponse,
    ImportOptions,
    PreviewResponse,
)

router = APIRouter(tags=["ingestion"])

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_ERRORS = error_responses(413, 415)


def _json_field(raw: str | None, name: str) -> Any:
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{name} is not valid JSON: {exc.msg}", field=name) from None


def _settings_field(call_settings: str | None, call_settings_json: str | None) -> str | None:
    """``call_settings``, or its alias ``call_settings_json``; both only when they agree."""
    given = [v for v in (call_settings, call_settings_json) if v is not None and v.strip()]
    if len(given) == 2 and _json_field(given[0], "call_settings") != _json_field(
        given[1], "call_settings_json"
    ):
        raise InvalidInput(
            "call_settings and call_settings_json differ: give one of them", field="call_settings"
        )
    return given[0] if given else None


def _options(
    account_id: str,
    batch_name: str | None,
    batch_description: str | None,
    processing_type: str,
    country: str | None,
    allow_duplicates: bool,
    call_settings: str | None,
    dias_fecha_limite: int | None,
    dias_fecha_maxima: int | None,
    column_mapping: str | None,
    consolidate: bool | None = None,
) -> ImportOptions:
    settings_raw = _json_field(call_settings, "call_settings")
    cs: CallSettings | None = None
    if settings_raw is not None:
        if not isinstance(settings_raw, dict):
            raise InvalidInput("call_settings must be a JSON object", field="call_settings")
        try:
            cs = CallSettings.model_validate(settings_raw)
        except ValidationError as exc:
            raise invalid_input(exc, "call_settings") from None
    mapping = _json_field(column_mapping, "column_mapping")
    if mapping is not None and not (
        isinstance(mapping, dict) and all(isinstance(v, str | None) for v in mapping.values())
    ):
        raise InvalidInput(
            'column_mapping must be a JSON object {"<header in the file>": "<field>"}',
            field="column_mapping",
        )
    try:
        return ImportOptions(
            account_id=account_id,
            batch_name=batch_name or None,
            batch_description=batch_description or None,
            processing_type=processing_type,
            country=(country or "").upper() or None,
            allow_duplicates=allow_duplicates,
            call_settings=cs,
            dias_fecha_limite=dias_fecha_limite,
            dias_fecha_maxima=dias_fecha_maxima,
            column_mapping=mapping,
            consolidate=consolidate,
        )
    except ValidationError as exc:
        raise invalid_input(exc) from None


def _check_limits(path: Path, filename: str | None, max_rows: int) -> None:
    try:
        parsers.check_limits(path, filename, max_rows)
    except parsers.UploadLimitError as exc:
        raise UploadTooLarge(str(exc), field="file") from None
    except parsers.FileFormatError as exc:
        raise (UnsupportedFile if exc.unsupported else UnreadableFile)(
            str(exc), field="file"
        ) from None


@asynccontextmanager
async def _saved_upload(upload: UploadFile, settings: Settings) -> AsyncIterator[Path]:
    """The upload copied to a private temp file, refused past the byte limit, and
    checked (zip bombs, row count) before any reader opens it."""
    limit = settings.MAX_UPLOAD_BYTES
    suffix = Path(upload.filename or "").suffix[:10]
    with tempfile.TemporaryDirectory(prefix="dialer-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"

        def copy() -> int:
            size = 0
            upload.file.seek(0)
            with path.open("wb") as out:
                while chunk := upload.file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(
                            f"the file is larger than the {limit // (1024 * 1024)} MB limit",
                            field="file",
                        )
                    out.write(chunk)
            return size

        size = await anyio.to_thread.run_sync(copy)
        if size == 0:
            raise InvalidInput("the file is empty", field="file")
        await anyio.to_thread.run_sync(
            _check_limits, path, upload.filename, settings.MAX_UPLOAD_ROWS
        )
        yield path


FileField = Annotated[UploadFile, File(description=".xlsx, .xls or .csv (; or ,)")]
Text = Annotated[str | None, Form()]
Consolidate = Annotated[
    bool | None,
    Form(
        description="one job per debtor (rows of the same RUT/DNI merged with their "
        "instalments); default on for processing_type basic, off for acquisition"
    ),
]


class UploadForm:
    """The API's import form, parsed once for preview and create."""

    def __init__(
        self,
        file: FileField,
        account_id: Annotated[str, Form()],
        batch_name: Text = None,
        batch_description: Text = None,
        processing_type: Annotated[Literal["basic", "acquisition"], Form()] = "basic",
        country: Text = None,
        allow_duplicates: Annotated[bool, Form()] = False,
        call_settings: Text = None,
        dias_fecha_limite: Annotated[int | None, Form()] = None,
        dias_fecha_maxima: Annotated[int | None, Form()] = None,
        column_mapping: Text = None,
        call_settings_json: Annotated[
            str | None, Form(description="Another name for call_settings (the replaced system's).")
        ] = None,
        variable_set: Annotated[
            Literal["standard", "legacy"] | None, Form(description="create only")
        ] = None,
        consolidate: Consolidate = None,
        status: Annotated[Literal["active", "draft"], Form(description="create only")] = "active",
    ) -> None:
        self.file = file
        self.options = _options(
            account_id, batch_name, batch_description, processing_type, country,
            allow_duplicates, _settings_field(call_settings, call_settings_json),
            dias_fecha_limite, dias_fecha_maxima, column_mapping, consolidate,
        ).model_copy(update={"variable_set": variable_set, "status": status})  # fmt: skip


@router.post(
    "/api/v1/batches/excel/preview",
    responses=UPLOAD_ERRORS,
    response_model=PreviewResponse,
    dependencies=[UploadRateLimit],
)
async def preview(
    request: Request,
    session: SnapshotSession,
    principal: CurrentPrincipal,
    form: Annotated[UploadForm, Depends()],
) -> PreviewResponse:
    """Read the file and report what create would do: mapping, counts, errors, first rows.

    On a read session: a preview writes nothing, so it never holds the write lock (on
    SQLite the database's only one) while the file is parsed."""
    async with _saved_upload(form.file, request.app.state.settings) as path:
        return await service.preview_import(
            session, principal, form.options, path, filename=form.file.filename
        )


@router.post(
    "/api/v1/batches/excel/create",
    responses=UPLOAD_ERRORS,
    response_model=CreateResponse,
    status_code=201,
    dependencies=[UploadRateLimit],
)
async def create(
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    form: Annotated[UploadForm, Depends()],
) -> CreateResponse:
    """Create a batch from the file: all accepted rows become jobs, or nothing is written.
    ``status=draft`` creates it for review: nothing is dialed until it is started."""
    async with _saved_upload(form.file, request.app.state.settings) as path:
        return await service.create_import(
            session, principal, form.options, path, filename=form.file.filename
        )


@router.post(
    "/api/v1/batches/{batch_id}/upload",
    responses={**UPLOAD_ERRORS, **error_responses(404, 409)},
    response_model=CreateResponse,
    status_code=201,
    dependencies=[UploadRateLimit],
)
async def upload_into_batch(
    batch_id: str,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
    file: FileField,
    country: Text = None,
    allow_duplicates: Annotated[bool, Form()] = False,
    dias_fecha_limite: Annotated[int | None, Form()] = None,
    dias_fecha_maxima: Annotated[int | None, Form()] = None,
    column_mapping: Text = None,
    consolidate: Consolidate = None,
) -> CreateResponse:
    """Add a file's contacts to an active or paused batch, with the same validation,
    duplicate and do-not-call rules and report as create (the batch's own contacts are
    duplicates). 409 for a cancelled or completed batch; all or nothing."""
    options = _options(
        "-", None, None, "basic", country, allow_duplicates, None, dias_fecha_limite,
        dias_fecha_maxima, column_mapping, consolidate,
    )  # fmt: skip
    append = AppendOptions(
        **options.model_dump(
            include={"country", "allow_duplicates", "dias_fecha_limite", "dias_fecha_maxima",
                     "column_mapping", "consolidate"}
        )
    )  # fmt: skip
    async with _saved_upload(file, request.app.state.settings) as path:
        return await service.append_import(
            session, principal, batch_id, append, path, filename=file.filename
        )


def _disposition(name: str, ext: str) -> dict[str, str]:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:80] or "batch"
    return {"Content-Disposition": f'attachment; filename="{safe}.{ext}"'}


def csv_response(db: Database, target: export.ExportTarget, delimiter: str) -> StreamingResponse:
    """The streamed CSV export of a batch (API and dashboard)."""
    return StreamingResponse(
        export.csv_stream(db, target, delimiter),
        media_type=CSV_TYPE,
        headers=_disposition(target.batch_id, "csv"),
    )


async def xlsx_response(
    db: Database, target: export.ExportTarget, background: BackgroundTasks
) -> FileResponse:
    """The XLSX export of a batch, written to a temporary file removed after sending."""
    tmp = Path(tempfile.mkdtemp(prefix="dialer-export-"))
    path = tmp / "export.xlsx"
    try:
        await export.write_xlsx(db, target, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    background.add_task(shutil.rmtree, tmp, True)
    return FileResponse(path, media_type=XLSX_TYPE, headers=_disposition(target.batch_id, "xlsx"))


@router.get(
    "/api/v1/batches/{batch_id}/export.csv",
    tags=["reporting"],
    response_class=StreamingResponse,
    responses={200: {"description": "CSV, UTF-8 with BOM", "content": {CSV_TYPE: {}}}},
)
async def export_csv(
    batch_id: str,
    db: DatabaseDep,
    principal: CurrentPrincipal,
    sep: Literal["comma", "semicolon"] = "comma",
) -> StreamingResponse:
    """One row per job (contact, status, attempts, outcome, promise to pay, minutes, cost)."""
    async with db.read() as session:
        target = await export.export_target(session, principal, batch_id)
    return csv_response(db, target, ";" if sep == "semicolon" else ",")


@router.get(
    "/api/v1/batches/{batch_id}/export.xlsx",
    tags=["reporting"],
    response_class=FileResponse,
    responses={200: {"description": "Excel workbook", "content": {XLSX_TYPE: {}}}},
)
async def export_xlsx(
    batch_id: str, db: DatabaseDep, principal: CurrentPrincipal, background: BackgroundTasks
) -> FileResponse:
    """The same rows as the CSV export, as an Excel workbook."""
    async with db.read() as session:
        target = await export.export_target(session, principal, batch_id)
    return await xlsx_response(db, target, background)
