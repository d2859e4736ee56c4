"""Dynamic variables sent to the voice agent for one job. Pure."""

from __future__ import annotations

from typing import Any


def job_variables(
    *,
    contact_name: str | None,
    dni: str | None,
    payload: dict[str, Any],
    template_vars: list[str] | None = None,
) -> dict[str, str]:
    """Flatten a job's contact and payload into string variables for the provider."""
    out: dict[str, str] = {}
    if contact_name:
        out["nombre"] = contact_name
    if dni:
        out["rut"] = dni
    for k, v in payload.items():
        if v is not None and not isinstance(v, dict | list):
            out[str(k)] = str(v)
    return out
