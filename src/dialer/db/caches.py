"""Caches of database rows, owned by the ``Database`` that read them (so by the app or
the worker that opened it), never by a module: two apps on two databases (or a test
that rebuilds its database) never see each other's entries.

Each named cache is a ``cachetools`` cache (bounded, with a TTL where rows may change)
built on first use. Every session a ``Database`` opens carries its ``Caches`` in
``session.info``; ``caches_of(session)`` finds them.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

C = TypeVar("C", bound=MutableMapping[Any, Any])

INFO_KEY = "dialer.caches"


class Caches:
    def __init__(self) -> None:
        self._caches: dict[str, MutableMapping[Any, Any]] = {}

    def get(self, name: str, factory: Callable[[], C]) -> C:
        """The cache called ``name``, built by ``factory`` the first time."""
        cache = self._caches.get(name)
        if cache is None:
            cache = self._caches[name] = factory()
        return cache  # type: ignore[return-value]

    def clear(self) -> None:
        for cache in self._caches.values():
            cache.clear()


def caches_of(session: AsyncSession) -> Caches:
    """The caches of the database ``session`` belongs to (a session opened some other
    way gets caches of its own: correct, only not shared)."""
    caches = session.info.get(INFO_KEY)
    if caches is None:
        caches = session.info[INFO_KEY] = Caches()
    return caches
