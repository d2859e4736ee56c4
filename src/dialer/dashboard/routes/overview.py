"""Overview cards, calls per hour and outcome breakdown; the account page."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from dialer.account import service as account_service
from dialer.account.auth import Principal
from dialer.billing.schemas import unit_name
from dialer.dashboard import queries
from dialer.dashboard.auth import DashboardUser
from dialer.dashboard.charts import bar_chart, breakdown
from dialer.dashboard.figures import figures_of, today_of
from dialer.dashboard.rendering import current_account_id, render
from dialer.db.session import AsyncReadSession, ReadSession
from dialer.kit import clock
from dialer.models import PlanType
from dialer.reporting import recovery as recovery_service
from dialer.reporting import service as reporting_service
from dialer.reporting.service import hour_bucket

router = APIRouter()


# The overview's charts of recovery cover the last two weeks (local days of the account).
FIGURE_DAYS = 14


@router.get("/", name="dashboard_home")
async def overview_page(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    return await _overview(request, user, session, "overview.html")


@router.get("/overview/live", name="dashboard_overview_live")
async def overview_live(request: Request, user: DashboardUser, session: ReadSession) -> Response:
    """The overview's cards and charts alone (the page fetches them again every 10 s)."""
    return await _overview(request, user, session, "_overview_body.html")


async def _overview(
    request: Request, user: Principal, session: AsyncReadSession, template: str
) -> Response:
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
    return render(
        request,
        template,
        {
            "cards": cards,
            "unit": unit,
            "chart": bar_chart(points),
            "outcomes": breakdown(cards.outcomes_today),
            **figures,
        },
    )


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
            "keys": keys,
        },
    )
