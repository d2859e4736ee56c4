"""Keeping the cyclic garbage collector off the long-lived heap.

A server process imports and builds ~150,000 objects at start (SQLAlchemy mappers,
pydantic validators, FastAPI routes) that live as long as the process. Python's oldest
generation collection walks all of them: measured on the API under load, 50-100 ms
pauses every few seconds, which became the p99 of every endpoint. Freezing them once
(after a full collection) moves them to the permanent generation, which the collector
skips; reference counting still frees them, only cycles among them are kept.
"""

from __future__ import annotations

import gc

from sqlalchemy.orm import configure_mappers

_settled = False


def settle_heap() -> None:
    """Build what is built lazily, collect once, then freeze what is alive. Once per
    process: later calls (an app created again in the same process) do nothing."""
    global _settled
    if _settled:
        return
    _settled = True
    configure_mappers()
    gc.collect()
    gc.freeze()
