"""Batches list, batch page with live progress (SSE), controls, jobs and job detail."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.batch import service as batch_service
from dialer.batch.rules import batch_rules
from dialer.batch.schemas import BatchRead
from dialer.billing.pricing import to_display
from dialer.billing.schemas import unit_name
from dialer.compliance.profiles import COUNTRY_ZONES
from dialer.dashboard.auth import CsrfUser, DashboardUser
from dialer.dashboard.charts import breakdown
from dialer.dashboard.codes import code_label
from dialer.dashboard.contacts import MONEY_FIELDS, job_filter, payload_label, table_context
from dialer.dashboard.figures import figures_of
from dialer.dashboard.i18n import translator
from dialer.dashboard.ingest_messages import row_message
from dialer.dashboard.rendering import current_account_id, render, request_lang, templates
from dialer.dashboard.waiting import opening_zone
from dialer.db.session import DatabaseDep, ReadSession, WriteSession
from dialer.errors import InvalidInput
from dialer.events.stream import batch_stream
from dialer.job.filters import JobFilter
from dialer.models import Batch
from dialer.reporting import recovery as recovery_service

router = APIRouter()

PAGE = 25


@router.get("/batches", name="dashboard_batches")
async def batches_page(
    request: Request,
    user: DashboardUser,
    session: ReadSession,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    account_id = current_account_id(request, user)
    # Creation times on the account's clock (an admin seeing every account: UTC).
    tz = "UTC"
    if account_id is not None:
        tz = (await account_service.get_account(session, user, account_id)).timezone
    items, total = await batch_service.list_batches(
        session,
        user,
        account_id=account_id,
        is_active=None,
        status=None,
        limit=PAGE,
        skip=skip,
    )
    return render(
        request,
        "batches.html",
        {
            "batches": [BatchRead.of(b) for b in items],
            "total": total,
            "skip": skip,
            "page": PAGE,
            "tz": tz,
        },
    )


async def _figures(session: AsyncSession, user: Principal, batch_id: str) -> dict[str, object]:
    """The recovery figures of the batch (cards, charts, funnel) from the roll-up."""
    report = await recovery_service.recovery(session, user, batch_id=batch_id)
    fig = figures_of(report)
    return {
        "fig": fig,
        "rec": fig.totals,
        "fid": "batch",
        "fig_tz": report.timezone,
        "currency": fig.currency,
    }


async def _zones(session: AsyncSession, user: Principal, row: Batch) -> dict[str, str]:
    """The clocks of the live panel: ``tz`` the campaign's calling zone (its own, else
    the account's), ``home_tz`` the account's, ``wait_tz`` the zone whose window the
    campaign waits for (a debtor's zone may open before the campaign's own)."""
    account = await account_service.get_account(session, user, row.account_id)
    settings = row.call_settings or {}
    tz = str(settings.get("timezone") or account.timezone)
    wait_tz = tz
    if row.waiting_reason == "daily_limit":
        wait_tz = account.timezone  # the account's day ends at its midnight
    elif row.waiting_reason == "outside_window" and row.waiting_until is not None:
        _s, schedule = batch_rules(
            row.id, settings, timezone=account.timezone, country=account.country
        )
        zones = COUNTRY_ZONES.get(account.country or "", frozenset())
        wait_tz = opening_zone(schedule, zones, row.waiting_until)
    return {"tz": tz, "home_tz": account.timezone, "wait_tz": wait_tz}


def _live_context(
    batch: BatchRead | dict[str, object], retry: batch_service.RetryWait | None
) -> dict[str, object]:
    data = batch.model_dump() if isinstance(batch, BatchRead) else batch
    return {"b": data, "retry": retry}


@router.get("/batches/{batch_id}", name="dashboard_batch")
async def batch_page(
    request: Request,
    batch_id: str,
    user: DashboardUser,
    session: ReadSession,
    flt: Annotated[JobFilter, Depends(job_filter)],
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Response:
    summary = await batch_service.get_summary(session, user, batch_id)
    row = await batch_service.get_batch(session, user, batch_id)
    report = row.import_report
    batch = BatchRead.of(row)
    jobs, jobs_total, regions = await batch_service.find_jobs(
        session, user, batch_id, flt, limit=PAGE, skip=skip
    )
    # Compliance times read in the batch's calling timezone, which defaults to the account's.
    zones = await _zones(session, user, row)
    review = None
    if batch.status == "draft":
        balance = await account_service.get_balance(session, user, batch.account_id)
        review = _review(batch, report, balance.balance, balance.balance_unit)
    retry = await batch_service.retry_wait(session, row)
    figures = await _figures(session, user, batch_id)
    stops = await batch_service.job_stops(session, jobs)
    return render(
        request,
        "batch.html",
        {
            **_live_context(batch, retry),
            **figures,
            "batch": batch,
            **zones,
            "summary": summary,
            "outcomes": breakdown(summary.outcomes),
            "business": breakdown(summary.business_results),
            **table_context(batch_id, flt, jobs, jobs_total, skip, regions, stops),
            "review": review,
        },
    )


# A planning figure for the review, not a price: an average collection call that
# reaches someone lasts about a minute and a half; unanswered attempts cost nothing.
ESTIMATED_MINUTES_PER_CONTACT = 1.5


def _review(
    batch: BatchRead, report: dict[str, object] | None, balance: float, unit: str
) -> dict[str, object]:
    """What a supervisor checks before starting a draft."""
    estimate = round(batch.total_jobs * ESTIMATED_MINUTES_PER_CONTACT, 2)
    return {
        "settings": batch.call_settings,
        "report": report or {},
        "estimate": estimate if unit == "minutes" else None,
        "balance": balance,
        "unit": unit,
        "short": unit == "minutes" and balance < estimate,
    }


@router.get("/batches/{batch_id}/rejected.csv", name="dashboard_rejected_csv")
async def rejected_csv(
    request: Request, batch_id: str, user: DashboardUser, session: ReadSession
) -> Response:
    """The rows the import refused or skipped, with row, column and reason."""
    row = await batch_service.get_batch(session, user, batch_id)
    report = row.import_report or {}
    lang = request_lang(request)
    t = translator(lang)
    sep = ";" if lang == "es" else ","
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep)
    writer.writerow([t["row"], t["column"], t["error"]])
    for e in report.get("errors", []):
        writer.writerow([e.get("row"), e.get("column") or "", row_message(e, lang)])
    for e in report.get("skipped", []):
        label = code_label(lang, "skip", str(e.get("reason"))) or e.get("reason")
        writer.writerow(
            [e.get("row"), "", label if lang == "es" else f"{label}: {e.get('message')}"]
        )
    name = "".join(c if c.isalnum() else "_" for c in row.name)[:60] or row.id
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-rechazadas.csv"'},
    )


@router.get("/batches/{batch_id}/live", name="dashboard_batch_live")
async def batch_live(
    request: Request, batch_id: str, user: DashboardUser, session: ReadSession
) -> Response:
    """The progress panel alone (what the stream swaps in; also a no-JS fallback)."""
    row = await batch_service.get_batch(session, user, batch_id)
    retry = await batch_service.retry_wait(session, row)
    zones = await _zones(session, user, row)
    return render(request, "_live.html", _live_context(BatchRead.of(row), retry) | zones)


@router.get("/batches/{batch_id}/outcomes", name="dashboard_batch_outcomes")
async def batch_outcomes(
    request: Request, batch_id: str, user: DashboardUser, session: ReadSession
) -> Response:
    summary = await batch_service.get_summary(session, user, batch_id)
    return render(
        request,
        "_outcomes.html",
        {
            "summary": summary,
            "outcomes": breakdown(summary.outcomes),
            "business": breakdown(summary.business_results),
        },
    )


@router.get("/batches/{batch_id}/stream", name="dashboard_batch_stream")
async def batch_stream_html(
    request: Request, batch_id: str, user: DashboardUser, db: DatabaseDep
) -> EventSourceResponse:
    """The live panel as HTML over SSE (cookie-authenticated, for htmx's sse extension).

    Each counter change sends a ``progress`` event with the rendered panel; the last
    one is followed by ``end``, on which the page closes the EventSource (instead of
    the browser reconnecting to a finished batch forever).
    """
    stream = batch_stream(db, batch_id, account_id=user.scope(None))
    first = await anext(stream)
    lang_request = request

    async def panel(snapshot: dict[str, object]) -> str:
        # The retry waits are read again with each change: a settled call moves them,
        # and so are the clocks (the zone waited for moves with the wait).
        async with db.read() as session:
            row = await batch_service.get_batch(session, user, batch_id)
            retry = await batch_service.retry_wait(session, row)
            zones = await _zones(session, user, row)
        template = templates.get_template("_live.html")
        ctx = _panel_ctx(lang_request, user, snapshot) | zones | {"retry": retry}
        return template.render(ctx)

    async def figures_panel(snapshot: dict[str, object]) -> str:
        async with db.read() as session:
            figures = await _figures(session, user, batch_id)
        template = templates.get_template("_figures.html")
        return template.render(_panel_ctx(lang_request, user, snapshot) | figures)

    async def body() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(await panel(first.data), event="progress")
        jobs_moved = False
        async for item in stream:
            if item.kind == "event":
                # A job changed: the contact table re-reads its page (with its own
                # filters), once per round of events rather than once per event.
                jobs_moved = jobs_moved or bool(item.data.get("job_id"))
                continue
            if jobs_moved:
                yield ServerSentEvent("", event="jobs")
                jobs_moved = False
            yield ServerSentEvent(await panel(item.data), event="progress")
            # The figures move with the counters (a settled call, a promise, a payment).
            yield ServerSentEvent(await figures_panel(item.data), event="figures")
            if item.kind == "end":
                yield ServerSentEvent("", event="end")

    return EventSourceResponse(body(), ping=15)


def _panel_ctx(request: Request, user: Principal, snapshot: dict[str, object]) -> dict[str, object]:
    lang = request_lang(request)
    return {"b": snapshot, "t": translator(lang), "lang": lang, "user": user, "request": request}


async def _after_action(
    request: Request, session: AsyncSession, user: Principal, batch_id: str, row: Batch
) -> Response:
    if request.headers.get("hx-request") == "true":
        retry = await batch_service.retry_wait(session, row)
        zones = await _zones(session, user, row)
        return render(request, "_live.html", _live_context(BatchRead.of(row), retry) | zones)
    return RedirectResponse(f"/dashboard/batches/{batch_id}", status_code=303)


@router.post("/batches/{batch_id}/pause", name="dashboard_batch_pause")
async def pause(request: Request, batch_id: str, user: CsrfUser, session: WriteSession) -> Response:
    row = await batch_service.pause_batch(session, user, batch_id)
    return await _after_action(request, session, user, batch_id, row)


_DAY_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_DAY_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def local_day(text: str) -> date:
    """A day as Chileans write it, ``07-12-2026`` (or ``07/12/2026``), or ISO
    ``2026-12-07``; anything else a 422 naming the field."""
    text = text.strip()
    if m := _DAY_DMY.match(text):
        d, mo, y = (int(g) for g in m.groups())
    elif m := _DAY_ISO.match(text):
        y, mo, d = (int(g) for g in m.groups())
    else:
        raise InvalidInput("write the date as dd-mm-aaaa", field="start_date")
    try:
        return date(y, mo, d)
    except ValueError:
        raise InvalidInput(f"'{text}' is not a date of the calendar", field="start_date") from None


def local_time(text: str) -> time:
    m = _TIME.match(text.strip())
    if m is None or int(m[1]) > 23 or int(m[2]) > 59:
        raise InvalidInput(f"'{text.strip()}' is not a time in HH:MM format", field="start_time")
    return time(int(m[1]), int(m[2]))


@router.post("/batches/{batch_id}/start", name="dashboard_batch_start")
async def start(
    request: Request,
    batch_id: str,
    user: CsrfUser,
    session: WriteSession,
    start_date: Annotated[str, Form(max_length=20)] = "",
    start_time: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Start a reviewed draft now, or at a date and time of the batch's calling zone."""
    at = None
    if start_date.strip():
        at = datetime.combine(local_day(start_date), local_time(start_time or "00:00"))
    await batch_service.start_batch(session, user, batch_id, at)
    target = f"/dashboard/batches/{batch_id}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/batches/{batch_id}/resume", name="dashboard_batch_resume")
async def resume(
    request: Request, batch_id: str, user: CsrfUser, session: WriteSession
) -> Response:
    row = await batch_service.resume_batch(session, user, batch_id)
    return await _after_action(request, session, user, batch_id, row)


@router.post("/batches/{batch_id}/cancel", name="dashboard_batch_cancel")
async def cancel(
    request: Request,
    batch_id: str,
    user: CsrfUser,
    session: WriteSession,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    row = await batch_service.cancel_batch(session, user, batch_id, reason.strip() or None)
    return await _after_action(request, session, user, batch_id, row)


@router.get("/jobs/{job_id}", name="dashboard_job")
async def job_page(
    request: Request, job_id: str, user: DashboardUser, session: ReadSession
) -> Response:
    job = await batch_service.get_job(session, user, job_id)
    row = await batch_service.get_batch(session, user, job.batch_id)
    account = await account_service.get_account(session, user, job.account_id)
    calling_tz = str((row.call_settings or {}).get("timezone") or account.timezone)
    return render(
        request,
        "job.html",
        {
            "job": job,
            "payload_label": payload_label,
            "money_fields": MONEY_FIELDS,
            # Times on the debtor's clock (its own zone, else the campaign's), labelled.
            "tz": job.timezone or calling_tz,
            "home_tz": account.timezone,
            "calling_tz": calling_tz,
            "currency": str(job.payload.get("currency") or "CLP"),
            # Cost in the account's own unit, as the balance and the figures count it.
            "cost": to_display(account.plan_type, job.cost_units),
            "cost_unit": unit_name(account.plan_type),
        },
    )
