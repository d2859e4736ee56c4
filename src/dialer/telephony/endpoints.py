"""Provider webhooks: ``POST /api/v1/webhooks/{provider}`` and the Twilio agent report.

Authenticated by the provider's signature (401 when it does not verify), idempotent
(replays answer 200 and change nothing). The body is read raw because signatures are
computed over the exact bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request

from dialer.db.session import WriteSession
from dialer.telephony.intake import receive_webhook
from dialer.telephony.report import receive_agent_report

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
