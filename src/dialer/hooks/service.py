"""Outbound webhook subscriptions, the delivery log and manual redelivery."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.status import require_active
from dialer.config import Settings
from dialer.errors import NotFound
from dialer.hooks.addresses import Resolver, checked_address, system_resolver
from dialer.hooks.repository import HookRepository
from dialer.hooks.schemas import (
    DeliveryAttemptRead,
    DeliveryRead,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
)
from dialer.hooks.signing import new_secret
from dialer.models import WebhookSubscription


def _fernet(settings: Settings) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"dialer/webhook-secrets"
    ).derive(settings.SECRET_KEY.get_secret_value().encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode()


def decrypt_secret(settings: Settings, token: str) -> str:
    return _fernet(settings).decrypt(token.encode()).decode()


async def _account(session: AsyncSession, principal: Principal, account_id: str) -> HookRepository:
    principal.check_account(account_id)
    repo = HookRepository.from_session(session)
    if not await repo.account_exists(account_id):
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    return repo


async def create_subscription(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    body: SubscriptionCreate,
    settings: Settings,
    *,
    resolver: Resolver = system_resolver,
) -> SubscriptionCreated:
    """Subscribe ``body.url`` to events. The secret is in this response only."""
    await _account(session, principal, account_id)
    await require_active(session, account_id)
    await checked_address(
        body.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE, resolver=resolver
    )
    secret = new_secret()
    sub = WebhookSubscription(
        id="whk_" + uuid.uuid4().hex[:20],
        account_id=account_id,
        url=body.url,
        events=body.events,
        description=body.description,
        secret_encrypted=encrypt_secret(settings, secret),
        is_active=True,
    )
    session.add(sub)
    await session.flush()
    return SubscriptionCreated(**SubscriptionRead.model_validate(sub).model_dump(), secret=secret)


async def list_subscriptions(
    session: AsyncSession, principal: Principal, account_id: str
) -> list[SubscriptionRead]:
    repo = await _account(session, principal, account_id)
    return [SubscriptionRead.model_validate(s) for s in await repo.subscriptions(account_id)]


async def delete_subscription(
    session: AsyncSession, principal: Principal, account_id: str, subscription_id: str
) -> None:
    """Remove a subscription with its pending deliveries and their log."""
    repo = await _account(session, principal, account_id)
    if await repo.subscription(account_id, subscription_id) is None:
        raise NotFound(f"webhook '{subscription_id}' not found", field="subscription_id")
    await repo.delete_subscription(subscription_id)


async def list_deliveries(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    subscription_id: str | None = None,
    status: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> list[DeliveryRead]:
    """The delivery log, newest first, each delivery with its attempts."""
    repo = await _account(session, principal, account_id)
    rows = await repo.deliveries(
        account_id, subscription_id=subscription_id, status=status, limit=limit,
        before_id=before_id,
    )  # fmt: skip
    logs: dict[int, list[DeliveryAttemptRead]] = {}
    for a in await repo.attempts_of([d.id for d in rows]):
        logs.setdefault(a.delivery_id, []).append(DeliveryAttemptRead.model_validate(a))
    out = []
    for d in rows:
        item = DeliveryRead.model_validate(d)
        item.log = logs.get(d.id, [])
        if d.status != "pending":
            item.next_attempt_at = None
        out.append(item)
    return out


async def redeliver(
    session: AsyncSession, principal: Principal, account_id: str, delivery_id: int, *, now: datetime
) -> DeliveryRead:
    """Send a delivery again now (same event id and body), whatever its status."""
    repo = await _account(session, principal, account_id)
    d = await repo.delivery(account_id, delivery_id)
    if d is None:
        raise NotFound(f"delivery '{delivery_id}' not found", field="delivery_id")
    d.status = "pending"
    d.next_attempt_at = now
    d.lease_expires_at = None
    await session.flush()
    return DeliveryRead.model_validate(d)
