"""Provider webhooks: ``POST /api/v1/webhooks/{provider}``.

Authenticated by the provider's signature (401 when it does not verify), idempotent
(replays answer 200 and change nothing). The body is read raw because signatures are
computed over the exact bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dialer.db.session import WriteSession
from dialer.telephony.webhooks import receive_webhook

router = APIRouter(tags=["webhooks"])


@router.post("/api/v1/webhooks/{provider}")
async def provider_webhook(
    provider: str, request: Request, session: WriteSession
) -> dict[str, Any]:
    """Receive a provider status callback."""
    applied = await receive_webhook(
        session,
        provider_name=provider,
        body=await request.body(),
        headers=request.headers,
        url=str(request.url),
        settings=request.app.state.settings,
        db=request.app.state.db,
    )
    return {"ok": True, "applied": applied}
