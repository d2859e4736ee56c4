"""``dialer import FILE --account ...``: the same service as the API, with a progress bar."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dialer.account.auth import Principal
from dialer.config import Settings
from dialer.db.session import Database
from dialer.errors import AppError
from dialer.ingestion import service
from dialer.ingestion.schemas import CreateResponse, ImportOptions


def run_import(
    settings: Settings,
    *,
    file: Path,
    account_id: str,
    name: str | None,
    country: str | None,
    processing_type: str,
    allow_duplicates: bool,
    call_settings: str | None,
    dias_fecha_limite: int | None,
    dias_fecha_maxima: int | None,
    console: Console,
) -> CreateResponse | None:
    """Import ``file`` into a new batch of ``account_id``; prints the report. None on failure."""
    if not file.is_file():
        console.print(f"[red]no such file:[/] {file}")
        raise SystemExit(2)
    try:
        options = ImportOptions(
            account_id=account_id,
            batch_name=name,
            processing_type=processing_type,
            country=country.upper() if country else None,
            allow_duplicates=allow_duplicates,
            call_settings=json.loads(call_settings) if call_settings else None,
            dias_fecha_limite=dias_fecha_limite,
            dias_fecha_maxima=dias_fecha_maxima,
        )
    except (ValidationError, json.JSONDecodeError) as exc:
        console.print(f"[red]invalid options:[/] {exc}")
        raise SystemExit(2) from None

    async def _run() -> CreateResponse:
        db = Database(settings.DATABASE_URL)
        try:
            with Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"importing {file.name}", total=None)

                def progress(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                async with db.write() as session:
                    return await service.create_import(
                        session,
                        Principal(is_admin=True),
                        options,
                        file,
                        filename=file.name,
                        progress=progress,
                    )
        finally:
            await db.dispose()

    try:
        report = asyncio.run(_run())
    except AppError as exc:
        console.print(f"[red]import failed:[/] {exc.message}")
        report_data = exc.extra.get("report")
        if report_data:
            _print_problems(console, report_data.get("errors", []), report_data.get("skipped", []))
        raise SystemExit(1) from None
    c = report.counts
    console.print(
        f"[green]batch {report.batch_id}[/] created: {c.accepted} jobs "
        f"({c.invalid} invalid, {c.duplicates} duplicates, {c.do_not_call} do-not-call, "
        f"{c.empty_rows} empty rows)"
    )
    _print_problems(
        console,
        [e.model_dump() for e in report.errors],
        [s.model_dump() for s in report.skipped],
    )
    return report


def _print_problems(console: Console, errors: list[dict], skipped: list[dict]) -> None:  # type: ignore[type-arg]
    if errors:
        table = Table("row", "column", "error", title="rows with errors (first 20)")
        for e in errors[:20]:
            table.add_row(str(e["row"]), str(e["column"] or ""), e["message"])
        console.print(table)
    if skipped:
        table = Table("row", "reason", "detail", title="skipped rows (first 20)")
        for s in skipped[:20]:
            table.add_row(str(s["row"]), s["reason"], s["message"])
        console.print(table)
