"""The simulated carrier: the default provider, no credentials needed.

It behaves like a real voice-AI provider, only cheaper:

* ``place_call`` registers the call (idempotent on the attempt id) in ``simulated_calls``,
  the carrier's own state, which outlives any worker process. Numbers ending in ``0000``
  are rejected as invalid. ``SIM_LATENCY_S`` delays the answer like a network round trip.
* The outcome is drawn from a RNG seeded with ``SIM_SEED``, the job id and the attempt
  number (the attempt id when those are not sent), so the same campaign gets the same
  calls run after run; attempt ids are random and would not. ``SIM_OUTCOMES`` sets the
  mix (weights of completed, no_answer, busy, voicemail, failed). Answered calls last 40-240 s and carry a business result, a short
  Spanish transcript, a summary and extracted fields; unanswered calls ring ~25 s.
* ``SIM_SCRIPT`` (JSON: number -> list of per-attempt calls, each ``{"outcome",
  "business_result", "extracted", "duration_s"}``, the last one repeating) scripts the
  calls to a number exactly: tests use it to have the agent report each business result.
  A voicemail reached with ``voicemail_action`` ``message`` records the message left.
* A call completes at ``started + (ring + duration) / SIM_SPEEDUP`` (0 = at once). The
  carrier loop (every worker runs one) then delivers a signed JSON webhook through the
  same path a real provider uses: an HTTP POST to ``SIM_WEBHOOK_URL`` when set, else
  ``parse_webhook`` + ``handle_events`` in-process.

Signature: ``X-Dialer-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``;
older than five minutes or tampered bodies are rejected.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.config import Settings
from dialer.db.bulk import table_of
from dialer.db.dialect import insert
from dialer.db.session import Database
from dialer.job.states import BusinessResult, Outcome
from dialer.kit import clock
from dialer.kit.group_commit import GroupCommit
from dialer.logging import get_logger
from dialer.models import SimulatedCall
from dialer.telephony.base import (
    CallEvent,
    CallRequest,
    InvalidNumberError,
    PlacedCall,
    WebhookVerificationError,
)
from dialer.telephony.webhooks import handle_events

log = get_logger("dialer.simulated")

SIGNATURE_HEADER = "x-dialer-signature"
SIGNATURE_TOLERANCE_S = 300
INVALID_SUFFIX = "0000"
DEFAULT_OUTCOMES: dict[str, float] = {
    Outcome.COMPLETED: 0.55,
    Outcome.NO_ANSWER: 0.2,
    Outcome.BUSY: 0.08,
    Outcome.VOICEMAIL: 0.1,
    Outcome.FAILED: 0.07,
}
BUSINESS_RESULTS: dict[str, float] = {
    BusinessResult.PROMISE_TO_PAY: 0.45,
    BusinessResult.REFUSED: 0.15,
    BusinessResult.WRONG_PERSON: 0.1,
    BusinessResult.CALL_BACK_LATER: 0.2,
    BusinessResult.PAID: 0.1,
}
ACQUISITION_RESULTS: dict[str, float] = {
    BusinessResult.INTERESTED: 0.35,
    BusinessResult.NOT_INTERESTED: 0.45,
    BusinessResult.CALL_BACK_LATER: 0.2,
}
_AMOUNT_KEYS = ("monto", "amount", "deuda", "saldo", "debt_amount", "monto_deuda")
# Speed-ups beyond this make every call instant (benchmarks, tests).
INSTANT_SPEEDUP = 1e6


def sign(secret: str, body: bytes, at: datetime) -> str:
    ts = int(at.timestamp())
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, now: datetime) -> None:
    """Raise WebhookVerificationError unless ``header`` signs ``body`` recently."""
    if not header:
        raise WebhookVerificationError("missing X-Dialer-Signature")
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise WebhookVerificationError("malformed X-Dialer-Signature") from None
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac, given):
        raise WebhookVerificationError("signature does not match the body")
    if abs(now.timestamp() - ts) > SIGNATURE_TOLERANCE_S:
        raise WebhookVerificationError("signature timestamp is too old")


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d else None


def _dt(v: Any) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


# Outcomes where someone (or a mailbox) picked up after the ring.
_PICKED_UP = frozenset({Outcome.COMPLETED, Outcome.VOICEMAIL})


class SimulatedProvider:
    """A realistic, seeded, asynchronous fake carrier backed by the database."""

    name = "simulated"
    supports_hangup = True
    tolerance = timedelta(seconds=SIGNATURE_TOLERANCE_S)

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.secret = settings.SECRET_KEY.get_secret_value()
        mix = {k: float(v) for k, v in (settings.SIM_OUTCOMES or {}).items() if float(v) > 0}
        unknown = set(mix) - set(DEFAULT_OUTCOMES)
        if unknown:
            raise ValueError(f"SIM_OUTCOMES: unknown outcomes {sorted(unknown)}")
        self.mix = mix or dict(DEFAULT_OUTCOMES)
        # Set when a call this process placed has already ended (instant calls).
        self.ended = asyncio.Event()
        # Calls placed at the same moment are registered in one transaction.
        self._inserts: GroupCommit[dict[str, Any], None] = GroupCommit(self._insert_rows)
        # The last delivery round found calls to deliver (``deliver_due``).
        self._delivered_last = False

    # -- the call ------------------------------------------------------------------------

    def _scripted(self, request: CallRequest) -> dict[str, Any] | None:
        """``SIM_SCRIPT[to_number][attempt n]`` (the last entry repeats), when scripted."""
        entries = (self.settings.SIM_SCRIPT or {}).get(request.to_number)
        if not entries:
            return None
        number = int(request.metadata.get("attempt_number") or 1)
        entry = entries[min(max(number, 1), len(entries)) - 1]
        return entry if isinstance(entry, dict) else None

    def draw(self, request: CallRequest, now: datetime) -> dict[str, Any]:
        """The simulated call for ``request``: same seed, job and attempt number (or
        attempt id), same call."""
        job_id = request.metadata.get("job_id")
        number = request.metadata.get("attempt_number")
        key = f"{job_id}:{number}" if job_id and number else request.attempt_id
        rng = random.Random(f"{self.settings.SIM_SEED}:{key}")
        outcome = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        ring = rng.randint(15, 35)
        duration, result = 0, None
        transcript = summary = None
        extracted: dict[str, Any] = {}
        variables = dict(request.variables)
        if outcome == Outcome.COMPLETED:
            duration = rng.randint(40, min(240, max(request.max_duration_s, 40)))
            acquisition = request.metadata.get("processing_type") == "acquisition"
            table = ACQUISITION_RESULTS if acquisition else BUSINESS_RESULTS
            result = rng.choices(list(table), weights=list(table.values()))[0]
            transcript, summary, extracted = _conversation(result, variables, now, rng)
        elif outcome == Outcome.VOICEMAIL:
            ring, duration = rng.randint(15, 30), rng.randint(10, 30)
        elif outcome == Outcome.FAILED:
            ring = rng.randint(1, 5)
        scripted = self._scripted(request)
        if scripted is not None:
            outcome = Outcome(scripted.get("outcome", Outcome.COMPLETED))
            result = scripted.get("business_result")
            extracted = dict(scripted.get("extracted") or {})
            duration = int(scripted.get("duration_s", 60 if outcome == Outcome.COMPLETED else 0))
            if outcome == Outcome.COMPLETED:
                transcript, summary = "Agente: ...\nCliente: ...", "Llamada guionada."
        if outcome == Outcome.VOICEMAIL and request.voicemail_action == "message":
            # The carrier left the batch's message on the mailbox.
            extracted["voicemail_message_left"] = request.voicemail_message
        timeout = request.ring_timeout_s
        if timeout is not None and ring > timeout and outcome in _PICKED_UP:
            # The carrier gives up after the batch's ring timeout: nobody picked up in time.
            outcome, ring, duration, result = Outcome.NO_ANSWER, timeout, 0, None
            transcript = summary = None
            extracted = {}
        duration = min(duration, request.max_duration_s)  # the provider hangs up at the limit
        speedup = self.settings.SIM_SPEEDUP
        if speedup <= 0 or speedup >= INSTANT_SPEEDUP:
            complete_at = now
        else:
            complete_at = now + timedelta(seconds=(ring + duration) / speedup)
        return {
            "id": f"sim-{request.attempt_id}",
            "attempt_id": request.attempt_id,
            "to_number": request.to_number,
            "outcome": str(outcome),
            "business_result": str(result) if result else None,
            "duration_s": duration,
            "started_at": now,
            "complete_at": complete_at,
            "delivered": 0,
            "request": {
                "metadata": dict(request.metadata),
                # What the dispatcher asked for: the carrier ends the call by then.
                "max_duration_s": request.max_duration_s,
                "variables": variables,
                "ring_s": ring,
                "transcript": transcript,
                "summary": summary,
                "extracted": extracted,
                "error": "carrier rejected the call" if outcome == Outcome.FAILED else None,
            },
        }

    async def place_call(self, request: CallRequest) -> PlacedCall:
        """Register the call with the carrier (idempotent on the attempt id)."""
        if self.settings.SIM_LATENCY_S:
            await asyncio.sleep(self.settings.SIM_LATENCY_S)
        digits = "".join(ch for ch in request.to_number if ch.isdigit())
        if not digits or digits.endswith(INVALID_SUFFIX):
            raise InvalidNumberError(f"{request.to_number} is not a valid number", status_code=400)
        row = self.draw(request, clock.now())
        await self._inserts.submit(row)
        if row["complete_at"] <= clock.now():
            self.ended.set()  # an instant call: wake this process's carrier loop
        return PlacedCall(provider_call_id=row["id"], status="queued")

    async def _insert_rows(self, rows: list[dict[str, Any]]) -> list[None]:
        async with self.db.write() as session:
            await _insert_ignore(session, rows)
        return [None] * len(rows)

    async def hangup(self, provider_call_id: str) -> None:
        """End the call now: its final event follows, as with a real carrier."""
        now = clock.now()
        async with self.db.write() as session:
            await session.execute(
                update(SimulatedCall)
                .where(SimulatedCall.id == provider_call_id, SimulatedCall.complete_at > now)
                .values(complete_at=now)
            )

    async def get_call(self, provider_call_id: str) -> CallEvent | None:
        """The call as the carrier sees it now (final once its end time has passed)."""
        return await self._lookup(SimulatedCall.id == provider_call_id)

    async def find_call(
        self, attempt_id: str, *, to_number: str = "", since: datetime | None = None
    ) -> CallEvent | None:
        """Look a call up by our idempotency key; None proves the carrier has none."""
        return await self._lookup(SimulatedCall.attempt_id == attempt_id)

    @staticmethod
    def claimed_ids(body: bytes, url: str) -> tuple[str | None, str | None]:
        """(attempt id, call id) a webhook names - unverified."""
        try:
            data = json.loads(body)
        except ValueError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        attempt, call = data.get("attempt_id"), data.get("call_id")
        return (
            attempt if isinstance(attempt, str) else None,
            call if isinstance(call, str) else None,
        )

    async def _lookup(self, cond: Any) -> CallEvent | None:
        async with self.db.read() as session:
            row = (await session.execute(select(SimulatedCall).where(cond))).scalar_one_or_none()
            if row is not None:
                # The read session ends in a rollback, which expires loaded rows: keep
                # the values (the reconciler reads them after the session is gone).
                session.expunge(row)
        if row is None:
            return None
        if row.complete_at > clock.now():
            return CallEvent(
                provider=self.name, provider_call_id=row.id, event_key=f"sim:{row.id}:progress",
                attempt_id=row.attempt_id, final=False, status="in_progress",
                started_at=row.started_at,
            )  # fmt: skip
        return _event_from_payload(_payload(row))

    # -- webhooks ------------------------------------------------------------------------

    def build_webhook(self, row: Any, now: datetime) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(_payload(row), separators=(",", ":")).encode()
        return body, {
            "content-type": "application/json",
            "X-Dialer-Signature": sign(self.secret, body, now),
        }

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], url: str, now: datetime
    ) -> list[CallEvent]:
        """Verify the HMAC signature and turn the JSON body into one CallEvent."""
        lower = {k.lower(): v for k, v in headers.items()}
        verify(self.secret, body, lower.get(SIGNATURE_HEADER), now)
        try:
            data = json.loads(body)
            return [_event_from_payload(data)]
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookVerificationError(f"malformed body: {exc}") from None

    # -- the carrier loop ----------------------------------------------------------------

    async def deliver_due(self, *, limit: int = 200) -> int:
        """Deliver the final webhooks of calls that have ended. Returns how many."""
        if self.settings.SIM_WEBHOOK_URL:
            return await self._deliver_http(limit)
        now = clock.now()
        # After a round that delivered, more are likely due: straight to the write.
        if not self._delivered_last and not await self._anything_due(now):
            return 0
        async with self.db.write() as session:
            rows = await _due(session, now, limit)
            self._delivered_last = bool(rows)
            if not rows:
                return 0
            events: list[CallEvent] = []
            for row in rows:
                # Round-trip through the signed body: the in-process path checks exactly
                # what an HTTP delivery would.
                body, headers = self.build_webhook(row, now)
                events += self.parse_webhook(body=body, headers=headers, url="", now=now)
            await handle_events(session, events, now=now)
            await session.execute(
                update(SimulatedCall)
                .where(SimulatedCall.id.in_([r.id for r in rows]))
                .values(delivered=1)
            )
        return len(rows)

    async def _anything_due(self, now: datetime) -> bool:
        # A read first: most polls find nothing, and on SQLite a write transaction
        # would take the database-wide write lock just to find that out.
        async with self.db.read() as session:
            row = (await session.execute(_ANY_DUE, {"now": now})).first()
        return row is not None

    async def _deliver_http(self, limit: int) -> int:
        assert self.settings.SIM_WEBHOOK_URL
        now = clock.now()
        if not await self._anything_due(now):
            return 0
        async with self.db.write() as session:
            rows = await _due(session, now, limit)
            # A lease, not a lock: the POSTs happen outside this transaction.
            if rows:
                await session.execute(
                    update(SimulatedCall)
                    .where(SimulatedCall.id.in_([r.id for r in rows]))
                    .values(lease_expires_at=now + timedelta(seconds=30))
                )
        if not rows:
            return 0
        delivered: list[str] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for row in rows:
                body, headers = self.build_webhook(row, clock.now())
                try:
                    resp = await client.post(
                        self.settings.SIM_WEBHOOK_URL, content=body, headers=headers
                    )
                except httpx.HTTPError as exc:
                    log.warning("simulated.webhook_failed", call_id=row.id, error=str(exc))
                    continue
                if resp.status_code < 300:
                    delivered.append(row.id)
                else:
                    log.warning(
                        "simulated.webhook_refused", call_id=row.id, status=resp.status_code
                    )
        if delivered:
            async with self.db.write() as session:
                await session.execute(
                    update(SimulatedCall).where(SimulatedCall.id.in_(delivered)).values(delivered=1)
                )
        return len(delivered)


async def _insert_ignore(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    # An executemany on the table, not a multi-row VALUES: the statement compiles once
    # per process instead of once per batch (its text would grow with every row).
    await session.execute(
        insert(session, table_of(SimulatedCall)).on_conflict_do_nothing(
            index_elements=["attempt_id"]
        ),
        list(rows),
    )


# Built once (the carrier polls them): ``now`` and ``limit`` are bound per execution.
_ANY_DUE = (
    select(SimulatedCall.id)
    .where(SimulatedCall.delivered == 0, SimulatedCall.complete_at <= bindparam("now"))
    .limit(1)
)
# Plain rows (same attribute names as SimulatedCall): they are only read.
_DUE = (
    select(table_of(SimulatedCall))
    .where(
        SimulatedCall.delivered == 0,
        SimulatedCall.complete_at <= bindparam("now"),
        (SimulatedCall.lease_expires_at.is_(None))
        | (SimulatedCall.lease_expires_at < bindparam("now")),
    )
    .order_by(SimulatedCall.complete_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)


async def _due(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    return list((await session.execute(_DUE, {"now": now, "limit": limit})).all())


def _payload(row: Any) -> dict[str, Any]:
    req = row.request or {}
    answered = row.outcome == Outcome.COMPLETED
    ring = int(req.get("ring_s", 0))
    return {
        "event": "call.ended",
        "call_id": row.id,
        "attempt_id": row.attempt_id,
        "to_number": row.to_number,
        "outcome": row.outcome,
        "business_result": row.business_result,
        "duration_s": row.duration_s,
        "started_at": _iso(row.started_at),
        "answered_at": _iso(row.started_at + timedelta(seconds=ring)) if answered else None,
        "ended_at": _iso(row.complete_at),
        "transcript": req.get("transcript"),
        "summary": req.get("summary"),
        "extracted": req.get("extracted") or {},
        "error": req.get("error"),
    }


def _event_from_payload(data: Mapping[str, Any]) -> CallEvent:
    return CallEvent(
        provider="simulated",
        provider_call_id=str(data["call_id"]),
        event_key=f"sim:{data['call_id']}:{data.get('event', 'call.ended')}",
        attempt_id=data.get("attempt_id"),
        final=data.get("event", "call.ended") == "call.ended",
        status="ended",
        outcome=data.get("outcome"),
        business_result=data.get("business_result"),
        duration_s=int(data.get("duration_s") or 0),
        started_at=_dt(data.get("started_at")),
        answered_at=_dt(data.get("answered_at")),
        ended_at=_dt(data.get("ended_at")),
        transcript=data.get("transcript"),
        summary=data.get("summary"),
        extracted=dict(data.get("extracted") or {}),
        error=data.get("error"),
        raw=dict(data),
    )


def _conversation(
    result: str, variables: Mapping[str, str], now: datetime, rng: random.Random
) -> tuple[str, str, dict[str, Any]]:
    name = variables.get("nombre") or "cliente"
    amount = next((variables[k] for k in _AMOUNT_KEYS if variables.get(k)), None)
    due = (
        variables.get("fecha_limite")
        or (now + timedelta(days=rng.randint(2, 10))).date().isoformat()
    )
    agent = f"Agente: Buenos días, ¿hablo con {name}? Le llamo por su deuda"
    agent += f" de ${amount}." if amount else "."
    if result == BusinessResult.PROMISE_TO_PAY:
        return (
            f"{agent}\nCliente: Sí, soy yo. Puedo pagar el {due}.\nAgente: Perfecto, queda registrado.",
            f"El cliente se compromete a pagar el {due}.",
            {"promise_to_pay_date": due, "promise_to_pay_amount": amount},
        )
    if result == BusinessResult.REFUSED:
        return (f"{agent}\nCliente: No voy a pagar eso.", "El cliente se niega a pagar.", {})
    if result == BusinessResult.WRONG_PERSON:
        return (
            f"{agent}\nCliente: No, está equivocado, no conozco a {name}.",
            "Número equivocado: no es el titular.",
            {"wrong_person": True},
        )
    if result == BusinessResult.PAID:
        return (
            f"{agent}\nCliente: Ya pagué la semana pasada.",
            "El cliente indica que ya pagó.",
            {},
        )
    if result == BusinessResult.INTERESTED:
        return (
            f"Agente: Hola {name}, le llamo con una oferta.\nCliente: Me interesa, cuénteme más.",
            "Cliente interesado en la oferta.",
            {"interested": True},
        )
    if result == BusinessResult.NOT_INTERESTED:
        return (
            f"Agente: Hola {name}, le llamo con una oferta.\nCliente: No me interesa, gracias.",
            "Cliente no interesado.",
            {"interested": False},
        )
    callback = (now + timedelta(days=1)).date().isoformat()
    return (
        f"{agent}\nCliente: Ahora no puedo hablar, llámeme mañana.",
        "El cliente pide que lo llamen más tarde.",
        {"call_back_on": callback},
    )
