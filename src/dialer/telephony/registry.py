"""Provider registry: a plain dict of factories, built at import, looked up by name.

The registry sits above the adapters: it imports the simulated provider and the
account-routed vendor providers (``providers.routing.BUILDERS``) and lists them; the
adapters never import the registry. ``register`` adds another (tests, embedding).
"""

from __future__ import annotations

from collections.abc import Callable

from dialer.config import Settings
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.telephony.base import Provider
from dialer.telephony.providers.routing import BUILDERS, AccountRoutedProvider
from dialer.telephony.simulated import SimulatedProvider

ProviderFactory = Callable[[Settings, Database], Provider]


def _routed(name: str) -> ProviderFactory:
    def build(settings: Settings, db: Database) -> Provider:
        return AccountRoutedProvider(name, settings, db)

    return build


_FACTORIES: dict[str, ProviderFactory] = {
    "simulated": lambda settings, db: SimulatedProvider(db, settings),
    **{name: _routed(name) for name in BUILDERS},
}
_instances: dict[tuple[str, int, int], Provider] = {}


def register(name: str, factory: ProviderFactory) -> None:
    """Make a provider available under ``name``."""
    _FACTORIES[name] = factory


def install(name: str, settings: Settings, db: Database, provider: Provider) -> None:
    """Use ``provider`` as ``name`` for this settings+db (tests, embedding)."""
    _instances[(name, id(settings), id(db))] = provider


def known_providers() -> set[str]:
    return set(_FACTORIES)


def get_provider(name: str | None, settings: Settings, db: Database) -> Provider:
    """The provider called ``name`` (``settings.PROVIDER`` when None), one per settings+db."""
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
