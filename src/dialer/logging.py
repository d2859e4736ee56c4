"""Structured logging: JSON lines with stable dotted event names and ids.

Events are named ``domain.what_happened`` (``worker.call_claimed``) and carry
account_id / batch_id / job_id / attempt_id where they apply. Secrets are never
logged: keys named like secrets are masked by a processor.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_HINTS = ("key", "secret", "token", "password", "authorization", "signature", "credential")


def _mask_secrets(
    _: Any, __: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for k in list(event_dict):
        if k != "event" and any(h in k.lower() for h in _SECRET_HINTS) and not k.endswith("_id"):
            event_dict[k] = "***"
    return event_dict


def configure(level: str = "INFO", json: bool = True) -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    # aiosqlite logs every call with its arguments (SQL parameters: contact data, key
    # hashes) at DEBUG: never below INFO, whatever the application's level.
    aiosqlite_log = logging.getLogger("aiosqlite")
    aiosqlite_log.setLevel(
        max(logging.INFO, logging.getLevelNamesMapping().get(level.upper(), logging.INFO))
    )
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _mask_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
