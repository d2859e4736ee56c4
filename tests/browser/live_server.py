"""A real server for browser tests: ``python -m tests.browser.live_server PORT DATA_DIR``.

Migrates a fresh SQLite database, creates an account with balance (its key is written
to DATA_DIR/account_key) and serves API + dashboard + embedded worker with the
simulated provider, configured from DIALER_* environment variables.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from dialer.account import service as account_service
from dialer.account.schemas import AccountCreate
from dialer.cli import migrate_database
from dialer.config import Settings
from dialer.db.session import Database
from dialer.main import create_app


async def _account(settings: Settings) -> str:
    db = Database(settings.DATABASE_URL)
    try:
        async with db.write() as session:
            _acc, key = await account_service.create_account(
                session,
                AccountCreate(
                    account_id="browser-test",
                    account_name="Cobranzas Navegador",
                    country="CL",
                    initial_minutes=10000,
                ),
            )
        return key
    finally:
        await db.dispose()


def main() -> None:
    port, data_dir = int(sys.argv[1]), Path(sys.argv[2])
    settings = Settings()
    migrate_database(settings)
    key = asyncio.run(_account(settings))
    (data_dir / "account_key").write_text(key)
    uvicorn.run(
        create_app(settings, embedded_worker=True),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
