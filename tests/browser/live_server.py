"""A real server for browser tests: ``python -m tests.browser.live_server PORT DATA_DIR``.

Migrates a fresh SQLite database, creates an account with balance (its key is written
to DATA_DIR/account_key), a second account, and one user per role (``USERS``, all with
``PASSWORD``) and serves API + dashboard + embedded worker with the
simulated provider, configured from DIALER_* environment variables.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import uvicorn

from dialer.account import service as account_service
from dialer.account import users
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate, UserCreate
from dialer.config import Settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.main import create_app

ADMIN = Principal(is_admin=True)
PASSWORD = "clave-navegador-2026"
# user name -> role; every one with PASSWORD.
USERS = {"supervisora": "supervisor", "operador": "operator", "admin": "admin"}


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
            await account_service.create_account(
                session,
                AccountCreate(account_id="otra-cuenta", account_name="Otra Cuenta", country="CL"),
            )
            for username, role in USERS.items():
                await users.create_user(
                    session,
                    ADMIN,
                    "browser-test",
                    UserCreate(username=username, password=PASSWORD, role=role),
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
