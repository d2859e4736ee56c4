"""Batch results as CSV or XLSX: one row per job, streamed in keyset-paged chunks.

Every text cell is neutralised against formula injection (a contact named
``=HYPERLINK(...)`` must not become a live formula in the operator's Excel): values
starting with ``= + - @`` (or tab / carriage return) get a leading apostrophe. Plain
numbers and phone lists (digits, spaces, ``+ - . , / ( )`` only) are left as they are:
without letters or ``@ = ! |`` they cannot call a function, and ``+56912345678`` must stay
readable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.billing.pricing import to_display
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.job.states import ANSWERED
from dialer.models import Account, Batch, CallAttempt, Job, PlanType

PAGE = 2000

COLUMNS = (
    "row",
    "job_id",
    "contact_name",
    "dni",
    "phones",
    "email",
    "amount",
    "fecha_limite",
    "status",
    "attempts",
    "last_outcome",
    "business_result",
    "promise_date",
    "promise_amount",
    "minutes",
    "cost",
    "completed_at",
)

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_HARMLESS = re.compile(r"^[+\-]?[\d\s+\-.,/()]*\d[\d\s+\-.,/()]*$")
PROMISE_DATE_KEYS = ("promise_date", "promise_to_pay_date", "fecha_promesa", "fecha_compromiso")
PROMISE_AMOUNT_KEYS = (
    "promise_amount",
    "promise_to_pay_amount",
    "monto_promesa",
    "monto_compromiso",
)


def neutralise(value: object) -> object:
    """A cell value that spreadsheet software will not evaluate as a formula."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _HARMLESS.match(value):
        return "'" + value
    return value


@dataclass(frozen=True)
class ExportTarget:
    batch_id: str
    batch_name: str
    plan: PlanType


async def export_target(session: AsyncSession, principal: Principal, batch_id: str) -> ExportTarget:
    """The batch to export, or NotFound (also for another account's batch)."""
    row = (
        await session.execute(
            select(Batch.id, Batch.name, Batch.account_id, Account.plan_type)
            .join(Account, Account.id == Batch.account_id)
            .where(Batch.id == batch_id)
        )
    ).first()
    if row is None or not principal.can_see(row.account_id):
        raise NotFound(f"batch '{batch_id}' not found", field="batch_id")
    return ExportTarget(batch_id=row.id, batch_name=row.name, plan=row.plan_type)


def _first(data: dict[str, Any], keys: Sequence[str]) -> Any:
    for k in keys:
        if data.get(k) not in (None, ""):
            return data[k]
    return None


async def _page(
    session: AsyncSession, batch_id: str, after: tuple[int, str] | None
) -> Sequence[Any]:
    # Keyset paging (not OFFSET): each page costs the same however deep the export is.
    rn = Job.row_number
    stmt = (
        select(
            Job.id, rn, Job.contact_name, Job.dni, Job.phones, Job.email, Job.payload,
            Job.status, Job.attempts, Job.last_outcome, Job.business_result,
            Job.billed_seconds, Job.cost_units, Job.completed_at,
        )
        .where(Job.batch_id == batch_id)
        .order_by(rn, Job.id)
        .limit(PAGE)
    )  # fmt: skip
    if after is not None:
        stmt = stmt.where(tuple_(rn, Job.id) > tuple_(after[0], after[1]))
    return (await session.execute(stmt)).all()


async def _promises(session: AsyncSession, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Extracted fields of each job's last answered attempt."""
    rows = await session.execute(
        select(CallAttempt.job_id, CallAttempt.extracted)
        .where(CallAttempt.job_id.in_(job_ids), CallAttempt.outcome.in_([str(o) for o in ANSWERED]))
        .order_by(CallAttempt.job_id, CallAttempt.number)
    )
    last: dict[str, dict[str, Any]] = {}
    for job_id, extracted in rows:
        last[job_id] = extracted or {}
    return last


async def rows(db: Database, target: ExportTarget) -> AsyncIterator[list[object]]:
    """The export rows (neutralised), page by page, each page in a short read transaction."""
    after: tuple[int, str] | None = None
    while True:
        async with db.read() as session:
            page = await _page(session, target.batch_id, after)
            if not page:
                return
            promises = await _promises(session, [r.id for r in page])
        for r in page:
            extracted = promises.get(r.id, {})
            payload = r.payload or {}
            values: list[object] = [
                r.row_number,
                r.id,
                r.contact_name,
                r.dni,
                " / ".join(r.phones or []),
                r.email,
                payload.get("amount"),
                payload.get("fecha_limite"),
                str(r.status),
                r.attempts,
                r.last_outcome,
                r.business_result,
                _first(extracted, PROMISE_DATE_KEYS),
                _first(extracted, PROMISE_AMOUNT_KEYS),
                round(r.billed_seconds / 60, 2),
                to_display(target.plan, r.cost_units),
                r.completed_at.isoformat() if r.completed_at else None,
            ]
            yield [neutralise(v) for v in values]
        last = page[-1]
        # Jobs created through the JSON API have no row number; they sort first as 0.
        after = (last.row_number if last.row_number is not None else 0, last.id)
        if len(page) < PAGE:
            return


async def csv_stream(
    db: Database, target: ExportTarget, delimiter: str = ","
) -> AsyncIterator[bytes]:
    """CSV bytes, UTF-8 with a BOM so Excel shows accents (Peñalolén) correctly."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield b"\xef\xbb\xbf" + buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    n = 0
    async for values in rows(db, target):
        writer.writerow(["" if v is None else v for v in values])
        n += 1
        if n % 500 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


async def write_xlsx(db: Database, target: ExportTarget, path: Path) -> None:
    """Write the export to ``path``; constant_memory flushes each row to disk as written."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        sheet = workbook.add_worksheet("jobs")
        bold = workbook.add_format({"bold": True})
        sheet.write_row(0, 0, COLUMNS, bold)
        sheet.freeze_panes(1, 0)
        r = 1
        async for values in rows(db, target):
            for c, v in enumerate(values):
                if v is None:
                    continue
                if isinstance(v, str):
                    # write_string: never a formula, whatever the text says.
                    sheet.write_string(r, c, v)
                else:
                    sheet.write(r, c, v)
            r += 1
    finally:
        workbook.close()
