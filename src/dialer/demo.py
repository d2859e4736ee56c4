"""``dialer demo``: the product with demo data, in one command.

Migrates the database, makes sure a demo account with balance exists (its API key is
kept in ``DATA_DIR/demo_api_key``) with two dashboard users, ``supervisor`` and
``operador`` (random passwords kept in ``DATA_DIR/demo_users`` and printed), imports the sample Chilean spreadsheet as a batch
whose calling window is open right now, and serves API + dashboard + worker with the
simulated provider. Running it again reuses the account, key and open batch.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account import service as account_service
from dialer.account import users
from dialer.account.auth import Principal
from dialer.account.schemas import AccountCreate, UserCreate, UserUpdate
from dialer.batch import service as batch_service
from dialer.batch.settings import WEEKDAYS, CallSettings
from dialer.config import Settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.ingestion import service as ingestion_service
from dialer.ingestion.samples import write_sample_chile
from dialer.ingestion.schemas import ImportOptions
from dialer.main import create_app, run_server

DEMO_ACCOUNT_ID = "demo-cobranzas"
DEMO_ROWS = 60
ADMIN = Principal(is_admin=True)


DEMO_SUPERVISOR = "supervisor"
DEMO_OPERATOR = "operador"


@dataclass(frozen=True)
class DemoData:
    account_id: str
    api_key: str
    batch_id: str
    batch_created: bool
    # Dashboard log-ins: user name -> password (kept in DATA_DIR/demo_users).
    users: dict[str, str]


def demo_call_settings() -> CallSettings:
    """Open every day, all day, in the account's timezone, so calls start at once.

    Retries come back after a few minutes instead of hours, so a visitor sees
    the unreachable contacts retried while watching.
    """
    return CallSettings.model_validate(
        {
            "allowed_call_hours": {"start": "00:00", "end": "24:00"},
            "allowed_weekdays": list(WEEKDAYS),
            "retry_settings": {"max_attempts": 3, "retry_delay_hours": 0.05},
            "max_concurrent_calls": 8,
            "compliance_profile": "none",
        }
    )


def _read_key(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_key(path: Path, key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key + "\n")
    path.chmod(0o600)


async def seed_demo(settings: Settings) -> DemoData:
    """Create (or find) the demo account, its key and an open sample batch. Idempotent.

    Runs once at startup, before serving: the few small file operations may block.
    """
    data_dir = Path(settings.DATA_DIR)
    key_file = data_dir / "demo_api_key"
    db = Database(settings.DATABASE_URL)
    try:
        async with db.write() as session:
            key: str | None = None
            try:
                await account_service.get_account(session, ADMIN, DEMO_ACCOUNT_ID)
                key = _read_key(key_file)
                if key is None:
                    created_key = await account_service.create_api_key(
                        session, ADMIN, DEMO_ACCOUNT_ID, "demo"
                    )
                    key = created_key.api_key
            except NotFound:
                _account, key = await account_service.create_account(
                    session,
                    AccountCreate(
                        account_id=DEMO_ACCOUNT_ID,
                        account_name="Cobranzas Demo SpA",
                        contact_name="Operador Demo",
                        contact_email="demo@example.cl",
                        country="CL",
                        plan_type="minutes_based",
                        max_concurrent_calls=10,
                        initial_minutes=5000,
                    ),
                )
            _write_key(key_file, key)
            logins = await _demo_users(session, data_dir / "demo_users")

        async with db.write() as session:
            open_batches, _ = await batch_service.list_batches(
                session,
                ADMIN,
                account_id=DEMO_ACCOUNT_ID,
                is_active=True,
                status=None,
                limit=1,
                skip=0,
            )
            if open_batches:
                return DemoData(DEMO_ACCOUNT_ID, key, open_batches[0].id, False, logins)
            sample = write_sample_chile(data_dir / "demo_cartera.xlsx", DEMO_ROWS, True)
            created = await ingestion_service.create_import(
                session,
                ADMIN,
                ImportOptions(
                    account_id=DEMO_ACCOUNT_ID,
                    batch_name="Demo cobranza Chile",
                    batch_description="Planilla de ejemplo con deudores chilenos",
                    call_settings=demo_call_settings(),
                    dias_fecha_limite=7,
                ),
                sample,
                filename=sample.name,
            )
            return DemoData(DEMO_ACCOUNT_ID, key, created.batch_id, True, logins)
    finally:
        await db.dispose()


async def _demo_users(session: AsyncSession, path: Path) -> dict[str, str]:
    """A supervisor and an operator with random passwords, created once and remembered
    in ``path`` (mode 0600) so every run prints the same log-ins."""
    known = _read_users(path)
    existing = {u.username for u in await users.list_users(session, ADMIN, DEMO_ACCOUNT_ID)}
    for name, role, full_name in (
        (DEMO_SUPERVISOR, "supervisor", "Supervisora Demo"),
        (DEMO_OPERATOR, "operator", "Operador Demo"),
    ):
        if name in existing and name in known:
            continue
        password = known.get(name) or secrets.token_urlsafe(9)
        if name in existing:  # the file was lost: set a new password
            user = next(
                u
                for u in await users.list_users(session, ADMIN, DEMO_ACCOUNT_ID)
                if u.username == name
            )
            await users.update_user(
                session, ADMIN, DEMO_ACCOUNT_ID, user.id, UserUpdate(password=password)
            )
        else:
            await users.create_user(
                session,
                ADMIN,
                DEMO_ACCOUNT_ID,
                UserCreate(username=name, password=password, role=role, full_name=full_name),
            )
        known[name] = password
    _write_users(path, known)
    return known


def _read_users(path: Path) -> dict[str, str]:
    known: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, password = line.partition(" ")
            if name and password:
                known[name] = password
    return known


def _write_users(path: Path, known: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)  # before the passwords go in
    path.write_text("".join(f"{n} {p}\n" for n, p in known.items()))


def run_demo(settings: Settings, *, host: str, port: int, console: Console) -> str | None:
    """Migrate, seed the demo data, then serve API + dashboard + embedded worker (see
    ``main.run_server``: the failure that stopped it, if any)."""
    migrate_database(settings)
    demo = asyncio.run(seed_demo(settings))
    application = create_app(settings, embedded_worker=True)
    url = f"http://{host}:{port}"
    verb = "imported" if demo.batch_created else "reusing"
    console.print(f"[green]demo account[/] {demo.account_id}; {verb} batch {demo.batch_id}")
    console.print(f"Dashboard:  [bold]{url}/dashboard/[/]")
    for name, password in demo.users.items():
        console.print(f"  log in as [bold]{name}[/] / password [bold]{password}[/]")
    console.print(
        f"Demo API key, for machines (also in {Path(settings.DATA_DIR) / 'demo_api_key'}):"
    )
    console.print(f"  [bold]{demo.api_key}[/]")
    console.print(f"Live batch: {url}/dashboard/batches/{demo.batch_id}   API docs: {url}/docs")
    console.print(f"Simulated calls at x{settings.SIM_SPEEDUP:g} speed. Ctrl+C to stop.")
    return run_server(application, host=host, port=port)
