from __future__ import annotations

from datetime import timedelta

import pytest

from dialer.config import Settings
from tests.fixtures.workers import workers
from tests.hooks.receiver import receiver

__all__ = ["receiver", "workers"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The live receiver listens on 127.0.0.1: the operator setting that allows private
    # addresses is on for these tests (the SSRF tests build apps with it off).
    return settings.model_copy(
        update={"WEBHOOKS_ALLOW_PRIVATE": True, "WEBHOOK_TIMEOUT": timedelta(seconds=0.3)}
    )
