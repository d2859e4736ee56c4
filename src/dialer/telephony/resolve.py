"""An operator resolves an attempt the provider could not attribute.

Twilio keeps no metadata on its calls: when two calls could be a lost create's and none
of Twilio's Call Events proves which, the attempt stays ``unknown`` (never re-dialed,
never guessed; ``wait_reason`` ``unresolved_call``). A supervisor who has looked at the
calls in Twilio's call log says which is the attempt's (``provider_call_id``: it is
followed like any placed call, settled from its webhooks or the provider's record) or
that none is (``no_call``: the attempt is given up without being counted and the job
waits to be dialed again). Audited as ``attempt.resolve``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.audit import service as audit
from dialer.call.service import abandon_attempt, mark_placed
from dialer.errors import Conflict, NotFound
from dialer.job.states import AttemptStatus
from dialer.models import CallAttempt
from dialer.telephony import config_service


class AttemptResolution(BaseModel):
    """Which call is the attempt's, or that none is."""

    model_config = ConfigDict(extra="forbid")

    provider_call_id: str | None = Field(
        None, min_length=1, max_length=255,
        description="The provider's id of the attempt's call (Twilio: its CallSid).",
    )  # fmt: skip
    no_call: bool = Field(
        False, description="No call of the provider is the attempt's: dial the job again."
    )

    @model_validator(mode="after")
    def _one(self) -> AttemptResolution:
        if (self.provider_call_id is None) == (not self.no_call):
            raise ValueError("give either provider_call_id or no_call: true")
        return self


class AttemptNotUnresolved(Conflict):
    """Only an attempt whose outcome is unknown can be resolved by hand."""


async def resolve_attempt(
    session: AsyncSession, principal: Principal, attempt_id: str, body: AttemptResolution,
    *, now: datetime, call_timeout: timedelta,
) -> CallAttempt:  # fmt: skip
    """Resolve an ``unknown`` attempt as the operator says (see the module docstring)."""
    attempt = await session.get(CallAttempt, attempt_id)
    if attempt is None or not principal.can_see(attempt.account_id):
        raise NotFound(f"attempt '{attempt_id}' not found")
    principal.require("cancel")  # a supervisor's decision
    if attempt.status != AttemptStatus.UNKNOWN:
        raise AttemptNotUnresolved(
            f"attempt '{attempt_id}' is {attempt.status}: only an unknown one is resolved by hand"
        )
    account_id, provider = attempt.account_id, attempt.provider or ""
    if body.provider_call_id is not None:
        taken = await config_service.calls_of_other_attempts(
            session, provider, [body.provider_call_id], attempt_id
        )
        if taken:
            raise AttemptNotUnresolved(
                f"call '{body.provider_call_id}' is already another attempt's"
            )
        await mark_placed(
            session, attempt_id, body.provider_call_id, now=now, call_timeout=call_timeout
        )
    else:
        await abandon_attempt(
            session, attempt_id, now=now, retry_at=now, reason="operator_no_call",
            error="an operator found no call of the provider for this attempt",
        )  # fmt: skip
    await audit.record(
        session, principal, account_id, "attempt.resolve", target_type="attempt",
        target_id=attempt_id, provider_call_id=body.provider_call_id, no_call=body.no_call,
    )  # fmt: skip
    await session.flush()
    refreshed = await session.get(CallAttempt, attempt_id, populate_existing=True)
    assert refreshed is not None
    return refreshed
