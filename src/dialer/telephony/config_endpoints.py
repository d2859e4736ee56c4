"""Per-account provider configuration: ``/api/v1/accounts/{account_id}/providers/{provider}``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from dialer.account.auth import CurrentPrincipal
from dialer.db.session import ReadSession, WriteSession
from dialer.telephony import config_service
from dialer.telephony.config_service import ProviderConfigRead, ProviderConfigUpdate

router = APIRouter(prefix="/api/v1/accounts/{account_id}/providers", tags=["providers"])


@router.get("/{provider}", response_model=ProviderConfigRead)
async def get_provider_config(
    account_id: str,
    provider: str,
    request: Request,
    session: ReadSession,
    principal: CurrentPrincipal,
) -> ProviderConfigRead:
    """Which credentials are set (never their values) and the provider options."""
    return await config_service.get_config(
        session, principal, account_id, provider, request.app.state.settings
    )


@router.put("/{provider}", response_model=ProviderConfigRead)
async def put_provider_config(
    account_id: str,
    provider: str,
    body: ProviderConfigUpdate,
    request: Request,
    read: ReadSession,
    session: WriteSession,
    principal: CurrentPrincipal,
) -> ProviderConfigRead:
    """Store credentials (encrypted) or environment references, and options. For a
    vendor that names the caller number by id (Vapi, ElevenLabs ``phone_number_id``),
    the number behind it is asked of the vendor first (before the write transaction)
    and kept as ``options.phone_number``."""
    settings = request.app.state.settings
    number = await config_service.caller_number_of(
        read, principal, account_id, provider, body, settings, _lookup(request, provider)
    )
    return await config_service.put_config(
        session, principal, account_id, provider, body, settings, caller_number=number
    )


def _lookup(request: Request, provider: str) -> config_service.CallerNumberLookup | None:
    if provider not in config_service.NUMBER_BY_ID:
        return None
    lookup: config_service.CallerNumberLookup | None = getattr(
        request.app.state.providers.get(provider), "caller_number", None
    )
    return lookup
