"""Provider registry: a plain dict of factories, built at import, looked up by name.

The registry sits above the adapters: it imports the simulated provider and the
account-routed vendor providers (``providers.routing.BUILDERS``) and lists them; the
adapters never import the registry.
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


def known_providers() -> set[str]:
    return set(_FACTORIES)


class Providers:
    """The provider instances of one app or worker (``app.state.providers``,
    ``Worker.providers``), built on first use with its settings and database. An API
    process with an embedded worker hands it its own, so both use the same instances."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._instances: dict[str, Provider] = {}

    def install(self, name: str, provider: Provider) -> None:
        """Use ``provider`` as ``name`` (tests, embedding)."""
        self._instances[name] = provider

    def get(self, name: str | None) -> Provider:
        """The provider called ``name`` (``settings.PROVIDER`` when None)."""
        name = name or self.settings.PROVIDER
        factory = _FACTORIES.get(name)
        if name == "simulated" and not self.settings.simulated_enabled:
            factory = None  # off in production unless DIALER_SIMULATED_ENABLED
        if factory is None:
            raise NotFound(f"unknown provider '{name}'")
        provider = self._instances.get(name)
        if provider is None:
            provider = self._instances[name] = factory(self.settings, self.db)
        return provider
