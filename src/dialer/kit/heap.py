"""Keeping the cyclic garbage collector off the long-lived heap.

A server process imports and builds ~150,000 objects at start (SQLAlchemy mappers,
pydantic validators, FastAPI routes) that live as long as the process. Python's oldest
generation collection walks all of them: measured on the API under load, 50-100 ms
pauses every few seconds, which became the p99 of every endpoint. Freezing them once
(after a full collection) moves them to the permanent generation, which the collector
skips; reference counting still frees them, only cycles among them are kept.

A dispatcher worker then allocates and frees rows, statement parameters and events by
the thousand per claim and settlement, nearly all freed by reference counting: with the
default young-generation threshold (700 net allocations) it ran ~50 young collections
a second, and every tenth an older one, ~8 % of its CPU (``gc.callbacks`` in the
10,000-call dispatch bench); at 20,000 it runs a few per minute (~3 %), for the same
peak memory. ``relax_young_collections`` sets that in the worker process, and with
its own thresholds in each spreadsheet reader process (``ingestion/reader.py``).
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


# (young, middle, old) thresholds of a worker process (``gc.set_threshold``).
WORKER_GC_THRESHOLD = (20_000, 10, 10)


def relax_young_collections(thresholds: tuple[int, int, int] = WORKER_GC_THRESHOLD) -> None:
    """Collect the young generation every ``thresholds[0]`` net allocations instead of
    Python's 700: for a process whose churn is freed by reference counting (a dispatcher
    worker, see the module's text; a spreadsheet reader passes its own)."""
    gc.set_threshold(*thresholds)
