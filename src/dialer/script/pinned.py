"""The script a batch's calls use, as the dispatcher sees it: cached in the process.

A pinned script version never changes (versions are immutable rows), so it is read once
per process and kept. A batch that pinned nothing uses the account's default script for
its ``processing_type`` when the account already has one; that lookup is cached per
batch for a short while only, because the account may add a default version or create
the default later. The dispatcher never creates scripts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.script.defaults import DEFAULTS
from dialer.script.repository import ScriptRepository

# How long an unpinned batch keeps using the default script it looked up (seconds).
DEFAULT_LOOKUP_TTL = 60.0
_MAX_ENTRIES = 4096


@dataclass(frozen=True)
class CallScript:
    """What a call needs from its script: which version, and the variables it reads."""

    script_id: str
    version: int
    variables: tuple[str, ...]
    variable_set: str | None = None


_pinned: dict[tuple[str, int | None], CallScript | None] = {}
_defaults: dict[str, tuple[float, CallScript | None]] = {}


def clear_cache() -> None:
    """Forget every cached script (tests that rebuild the database between runs)."""
    _pinned.clear()
    _defaults.clear()


async def script_for_batch(
    session: AsyncSession,
    *,
    batch_id: str,
    account_id: str,
    script_id: str | None,
    script_version: int | None,
    processing_type: str,
) -> CallScript | None:
    """The script a batch's calls use, or None when the batch has none to use.

    ``script_id`` is the exact version the batch pinned at creation. Without one, the
    account's existing default for ``processing_type`` is used; it is never created
    here. At most one query, and none when cached.
    """
    if script_id is not None:
        key = (script_id, script_version)
        if key in _pinned:
            return _pinned[key]
        row = await ScriptRepository.from_session(session).get(script_id)
        found = (
            CallScript(row.id, row.version, tuple(row.variables or ()), row.variable_set)
            if row is not None and row.account_id == account_id
            else None
        )
        if len(_pinned) > _MAX_ENTRIES:
            _pinned.clear()
        _pinned[key] = found
        return found

    default = DEFAULTS.get(processing_type)
    if default is None:
        return None
    # Keyed by batch (ids are unique), so one lookup serves the batch for the TTL.
    dkey = batch_id
    now = time.monotonic()
    hit = _defaults.get(dkey)
    if hit is not None and now - hit[0] < DEFAULT_LOOKUP_TTL:
        return hit[1]
    latest = await ScriptRepository.from_session(session).latest(account_id, default.name)
    script = (
        CallScript(latest.id, latest.version, tuple(latest.variables or ()), latest.variable_set)
        if latest is not None
        else None
    )
    if len(_defaults) > _MAX_ENTRIES:
        _defaults.clear()
    _defaults[dkey] = (now, script)
    return script
