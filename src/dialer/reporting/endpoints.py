"""Reporting API: /api/v1/dashboard/overview."""

from __future__ import annotations

from fastapi import APIRouter

from dialer.account.auth import CurrentPrincipal
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
