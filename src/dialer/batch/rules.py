"""A batch's rules as the dispatcher applies them: its validated call settings and its
calling schedule, from the stored ``call_settings`` and the account's timezone/country."""

from __future__ import annotations

import json
from typing import Any

from cachetools import LRUCache, cached

from dialer.batch.settings import CallSettings, resolve_settings
from dialer.batch.windows import Schedule, schedule_for


def _content_key(
    batch_id: str, call_settings: dict[str, Any], *, timezone: str, country: str | None
) -> tuple[str, str, str | None]:
    # The result depends on the content only (not on which batch asks), so batches with
    # the same settings share one entry.
    return json.dumps(call_settings, sort_keys=True, default=str), timezone, country


# A memo of a pure function (like functools.lru_cache on the window helpers): it holds
# no rows, so it needs no owner; bounded, least recently used entries go first.
@cached(LRUCache(maxsize=4096), key=_content_key)
def batch_rules(
    batch_id: str, call_settings: dict[str, Any], *, timezone: str, country: str | None
) -> tuple[CallSettings, Schedule]:
    """The validated settings and calling schedule of a batch (cached by content), so the
    claim loop does not re-validate the same JSON every poll."""
    settings = resolve_settings(call_settings, account_timezone=timezone)
    schedule = schedule_for(settings, default_timezone=timezone, country=country)
    return settings, schedule
