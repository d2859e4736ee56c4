"""One harness per adapter for the contract suite: the adapter, its fake vendor, and the
vendor's webhooks. ``simulated`` is backed by its real carrier table (the database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from dialer.config import Settings
from dialer.db.bulk import table_of
from dialer.db.session import Database
from dialer.models import SimulatedCall
from dialer.telephony.base import CallEvent, CallOutcomeUnknown, CallRequest, PlacedCall, Provider
from dialer.telephony.simulated import SimulatedProvider
from tests.telephony.contract.vendors import (
    TO,
    VENDORS,
    FakeVendor,
    VendorCall,
    Webhook,
)

ADAPTERS = ("retell", "twilio", "elevenlabs", "vapi", "simulated")


def call_request(attempt_id: str, **kw: Any) -> CallRequest:
    base: dict[str, Any] = {
        "attempt_id": attempt_id,
        "to_number": TO,
        "from_number": None,
        "agent_id": None,
        "variables": {"nombre": "María José Pérez", "monto": "$1.234.567"},
        "metadata": {"account_id": "acc-demo", "job_id": "job_0001", "attempt_number": "1"},
        "max_duration_s": 600,
        "webhook_url": "https://dialer.example.com/api/v1/webhooks/x",
    }
    base.update(kw)
    return CallRequest(**base)


class _LossySimulated:
    """The simulated carrier, with the create's answer lost on demand."""

    def __init__(self, sim: SimulatedProvider) -> None:
        self.sim = sim
        self.name = sim.name
        self.supports_hangup = sim.supports_hangup
        self.tolerance = sim.tolerance
        self.lose_create_answer = False

    async def place_call(self, request: CallRequest) -> PlacedCall:
        placed = await self.sim.place_call(request)
        if self.lose_create_answer:
            raise CallOutcomeUnknown("answer lost")
        return placed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)


@dataclass
class Harness:
    name: str
    adapter: Any
    vendor: FakeVendor | None = None
    sim: _LossySimulated | None = None
    db: Database | None = None

    def lose_create_answer(self) -> None:
        if self.vendor is not None:
            self.vendor.lose_create_answer = True
        else:
            assert self.sim is not None
            self.sim.lose_create_answer = True

    async def calls(self) -> list[VendorCall]:
        if self.vendor is not None:
            return list(self.vendor.calls.values())
        assert self.db is not None
        async with self.db.read() as s:
            rows = (await s.execute(select(table_of(SimulatedCall)))).all()
        return [
            VendorCall(r.id, r.attempt_id, r.to_number, ended=r.complete_at <= r.started_at)
            for r in rows
        ]

    async def call_by_id(self, call_id: str) -> VendorCall:
        (call,) = [c for c in await self.calls() if c.call_id == call_id]
        return call

    async def final_webhook(self, call: VendorCall, at: datetime) -> Webhook:
        if self.vendor is not None:
            return self.vendor.final_webhook(call, at)
        assert self.db is not None
        assert self.sim is not None
        async with self.db.read() as s:
            row = (
                await s.execute(
                    select(table_of(SimulatedCall)).where(SimulatedCall.id == call.call_id)
                )
            ).one()
        body, headers = self.sim.sim.build_webhook(row, at)
        return Webhook(body, headers)

    async def progress_webhook(self, call: VendorCall, at: datetime) -> Webhook | None:
        if self.vendor is not None:
            return self.vendor.progress_webhook(call, at)
        return None  # the simulated carrier sends only the final event

    async def resign(self, hook: Webhook, at: datetime) -> Webhook:
        if self.vendor is not None:
            return self.vendor.resign(hook, at)
        assert self.sim is not None
        from dialer.telephony.simulated import sign

        return Webhook(hook.body, {**hook.headers,
                                   "X-Dialer-Signature": sign(self.sim.sim.secret, hook.body, at)})  # fmt: skip

    async def hung_up(self, call_id: str) -> bool:
        if self.vendor is not None:
            return self.vendor.calls[call_id].hung_up
        assert self.db is not None
        async with self.db.read() as s:
            row = (
                await s.execute(select(table_of(SimulatedCall)).where(SimulatedCall.id == call_id))
            ).one()
        return bool(row.complete_at <= row.started_at)

    def parse(self, hook: Webhook, now: datetime) -> list[CallEvent]:
        parsed: list[CallEvent] = self.adapter.parse_webhook(
            body=hook.body, headers=hook.headers, url=hook.url, now=now
        )
        return parsed


def make_harness(
    name: str, *, db: Database | None = None, settings: Settings | None = None
) -> Harness:
    if name == "simulated":
        assert db is not None
        assert settings is not None
        sim = _LossySimulated(
            SimulatedProvider(db, settings.model_copy(update={"SIM_OUTCOMES": {"completed": 1.0}}))
        )
        return Harness(name, sim, sim=sim, db=db)
    vendor = VENDORS[name]()
    return Harness(name, vendor.adapter(), vendor=vendor)


def adapter_of(h: Harness) -> Provider:
    provider: Provider = h.adapter
    return provider
