"""Provider registry: a plain dict of factories, built at import, looked up by name.

Adapters register themselves with ``register("retell", factory)`` from their module;
``PROVIDER_MODULES`` lists the modules imported on first use so their registrations run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from dialer.config import Settings
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.telephony.base import Provider
from dialer.telephony.simulated import SimulatedProvider

ProviderFactory = Callable[[Settings, Database], Provider]

_FACTORIES: dict[str, ProviderFactory] = {
    "simulated": lambda settings, db: SimulatedProvider(db, settings),
}
# Vendor adapters (telephony/providers/<vendor>.py) call register() when imported.
PROVIDER_MODULES: tuple[str, ...] = ("dialer.telephony.providers.routing",)
_instances: dict[tuple[str, int, int], Provider] = {}
_loaded = False


def register(name: str, factory: ProviderFactory) -> None:
    """Make a provider available under ``name``."""
    _FACTORIES[name] = factory


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in PROVIDER_MODULES:
            importlib.import_module(module)
        _loaded = True


def install(name: str, settings: Settings, db: Database, provider: Provider) -> None:
    """Use ``provider`` as ``name`` for this settings+db (tests, embedding)."""
    _load()
    _instances[(name, id(settings), id(db))] = provider


def known_providers() -> set[str]:
    _load()
    return set(_FACTORIES)


def get_provider(name: str | None, settings: Settings, db: Database) -> Provider:
    """The provider called ``name`` (``settings.PROVIDER`` when None), one per settings+db."""
    _load()
    name = name or settings.PROVIDER
    factory = _FACTORIES.get(name)
    if name == "simulated" and not settings.simulated_enabled:
        factory = None  # off in production unless DIALER_SIMULATED_ENABLED
    if factory is None:
        raise NotFound(f"unknown provider '{name}'")
    key = (name, id(settings), id(db))
    provider = _instances.get(key)
    if provider is None:
        provider = _instances[key] = factory(settings, db)
    return provider
