"""Command line: ``dialer serve | worker | migrate | create-account | import | demo``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from dialer.account import service as account_service
from dialer.account.schemas import AccountCreate
from dialer.config import get_settings
from dialer.db.migrate import migrate_database
from dialer.db.session import Database
from dialer.demo import run_demo
from dialer.ingestion.cli import run_import
from dialer.main import create_app, run_server
from dialer.worker.runner import run_worker_process

app = typer.Typer(no_args_is_help=True, help="dialer: outbound voice-AI call campaigns.")
console = Console()
err_console = Console(stderr=True)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    settings = get_settings()
    migrate_database(settings)
    console.print(f"[green]database at head[/] ({settings.DATABASE_URL.split('@')[-1]})")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: Annotated[bool, typer.Option(help="Run the dispatcher in the same process")] = True,
    auto_migrate: bool = True,
) -> None:
    """Run the API + dashboard (and, by default, a worker in the same process). If the
    embedded worker dies, the process stops and exits 1."""
    settings = get_settings()
    if auto_migrate:
        migrate_database(settings)
    application = create_app(settings, embedded_worker=worker)
    console.print(
        f"dialer listening on http://{host}:{port}  (dashboard: /dashboard, API docs: /docs)"
    )
    _exit_on_failure(run_server(application, host=host, port=port))


def _exit_on_failure(failure: str | None) -> None:
    if failure is not None:
        err_console.print(f"[red]dialer stopped:[/] {failure}")
        raise typer.Exit(code=1)


@app.command("worker")
def worker_cmd(
    concurrency: Annotated[
        int | None, typer.Option(help="Simultaneous calls in this process")
    ] = None,
) -> None:
    """Run a dispatcher worker (any number, on any machine sharing the database)."""
    settings = get_settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"WORKER_CONCURRENCY": concurrency})
    asyncio.run(run_worker_process(settings))


@app.command("create-account")
def create_account(
    name: str,
    country: Annotated[str, typer.Option(help="CL or AR")] = "CL",
    plan: Annotated[
        str, typer.Option(help="minutes_based, credit_based or unlimited")
    ] = "minutes_based",
    minutes: Annotated[int, typer.Option(help="Initial minutes (minutes plans)")] = 0,
    credits: Annotated[int, typer.Option(help="Initial credits (credit plans)")] = 0,
    max_concurrent_calls: int = 10,
) -> None:
    """Create an account and print its API key (shown once)."""
    settings = get_settings()

    async def _run() -> tuple[Any, str]:
        db = Database(settings.DATABASE_URL)
        try:
            async with db.write() as session:
                account, key = await account_service.create_account(
                    session,
                    AccountCreate(
                        account_name=name,
                        country=country,
                        plan_type=plan,
                        max_concurrent_calls=max_concurrent_calls,
                        initial_minutes=minutes or None,
                        initial_credits=credits or None,
                    ),
                )
            return account, key
        finally:
            await db.dispose()

    account, key = asyncio.run(_run())
    console.print(f"account [bold]{account.id}[/] created")
    console.print(f"API key (store it now, it is not shown again): [bold]{key}[/]")


@app.command("import")
def import_file(
    file: Path,
    account: Annotated[str, typer.Option("--account", help="Account id")],
    name: Annotated[str | None, typer.Option(help="Batch name (default: file name)")] = None,
    country: str | None = None,
    processing_type: str = "basic",
    allow_duplicates: bool = False,
    call_settings: Annotated[str | None, typer.Option(help="call_settings as JSON")] = None,
    dias_fecha_limite: int | None = None,
    dias_fecha_maxima: int | None = None,
) -> None:
    """Import a spreadsheet into a new batch, with a progress bar."""
    run_import(
        get_settings(),
        file=file,
        account_id=account,
        name=name,
        country=country,
        processing_type=processing_type,
        allow_duplicates=allow_duplicates,
        call_settings=call_settings,
        dias_fecha_limite=dias_fecha_limite,
        dias_fecha_maxima=dias_fecha_maxima,
        console=console,
    )


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    speedup: Annotated[float, typer.Option(help="Simulated call speed-up")] = 20.0,
) -> None:
    """Run the product with a demo account and a sample Chilean batch (SQLite, simulated calls)."""
    os.environ.setdefault("DIALER_SIM_SPEEDUP", str(speedup))
    get_settings.cache_clear()
    _exit_on_failure(run_demo(get_settings(), host=host, port=port, console=console))


if __name__ == "__main__":
    app()
