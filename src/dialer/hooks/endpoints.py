"""Outbound webhooks API: ``/api/v1/accounts/{account_id}/webhooks``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from dialer.account.auth import CurrentPrincipal
from dialer.db.session import ReadSession, WriteSession
from dialer.hooks import service
from dialer.hooks.schemas import (
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)
from dialer.kit import clock

# Delivery ids are INTEGER columns: larger ids are refused as input (422), not sent to
# PostgreSQL (which cannot bind them to an int4 and fails).
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1)]

router = APIRouter(prefix="/api/v1/accounts/{account_id}/webhooks", tags=["webhooks"])


@router.post("", response_model=SubscriptionCreated, status_code=201)
async def create_webhook(
    account_id: str,
    body: SubscriptionCreate,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> SubscriptionCreated:
    """Subscribe a URL to events; the response shows the signing secret once."""
    return await service.create_subscription(
        session, principal, account_id, body, request.app.state.settings
    )


@router.get("", response_model=list[SubscriptionRead])
async def list_webhooks(
    account_id: str, session: ReadSession, principal: CurrentPrincipal
) -> list[SubscriptionRead]:
    return await service.list_subscriptions(session, principal, account_id)


@router.delete("/{subscription_id}", status_code=204)
async def delete_webhook(
    account_id: str, subscription_id: str, session: WriteSession, principal: CurrentPrincipal
) -> Response:
    await service.delete_subscription(session, principal, account_id, subscription_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    account_id: str,
    session: ReadSession,
    principal: CurrentPrincipal,
    subscription_id: str | None = None,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> list[DeliveryRead]:
    """The delivery log, newest first (page with ``before_id``)."""
    return await service.list_deliveries(
        session, principal, account_id, subscription_id=subscription_id, status=status,
        limit=limit, before_id=before_id,
    )  # fmt: skip


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
async def redeliver(
    account_id: str, delivery_id: DeliveryId, session: WriteSession, principal: CurrentPrincipal
) -> DeliveryRead:
    """Queue a delivery again now, with the same event id and body."""
    return await service.redeliver(session, principal, account_id, delivery_id, now=clock.now())
