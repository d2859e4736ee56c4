"""API shapes of outbound webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dialer.hooks.outbox import EVENT_TYPES


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) endpoint that receives the POSTs.")
    events: list[str] = Field(min_length=1, description=f"Any of: {', '.join(EVENT_TYPES)}.")
    description: str | None = Field(default=None, max_length=500)

    @field_validator("events")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"unknown events {unknown}; known: {list(EVENT_TYPES)}")
        return sorted(set(v), key=EVENT_TYPES.index)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    account_id: str
    url: str
    events: list[str]
    description: str | None
    is_active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="Signing secret, shown only in this response: store it now.")


class DeliveryAttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subscription_id: str
    event_id: str
    type: str
    status: str = Field(description="pending | delivered | failed")
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]
    log: list[DeliveryAttemptRead] = Field(default_factory=list)
