"""A campaign's contact table (filtered, searched, sorted, paged; refreshed live) and
the export of exactly the rows it lists, in the reader's language and spreadsheet shape."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from dialer.batch import service as batch_service
from dialer.dashboard.auth import DashboardUser
from dialer.dashboard.contacts import (
    PAGE,
    delimiter,
    disposition,
    file_name,
    job_filter,
    localisation,
    query_of,
    table_context,
)
from dialer.dashboard.rendering import render, request_lang
from dialer.db.session import DatabaseDep, ReadSession
from dialer.ingestion import export
from dialer.job.filters import JobFilter

router = APIRouter()

Filter = Annotated[JobFilter, Depends(job_filter)]
Skip = Annotated[int, Query(ge=0, le=1_000_000_000)]

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/batches/{batch_id}/jobs", name="dashboard_batch_jobs")
async def jobs_table(
    request: Request,
    batch_id: str,
    user: DashboardUser,
    session: ReadSession,
    flt: Filter,
    skip: Skip = 0,
) -> Response:
    """The table alone: what the filters, headers, pager and live refresh swap in."""
    jobs, total, regions = await batch_service.find_jobs(
        session, user, batch_id, flt, limit=PAGE, skip=skip
    )
    stops = await batch_service.job_stops(session, jobs)
    response = render(
        request, "_jobs.html", table_context(batch_id, flt, jobs, total, skip, regions, stops)
    )
    # A person's choice (not the live refresh) becomes the page's address, so reload,
    # back and a shared link show the same filtered page.
    if request.headers.get("hx-trigger") != "jobs":
        query = query_of(flt, skip=skip)
        response.headers["HX-Push-Url"] = f"/dashboard/batches/{batch_id}" + (
            f"?{query}" if query else ""
        )
    return response


@router.get("/batches/{batch_id}/export.csv", name="dashboard_export_csv")
async def export_csv(
    request: Request, batch_id: str, user: DashboardUser, db: DatabaseDep, flt: Filter
) -> Response:
    """The listed rows as CSV: for es, semicolons, Spanish headers, decimal commas."""
    lang = request_lang(request)
    async with db.read() as session:
        target = await export.export_target(session, user, batch_id, flt)
    name = file_name(target.batch_name, "csv", filtered=flt.is_filtered, lang=lang)
    return StreamingResponse(
        export.csv_stream(db, target, delimiter(lang), localisation(lang)),
        media_type=CSV_TYPE,
        headers={"Content-Disposition": disposition(name)},
    )


@router.get("/batches/{batch_id}/export.xlsx", name="dashboard_export_xlsx")
async def export_xlsx(
    request: Request,
    batch_id: str,
    user: DashboardUser,
    db: DatabaseDep,
    flt: Filter,
    background: BackgroundTasks,
) -> Response:
    """The listed rows as an Excel workbook (numeric cells, filter, totals sheet)."""
    lang = request_lang(request)
    async with db.read() as session:
        target = await export.export_target(session, user, batch_id, flt)
    tmp = Path(tempfile.mkdtemp(prefix="dialer-export-"))
    path = tmp / "export.xlsx"
    try:
        await export.write_xlsx(db, target, path, localisation(lang))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    background.add_task(shutil.rmtree, tmp, True)
    name = file_name(target.batch_name, "xlsx", filtered=flt.is_filtered, lang=lang)
    return FileResponse(
        path, media_type=XLSX_TYPE, headers={"Content-Disposition": disposition(name)}
    )
