"""Bring a database to the latest schema with the project's Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from dialer.config import Settings

# src/dialer/db/migrate.py -> the checkout (alembic.ini, migrations/)
_ROOT = Path(__file__).resolve().parents[3]


def migrate_database(settings: Settings) -> None:
    """Bring the database to the latest schema (idempotent)."""
    ini = _ROOT / "alembic.ini"
    cfg = Config(str(ini)) if ini.exists() else Config()
    cfg.set_main_option("script_location", str(_ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.DATABASE_URL
    command.upgrade(cfg, "head")
