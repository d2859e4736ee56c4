"""Reporting API: /api/v1/dashboard/overview and /api/v1/dashboard/stats."""

from __future__ import annotations

from fastapi import APIRouter

from dialer.account import service as account_service
from dialer.account.auth import CurrentPrincipal
from dialer.account.schemas import DashboardStats
from dialer.db.session import ReadSession
from dialer.reporting import service
from dialer.reporting.schemas import Overview

router = APIRouter(prefix="/api/v1/dashboard", tags=["reporting"])


@router.get("/overview", response_model=Overview)
async def overview(
    session: ReadSession, principal: CurrentPrincipal, account_id: str | None = None
) -> Overview:
    """Today's cards: jobs, calls, success rate, active batches, waiting jobs, calls in
    progress, minutes / credits used. Cheap at any data size."""
    return await service.overview(session, principal, account_id)


@router.get("/stats", response_model=DashboardStats)
async def stats(
    session: ReadSession, principal: CurrentPrincipal, account_id: str | None = None
) -> DashboardStats:
    """An account's lifetime stats and balance; for the admin without ``account_id``, the
    number of accounts by status."""
    return await account_service.dashboard_stats(session, principal, account_id)
