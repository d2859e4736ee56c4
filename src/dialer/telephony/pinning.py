"""Agent versions pinned when a batch starts.

A Retell or Vapi batch runs one version of its agent (Retell ``override_agent_version``,
Vapi ``assistantVersion`` on every call), so that editing or publishing the agent
mid-campaign changes only batches that start later. (ElevenLabs' create takes a branch,
not a version: ``branch_id``, docs/providers.md section 1.) The version is the one current **when the batch's start fires**: the start action
(``POST /batches/{id}/start``, the dashboard's start, a batch created active - the
legacy routes create them so), or, for a scheduled start, its ``start_at``. The worker's
pin task (``pin_started_batches``, every few poll intervals) pins each batch whose start
has fired and has no pin; a call claimed before that pins its batch itself, the same way
(``AccountRoutedProvider._pinned``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement

from dialer.db.session import Database
from dialer.logging import get_logger
from dialer.telephony import config_service
from dialer.telephony.base import Provider, ProviderError
from dialer.telephony.providers.routing import VERSIONED

log = get_logger("dialer.telephony.pinning")

# Starts older than this are left to the first call's pin (a worker down for a day).
LOOKBACK = timedelta(days=1)


def pin_probe(
    *,
    default: str,
    now: datetime | ColumnElement[datetime],
    started_from: datetime | ColumnElement[datetime],
) -> ColumnElement[bool]:
    """True when ``pin_started_batches`` may have a batch to pin; ``started_from`` is
    ``now - LOOKBACK`` (a parameter of its own when ``now`` is one)."""
    return config_service.started_probe(
        sorted(VERSIONED), default=default, started_from=started_from, now=now
    )


async def pin_started_batches(
    db: Database, providers: Callable[[str | None], Provider], *, default: str, now: datetime
) -> int:
    """Pin the batches whose start has fired since :data:`LOOKBACK` and that are not
    pinned yet; how many were pinned. A vendor that cannot tell the version now leaves
    the batch for the next round (its calls cannot go out unpinned meanwhile)."""
    async with db.read() as session:
        rows = await config_service.unpinned_started_batches(
            session, sorted(VERSIONED), default=default, started_from=now - LOOKBACK, now=now
        )
    pinned = 0
    for batch_id, account_id, name, agent_id in rows:
        pin_batch = getattr(providers(name), "pin_batch", None)
        if pin_batch is None:
            continue
        try:
            pin = await pin_batch(account_id, batch_id, agent_id)
        except ProviderError as exc:
            log.warning("provider.agent_version_pin_deferred", batch_id=batch_id, error=str(exc))
            continue
        pinned += pin is not None
    return pinned
