"""Script endpoints: create, version, list, get, default, preview."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from dialer.account.auth import CurrentPrincipal, Principal
from dialer.account.ratelimit import PreviewRateLimit
from dialer.db.session import ReadSession, WriteSession
from dialer.errors import InvalidInput
from dialer.kit.pagination import Page
from dialer.script import service
from dialer.script.schemas import (
    ProcessingType,
    ScriptCreate,
    ScriptPreview,
    ScriptRead,
    ScriptRendered,
    ScriptVersionCreate,
)

router = APIRouter(prefix="/api/v1/scripts", tags=["scripts"])


def _owner(principal: Principal, account_id: str | None) -> str:
    scoped = principal.scope(account_id)
    if scoped is None:
        raise InvalidInput("account_id is required with the admin key", field="account_id")
    return scoped


def _visible(principal: Principal) -> str | None:
    return None if principal.is_admin else principal.account_id


@router.post("", response_model=ScriptRead, status_code=201)
async def create_script(
    body: ScriptCreate, session: WriteSession, principal: CurrentPrincipal
) -> ScriptRead:
    script = await service.create_script(session, _owner(principal, body.account_id), body)
    return ScriptRead.model_validate(script)


@router.get("", response_model=Page[ScriptRead])
async def list_scripts(
    session: ReadSession,
    principal: CurrentPrincipal,
    account_id: str | None = None,
    name: str | None = None,
    processing_type: ProcessingType | None = None,
    all_versions: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    skip: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> Page[ScriptRead]:
    items, total = await service.list_scripts(
        session,
        account_id=principal.scope(account_id),
        name=name,
        processing_type=processing_type,
        all_versions=all_versions,
        limit=limit,
        skip=skip,
    )
    return Page(
        items=[ScriptRead.model_validate(s) for s in items], total=total, limit=limit, skip=skip
    )


@router.get("/default", response_model=ScriptRead)
async def default_script(
    session: WriteSession,
    principal: CurrentPrincipal,
    processing_type: ProcessingType = "basic",
    account_id: str | None = None,
) -> ScriptRead:
    """The account's default script for a processing type (created on first use)."""
    script = await service.ensure_default_script(
        session, _owner(principal, account_id), processing_type
    )
    return ScriptRead.model_validate(script)


@router.get("/{script_id}", response_model=ScriptRead)
async def get_script(
    script_id: str, session: ReadSession, principal: CurrentPrincipal
) -> ScriptRead:
    script = await service.get_script(session, script_id, visible_to=_visible(principal))
    return ScriptRead.model_validate(script)


@router.post("/{script_id}/versions", response_model=ScriptRead, status_code=201)
async def create_version(
    script_id: str, body: ScriptVersionCreate, session: WriteSession, principal: CurrentPrincipal
) -> ScriptRead:
    script = await service.create_version(session, script_id, body, visible_to=_visible(principal))
    return ScriptRead.model_validate(script)


@router.post("/{script_id}/preview", response_model=ScriptRendered, dependencies=[PreviewRateLimit])
async def preview_script(
    script_id: str, body: ScriptPreview, session: ReadSession, principal: CurrentPrincipal
) -> ScriptRendered:
    script, prompt, first = await service.preview(
        session, script_id, body.variables, visible_to=_visible(principal)
    )
    return ScriptRendered(
        script_id=script.id, version=script.version, prompt=prompt, first_message=first
    )
