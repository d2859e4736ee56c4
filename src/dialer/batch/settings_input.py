"""Input formats of ``call_settings``, normalised to the one stored (documented) form. Pure.

Two shapes are accepted wherever call settings are:

* the documented one (``allowed_call_hours``, ``allowed_weekdays``, ``retry_settings``,
  ``max_call_duration_s``, ``ring_timeout_s`` ...), and
* the replaced system's worker format, which its clients still send::

      {"allowed_hours": {"start": "09:00", "end": "18:00"},
       "days_of_week": [1, 2, 3, 4, 5],          # ISO weekdays: 1 = Monday ... 7 = Sunday
       "timezone": "America/Santiago",
       "max_attempts": 3, "retry_delay_hours": 24,
       "ring_timeout": 30,                        # seconds
       "max_call_duration": 300}                  # seconds

  Its worker compared ``days_of_week`` with ``datetime.isoweekday()`` (1 = Monday,
  7 = Sunday); some of its client docs wrote Sunday as 0, which ISO never uses, so 0 is
  read as Sunday too. Its batches also carried ``retry_settings.hours_between_attempts``
  as another name for ``retry_delay_hours``.

``normalise`` rewrites the second shape into the first before validation, so the stored
settings (and everything that reads them) know one form only. Giving the same setting in
both spellings with different values is an error that names both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ISO_WEEKDAYS = {1: "mon", 2: "tue", 3: "wed", 4: "thu", 5: "fri", 6: "sat", 7: "sun", 0: "sun"}

# worker-format key -> documented key (top level)
_RENAMED = {
    "allowed_hours": "allowed_call_hours",
    "ring_timeout": "ring_timeout_s",
    "max_call_duration": "max_call_duration_s",
}
# worker-format top-level keys that live under retry_settings in the documented form
_RETRY_KEYS = ("max_attempts", "retry_delay_hours")


def _weekday(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value not in ISO_WEEKDAYS:
        raise ValueError(
            f"days_of_week: {value!r} is not a weekday number (1 = Monday ... 7 = Sunday)"
        )
    return ISO_WEEKDAYS[value]


def _put(out: dict[str, Any], key: str, value: Any, *, source: str) -> None:
    if key in out and out[key] != value:
        raise ValueError(f"{source} and {key} disagree: give one of them")
    out[key] = value


def normalise(raw: Any) -> Any:
    """The documented form of ``raw`` call settings (unchanged when already documented).

    Anything that is not a mapping is returned as is, for the validator to refuse."""
    if not isinstance(raw, Mapping):
        return raw
    out: dict[str, Any] = dict(raw)
    for old, new in _RENAMED.items():
        if old in out:
            _put(out, new, out.pop(old), source=old)
    if "days_of_week" in out:
        days = out.pop("days_of_week")
        if days is not None:
            if not isinstance(days, list):
                raise ValueError("days_of_week must be a list of weekday numbers (1-7)")
            _put(out, "allowed_weekdays", [_weekday(d) for d in days], source="days_of_week")
    retry_in = out.get("retry_settings")
    retry: dict[str, Any] = dict(retry_in) if isinstance(retry_in, Mapping) else {}
    moved = False
    if "hours_between_attempts" in retry:
        _put(retry, "retry_delay_hours", retry.pop("hours_between_attempts"),
             source="retry_settings.hours_between_attempts")  # fmt: skip
        moved = True
    for key in _RETRY_KEYS:
        if key in out:
            _put(retry, key, out.pop(key), source=key)
            moved = True
    if moved and (retry_in is None or isinstance(retry_in, Mapping)):
        out["retry_settings"] = retry
    return out
