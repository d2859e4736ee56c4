"""A batch's rules as the dispatcher applies them: its validated call settings and its
calling schedule, from the stored ``call_settings`` and the account's timezone/country."""

from __future__ import annotations

from typing import Any

from dialer.batch.settings import CallSettings, resolve_settings
from dialer.batch.windows import Schedule, schedule_for

_settings_cache: dict[tuple[str, str], tuple[CallSettings, Schedule]] = {}


def batch_rules(
    batch_id: str, call_settings: dict[str, Any], *, timezone: str, country: str | None
) -> tuple[CallSettings, Schedule]:
    """The validated settings and calling schedule of a batch (cached by content)."""
    # Parsing call_settings and building the schedule is pure; cache by content so the
    # claim loop does not re-validate the same JSON every poll.
    key = (batch_id, repr(sorted(call_settings.items())) + timezone + (country or ""))
    hit = _settings_cache.get(key)
    if hit is None:
        settings = resolve_settings(call_settings, account_timezone=timezone)
        schedule = schedule_for(settings, default_timezone=timezone, country=country)
        if len(_settings_cache) > 4096:
            _settings_cache.clear()
        hit = _settings_cache[key] = (settings, schedule)
    return hit
