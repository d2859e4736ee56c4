"""Queries of outbound webhooks: subscriptions, the outbox, deliveries and their log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import insert
from dialer.models import (
    Account,
    OutboxEvent,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)


class HookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> HookRepository:
        return cls(session)

    # -- subscriptions -------------------------------------------------------------------

    async def account_exists(self, account_id: str) -> bool:
        row = await self.session.execute(select(Account.id).where(Account.id == account_id))
        return row.first() is not None

    async def subscriptions(self, account_id: str) -> Sequence[WebhookSubscription]:
        return (
            await self.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.account_id == account_id)
                .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
            )
        ).all()

    async def subscription(self, account_id: str, sub_id: str) -> WebhookSubscription | None:
        sub = await self.session.get(WebhookSubscription, sub_id)
        return sub if sub is not None and sub.account_id == account_id else None

    async def delete_subscription(self, sub_id: str) -> None:
        await self.session.execute(
            delete(WebhookSubscription).where(WebhookSubscription.id == sub_id)
        )

    async def active_subscriptions_of(
        self, account_ids: Sequence[str]
    ) -> Sequence[WebhookSubscription]:
        return (
            await self.session.scalars(
                select(WebhookSubscription).where(
                    WebhookSubscription.account_id.in_(account_ids),
                    WebhookSubscription.is_active.is_(True),
                )
            )
        ).all()

    # -- outbox --------------------------------------------------------------------------

    async def oldest_outbox(self, limit: int) -> Sequence[OutboxEvent]:
        stmt = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
        stmt = stmt.with_for_update(skip_locked=True)
        return (await self.session.scalars(stmt)).all()

    async def insert_deliveries(self, rows: list[dict[str, Any]]) -> None:
        """Insert deliveries; one already there for (subscription, event) is kept."""
        if not rows:
            return
        stmt = insert(self.session, WebhookDelivery).on_conflict_do_nothing(
            index_elements=["subscription_id", "event_id"]
        )
        await self.session.execute(stmt, rows)

    async def delete_outbox(self, ids: Sequence[int]) -> None:
        await self.session.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(ids)))

    @staticmethod
    def work_exists(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
        """Anything to fan out or deliver at ``now``: two index probes, one expression
        (the worker's round of side-task probes reads it with the others)."""
        due = select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now
        )
        return or_(select(OutboxEvent.id).exists(), due.exists())

    async def has_work(self, now: datetime) -> bool:
        """Anything to fan out or deliver at ``now`` (on a read session)."""
        return bool((await self.session.execute(select(self.work_exists(now)))).scalar())

    # -- deliveries ----------------------------------------------------------------------

    async def claim_due(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
        """Pending deliveries due now whose lease is free, leased to the caller."""
        stmt = (
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                or_(
                    WebhookDelivery.lease_expires_at.is_(None),
                    WebhookDelivery.lease_expires_at < now,
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
        stmt = stmt.with_for_update(skip_locked=True)
        ids = list((await self.session.scalars(stmt)).all())
        if not ids:
            return []
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(lease_expires_at=lease_until)
        )
        rows = (
            await self.session.execute(
                select(WebhookDelivery, WebhookSubscription)
                .join(
                    WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id
                )
                .where(WebhookDelivery.id.in_(ids))
                .order_by(WebhookDelivery.id)
            )
        ).all()
        return [(d, s) for d, s in rows]

    async def finish_attempt(
        self, delivery_id: int, values: dict[str, Any], log: dict[str, Any]
    ) -> None:
        await self.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )
        self.session.add(WebhookDeliveryAttempt(delivery_id=delivery_id, **log))

    async def deliveries(
        self,
        account_id: str,
        *,
        subscription_id: str | None,
        status: str | None,
        limit: int,
        before_id: int | None,
    ) -> Sequence[WebhookDelivery]:
        stmt = select(WebhookDelivery).where(WebhookDelivery.account_id == account_id)
        if subscription_id is not None:
            stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if before_id is not None:
            stmt = stmt.where(WebhookDelivery.id < before_id)
        stmt = stmt.order_by(WebhookDelivery.id.desc()).limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def attempts_of(self, delivery_ids: Sequence[int]) -> Sequence[WebhookDeliveryAttempt]:
        if not delivery_ids:
            return []
        return (
            await self.session.scalars(
                select(WebhookDeliveryAttempt)
                .where(WebhookDeliveryAttempt.delivery_id.in_(delivery_ids))
                .order_by(WebhookDeliveryAttempt.id)
            )
        ).all()

    async def delivery(self, account_id: str, delivery_id: int) -> WebhookDelivery | None:
        d = await self.session.get(WebhookDelivery, delivery_id)
        return d if d is not None and d.account_id == account_id else None
