"""Public identifiers."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def batch_id(at: datetime) -> str:
    """``batch-20251015-abc123``: sortable by day, short enough to read aloud."""
    return f"batch-{at:%Y%m%d}-{secrets.token_hex(3)}"


def account_id() -> str:
    return f"acc-{secrets.token_hex(5)}"
