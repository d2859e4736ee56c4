"""The campaign settings form: stored ``call_settings`` <-> form fields, and validation
errors placed beside the field they name. Pure.

Every input is named after the setting's path in ``call_settings`` (``retry_settings.
max_attempts``, ``collections.voicemail.action`` ...), so an error's location names the
input it belongs to. Values go to the same ``CallSettings`` model the API validates
with, as the strings the browser sent: the rules and the error texts are the API's.

Calling hours are one row per weekday (allowed, from, to). The same hours on every
allowed day are stored as one window (as the API's ``{"start", "end"}``); different
hours as per-weekday windows, closed days as null.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from dialer.batch.settings import WEEKDAYS, CallSettings, HoursWindow

RETRY_OUTCOMES = ("no_answer", "busy", "voicemail", "failed")

# Inputs whose empty value means "not set" (null in the API).
_OPTIONAL = (
    "timezone",
    "holiday_country",
    "max_calls_per_contact_per_day",
    "max_calls_per_contact_per_week",
    "ring_timeout_s",
    "collections.voicemail.action",
    "collections.voicemail.message",
    *(f"retry_settings.per_outcome.{o}.delay_hours" for o in RETRY_OUTCOMES),
)
_REQUIRED = (
    "retry_settings.max_attempts",
    "retry_settings.retry_delay_hours",
    "max_concurrent_calls",
    "max_call_duration_s",
    "compliance_profile",
    "collections.max_callbacks",
    "collections.broken_promise.grace_days",
)
CHECKBOXES = (
    "skip_holidays",
    "collections.callbacks",
    "collections.broken_promise.follow_up",
    "collections.voicemail.retry_other_band",
    *(f"retry_settings.per_outcome.{o}.retry" for o in RETRY_OUTCOMES),
    *(f"retry_settings.per_outcome.{o}.next_phone_first" for o in RETRY_OUTCOMES),
)


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = out
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value


def _get(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for p in path.split("."):
        if not isinstance(node, Mapping) or p not in node:
            return None
        node = node[p]
    return node


def _text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _weekdays(form: Mapping[str, Any]) -> list[str]:
    getlist = getattr(form, "getlist", None)
    values = getlist("allowed_weekdays") if getlist else form.get("allowed_weekdays") or []
    return [v for v in values if isinstance(v, str)]


def settings_from_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The ``call_settings`` the form asks for, as the API would receive them (not yet
    validated: ``CallSettings`` does that, with the API's messages)."""
    raw: dict[str, Any] = {}
    days = _weekdays(form)
    raw["allowed_weekdays"] = days
    windows = {
        d: (_text(form, f"hours.{d}.start"), _text(form, f"hours.{d}.end")) for d in WEEKDAYS
    }
    open_windows = {windows[d] for d in days if d in windows}
    if len(open_windows) == 1:
        start, end = open_windows.pop()
        raw["allowed_call_hours"] = {"start": start, "end": end}
    elif open_windows:
        raw["allowed_call_hours"] = {
            d: ({"start": windows[d][0], "end": windows[d][1]} if d in days else None)
            for d in WEEKDAYS
        }
    for name in _REQUIRED:
        _put(raw, name, _text(form, name))
    for name in _OPTIONAL:
        value = _text(form, name)
        _put(raw, name, value or None)
    for name in CHECKBOXES:
        _put(raw, name, name in form)
    return raw


def form_values(settings: CallSettings) -> dict[str, Any]:
    """The form's inputs filled from stored settings (what the page shows first)."""
    data = settings.model_dump(mode="json")
    values: dict[str, Any] = {"allowed_weekdays": list(settings.allowed_weekdays)}
    for idx, d in enumerate(WEEKDAYS):
        hours = settings.allowed_call_hours
        window = hours if isinstance(hours, HoursWindow) else hours.get(d)
        if window is None:  # a closed day offers the usual window when it is ticked
            window = settings.hours_for(idx) or HoursWindow()
        values[f"hours.{d}.start"] = window.start
        values[f"hours.{d}.end"] = window.end
    for name in (*_REQUIRED, *_OPTIONAL):
        value = _get(data, name)
        values[name] = "" if value is None else _plain(value)
    for name in CHECKBOXES:
        values[name] = bool(_get(data, name))
    return values


def _plain(value: Any) -> str:
    """3.0 -> '3', 2.5 -> '2.5' (numbers as a person types them)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def submitted_values(form: Mapping[str, Any]) -> dict[str, Any]:
    """The form's inputs as sent, to show them again beside their errors."""
    values: dict[str, Any] = {"allowed_weekdays": _weekdays(form)}
    for d in WEEKDAYS:
        values[f"hours.{d}.start"] = _text(form, f"hours.{d}.start")
        values[f"hours.{d}.end"] = _text(form, f"hours.{d}.end")
    for name in (*_REQUIRED, *_OPTIONAL):
        values[name] = _text(form, name)
    for name in CHECKBOXES:
        values[name] = name in form
    return values


_FIELD_PREFIX = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): ")
_TAGS = ("single", "per_weekday")


def input_of(field: str) -> str:
    """The form input (or group) an error's field belongs to: the hours table rows are
    ``hours`` / ``hours.<day>``, the rest their own path."""
    if field == "allowed_call_hours":
        return "hours"
    if field.startswith("allowed_call_hours."):
        day = field.split(".")[1]
        return f"hours.{day}" if day in WEEKDAYS else "hours"
    return field


def field_errors(exc: ValidationError, where: str = "call_settings") -> dict[str, str]:
    """``{input: message}`` of a validation error, every error with the API's text.

    A compliance profile's refusal is raised for the whole settings and names its field
    at the start of the message (``allowed_weekdays: 'sun' is allowed ...``)."""
    out: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if str(p) not in _TAGS]
        if loc and loc[0] == where:
            loc = loc[1:]
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        field = ".".join(loc)
        if not field and (m := _FIELD_PREFIX.match(msg)):
            field = m[1]
        out.setdefault(input_of(field) if field else "", msg)
    return out
