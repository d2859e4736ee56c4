"""A small per-process cache whose entries expire after a fixed time.

Monotonic time: this is not business time, so the injectable clock does not move it.
Bounded crudely: when full it starts over, and the next lookups refill it.
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """key -> value for ``ttl_s`` seconds, at most ``max_entries`` entries."""

    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl_s, value)

    def discard(self, key: K) -> None:
        """Forget ``key`` now (e.g. a revoked credential)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
