"""Provider webhooks: ``POST /api/v1/webhooks/{provider}`` and the Twilio agent report;
``POST /api/v1/attempts/{attempt_id}/resolve``: an operator resolves an attempt the
provider could not attribute (telephony/resolve.py).

Authenticated by the provider's signature (401 when it does not verify), idempotent
(replays answer 200 and change nothing). The body is read raw because signatures are
computed over the exact bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from dialer.account.auth import CurrentPrincipal
from dialer.db.session import WriteSession
from dialer.kit import clock
from dialer.telephony.intake import receive_webhook
from dialer.telephony.report import receive_agent_report
from dialer.telephony.resolve import AttemptResolution, resolve_attempt

router = APIRouter(tags=["webhooks"])


@router.post("/api/v1/webhooks/twilio/report")
async def twilio_agent_report(request: Request, session: WriteSession) -> dict[str, Any]:
    """The voice agent's transcript and business result for a Twilio call (signed with the
    account's ``report_secret``; 409 while the call has not ended: retry)."""
    applied = await receive_agent_report(
        session, body=await request.body(), headers=request.headers,
        settings=request.app.state.settings,
    )  # fmt: skip
    return {"ok": True, "applied": applied}


@router.post("/api/v1/webhooks/{provider}")
async def provider_webhook(
    provider: str, request: Request, session: WriteSession, background: BackgroundTasks
) -> dict[str, Any]:
    """Receive a provider status callback."""
    applied = await receive_webhook(
        session,
        provider_name=provider,
        body=await request.body(),
        headers=request.headers,
        url=str(request.url),
        providers=request.app.state.providers,
        # Background tasks run after the response, so after the session's commit.
        after_commit=background.add_task,
    )
    return {"ok": True, "applied": applied}


@router.post("/api/v1/attempts/{attempt_id}/resolve", tags=["jobs"])
async def resolve(
    attempt_id: str,
    body: AttemptResolution,
    request: Request,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Say which provider call is an unattributed attempt's (``provider_call_id``), or that
    none is (``no_call``: the job is dialed again). Supervisors and admins; 409 unless the
    attempt's outcome is unknown."""
    attempt = await resolve_attempt(
        session, principal, attempt_id, body, now=clock.now(),
        call_timeout=request.app.state.settings.CALL_TIMEOUT,
    )  # fmt: skip
    return {"attempt_id": attempt.id, "status": str(attempt.status),
            "provider_call_id": attempt.provider_call_id}  # fmt: skip
