"""The script a batch's calls use, as the dispatcher sees it: cached by the database's
owner (``db/caches.py``: the worker's or the app's ``Database``).

A pinned script version never changes (versions are immutable rows), so it is read once
and kept (least recently used entries go first). A batch that pinned nothing uses the account's default script for
its ``processing_type`` when the account already has one; that lookup is cached per
batch for a short while only, because the account may add a default version or create
the default later. The dispatcher never creates scripts.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import LRUCache, TTLCache
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.caches import caches_of
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


def _pinned_cache() -> LRUCache[tuple[str, int | None], CallScript | None]:
    return LRUCache(maxsize=_MAX_ENTRIES)


def _defaults_cache() -> TTLCache[str, CallScript | None]:
    return TTLCache(maxsize=_MAX_ENTRIES, ttl=DEFAULT_LOOKUP_TTL)


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
    caches = caches_of(session)
    if script_id is not None:
        _pinned = caches.get("script.pinned", _pinned_cache)
        key = (script_id, script_version)
        if key in _pinned:
            return _pinned[key]
        row = await ScriptRepository.from_session(session).get(script_id)
        found = (
            CallScript(row.id, row.version, tuple(row.variables or ()), row.variable_set)
            if row is not None and row.account_id == account_id
            else None
        )
        _pinned[key] = found
        return found

    default = DEFAULTS.get(processing_type)
    if default is None:
        return None
    # Keyed by batch (ids are unique), so one lookup serves the batch for the TTL.
    _defaults = caches.get("script.defaults", _defaults_cache)
    if batch_id in _defaults:
        return _defaults[batch_id]
    latest = await ScriptRepository.from_session(session).latest(account_id, default.name)
    script = (
        CallScript(latest.id, latest.version, tuple(latest.variables or ()), latest.variable_set)
        if latest is not None
        else None
    )
    _defaults[batch_id] = script
    return script
