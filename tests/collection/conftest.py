from __future__ import annotations

import pytest

from dialer.config import Settings
from tests.hooks.receiver import receiver

__all__ = ["receiver"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Outbound webhooks go to a live receiver on 127.0.0.1: allowed by the operator setting.
    return settings.model_copy(update={"WEBHOOKS_ALLOW_PRIVATE": True})
