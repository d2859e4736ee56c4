"""Overview cards, calls per hour and outcome breakdown, live over SSE; the account page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.billing.schemas import unit_name
from dialer.dashboard import queries
from dialer.dashboard.auth import DashboardUser
from dialer.dashboard.charts import bar_chart, breakdown
from dialer.dashboard.figures import figures_of, today_of
from dialer.dashboard.rendering import current_account_id, render, render_text
from dialer.db.session import AsyncReadSession, DatabaseDep, ReadSession
from dialer.events.stream import account_stream
from dialer.kit import clock
from dialer.models import PlanType
from dialer.reporting import recovery as recovery_service
from dialer.reporting import service as reporting_service
from dialer.reporting.service import hour_bucket

router = APIRouter()


# The overview's charts of recovery cover the last two weeks (local days of the account).
FIGURE_DAYS = 14
# The overview is drawn again at most this often, however many events arrive meanwhile
# (they are read on the next round: none is lost, the figures are re-read whole).
REDRAW_EVERY_S = 2.0
HEARTBEAT_S = 15


@router.get("/", name="dashboard_home")
async def overview_page(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    return await _overview(request, user, session, "overview.html")


@router.get("/overview/live", name="dashboard_overview_live")
async def overview_live(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    """The overview's cards and charts alone: what the stream sends, fetched by the page
    only while its stream is down (the fallback)."""
    return await _overview(request, user, session, "_overview_body.html")


@router.get("/overview/stream", name="dashboard_overview_stream")
async def overview_stream(
    request: Request, user: DashboardUser, db: DatabaseDep
) -> EventSourceResponse:
    """The overview's cards and charts as HTML over SSE (cookie-authenticated).

    Follows every event of the account (``events.stream.account_stream``: a call that
    settles, a batch that starts or ends, a top-up, whichever process wrote it) and sends
    an ``overview`` event with the block drawn again after each round that had any,
    at most every REDRAW_EVERY_S.
    """
    account_id = current_account_id(request, user)
    stream = account_stream(db, account_id)
    await anext(stream)  # the cursor: nothing before it is sent

    async def body() -> AsyncIterator[ServerSentEvent]:
        drawn_at: float | None = None
        async for _round in stream:
            if drawn_at is not None:
                wait = REDRAW_EVERY_S - (time.monotonic() - drawn_at)
                if wait > 0:
                    await asyncio.sleep(wait)  # later events are read on the next round
            async with db.read() as session:
                ctx = await _overview_context(request, user, session)
            drawn_at = time.monotonic()
            yield ServerSentEvent(
                render_text(request, "_overview_body.html", ctx), event="overview"
            )

    return EventSourceResponse(body(), ping=HEARTBEAT_S)


async def _overview(
    request: Request, user: Principal, session: AsyncReadSession, template: str
) -> Response:
    return render(request, template, await _overview_context(request, user, session))


async def _overview_context(
    request: Request, user: Principal, session: AsyncReadSession
) -> dict[str, Any]:
    account_id = current_account_id(request, user)
    cards = await reporting_service.overview(session, user, account_id)
    tz = ZoneInfo(cards.timezone)
    end = hour_bucket(clock.now()) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    per_hour = await queries.calls_per_hour(session, account_id, start, end)
    points = []
    for i in range(24):
        hour = start + timedelta(hours=i)
        points.append((hour.astimezone(tz).strftime("%H"), per_hour.get(hour, 0)))
    unit = "minutes"
    figures: dict[str, object] = {}
    if account_id is not None:
        account = await account_service.get_account(session, user, account_id)
        unit = unit_name(PlanType(account.plan_type))
        report = await recovery_service.recovery(
            session, user, account_id=account_id,
            start=cards.date - timedelta(days=FIGURE_DAYS - 1), end=cards.date,
        )  # fmt: skip
        fig = figures_of(report)
        figures = {
            "fig": fig,
            "rec": today_of(report, cards.date),
            "fid": "overview",
            "fig_tz": report.timezone,
            "currency": fig.currency,
        }
    return {
        "cards": cards,
        "unit": unit,
        "chart": bar_chart(points),
        "outcomes": breakdown(cards.outcomes_today),
        **figures,
    }


@router.get("/account", name="dashboard_account")
async def account_page(
    request: Request,
    user: DashboardUser,
    session: ReadSession,
    skip: int = Query(0, ge=0, le=1_000_000_000),
) -> Response:
    account_id = current_account_id(request, user)
    if account_id is None:
        return RedirectResponse("/dashboard/accounts", status_code=303)
    account = await account_service.get_account(session, user, account_id)
    balance = await account_service.get_balance(session, user, account_id)
    ledger = None
    if user.may("view_ledger"):
        ledger = await account_service.list_transactions(
            session, user, account_id, kind=None, limit=50, skip=skip
        )
    # A charge or refund names its campaign, not only its id.
    campaigns = (
        await queries.batch_names(session, account_id, (e.batch_id for e in ledger.items))
        if ledger is not None
        else {}
    )
    keys = None
    if user.may("manage_keys"):
        keys = await account_service.list_api_keys(session, user, account_id)
    return render(
        request,
        "account.html",
        {
            "account": account_service.to_read(account),
            "balance": balance,
            "ledger": ledger,
            "campaigns": campaigns,
            "keys": keys,
            "tz": account.timezone,  # the ledger's times, and its "(horas de ...)" label
        },
    )
