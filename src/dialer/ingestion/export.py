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
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.billing.pricing import to_display
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.job.outcomes import (
    CURRENCY_EXPONENT,
    Outcome,
    ParseError,
    analysis_fields,
    outcome_from_json,
    parse_amount,
    parse_outcome,
)
from dialer.job.states import ANSWERED
from dialer.models import Account, Batch, CallAttempt, Job, PlanType, Promise

PAGE = 2000

COLUMNS = (
    "row",
    "job_id",
    "contact_name",
    "dni",
    "phones",
    "email",
    "amount",
    "amount_original",
    "paid_amount",
    "currency",
    "instalments",
    "instalments_detail",
    "fecha_limite",
    "status",
    "attempts",
    "last_outcome",
    "business_result",
    "promise_date",
    "promise_amount",
    "promise_method",
    "promise_status",
    "callback_at",
    "last_payment_on",
    "needs_review",
    "recording_url",
    "minutes",
    "cost",
    "completed_at",
    # The provider's own report of the job's last attempt that has one.
    "provider_cost",
    "collected_variables",
    "timezone",
    "region",
    "place_source",
)

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_HARMLESS = re.compile(r"^[+\-]?[\d\s+\-.,/()]*\d[\d\s+\-.,/()]*$")


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
    timezone: str = ""  # the batch's zone, for jobs whose debtor is placed in it


async def export_target(session: AsyncSession, principal: Principal, batch_id: str) -> ExportTarget:
    """The batch to export, or NotFound (also for another account's batch)."""
    row = (
        await session.execute(
            select(
                Batch.id,
                Batch.name,
                Batch.account_id,
                Account.plan_type,
                Batch.call_settings,
                Account.timezone,
            )
            .join(Account, Account.id == Batch.account_id)
            .where(Batch.id == batch_id)
        )
    ).first()
    if row is None or not principal.can_see(row.account_id):
        raise NotFound(f"batch '{batch_id}' not found", field="batch_id")
    return ExportTarget(
        batch_id=row.id,
        batch_name=row.name,
        plan=row.plan_type,
        timezone=str((row.call_settings or {}).get("timezone") or row.timezone),
    )


async def _recordings(session: AsyncSession, job_ids: list[str]) -> dict[str, str]:
    """Each job's latest recording link."""
    rows = await session.execute(
        select(CallAttempt.job_id, CallAttempt.recording_url)
        .where(CallAttempt.job_id.in_(job_ids), CallAttempt.recording_url.is_not(None))
        .order_by(CallAttempt.job_id, CallAttempt.number)
    )
    return {job_id: str(url) for job_id, url in rows}


async def _provider_reports(
    session: AsyncSession, job_ids: list[str]
) -> dict[str, tuple[str | None, str | None]]:
    """Each job's latest provider cost and collected variables, as export text."""
    rows = await session.execute(
        select(CallAttempt.job_id, CallAttempt.provider_cost, CallAttempt.collected_variables)
        .where(
            CallAttempt.job_id.in_(job_ids),
            (CallAttempt.provider_cost.is_not(None))
            | (CallAttempt.collected_variables.is_not(None)),
        )
        .order_by(CallAttempt.job_id, CallAttempt.number)
    )
    out: dict[str, tuple[str | None, str | None]] = {}
    for job_id, cost, collected in rows:
        cost_text = (
            f"{cost['amount']} {cost.get('unit', '')}".strip()
            if isinstance(cost, dict) and cost.get("amount") is not None
            else None
        )
        collected_text = (
            json.dumps(collected, ensure_ascii=False, sort_keys=True) if collected else None
        )
        out[job_id] = (cost_text, collected_text)
    return out


async def _page(
    session: AsyncSession, batch_id: str, after: tuple[int, str] | None
) -> Sequence[Any]:
    # Keyset paging (not OFFSET): each page costs the same however deep the export is.
    rn = Job.row_number
    stmt = (
        select(
            Job.id, rn, Job.contact_name, Job.dni, Job.phones, Job.email, Job.payload,
            Job.status, Job.attempts, Job.last_outcome, Job.business_result,
            Job.billed_seconds, Job.cost_units, Job.completed_at, Job.result,
            Job.timezone, Job.region, Job.place_source,
        )
        .where(Job.batch_id == batch_id)
        .order_by(rn, Job.id)
        .limit(PAGE)
    )  # fmt: skip
    if after is not None:
        stmt = stmt.where(tuple_(rn, Job.id) > tuple_(after[0], after[1]))
    return (await session.execute(stmt)).all()


@dataclass(frozen=True)
class Answered:
    """A job's last answered attempt: what the agent reported, and when."""

    extracted: dict[str, Any]
    result: dict[str, Any] | None
    ended_at: datetime | None


async def _answered(session: AsyncSession, job_ids: list[str]) -> dict[str, Answered]:
    """Each job's last answered attempt."""
    rows = await session.execute(
        select(CallAttempt.job_id, CallAttempt.extracted, CallAttempt.result, CallAttempt.ended_at)
        .where(CallAttempt.job_id.in_(job_ids), CallAttempt.outcome.in_([str(o) for o in ANSWERED]))
        .order_by(CallAttempt.job_id, CallAttempt.number)
    )
    return {r[0]: Answered(r[1] or {}, r[2], r[3]) for r in rows}


async def _promise_status(session: AsyncSession, job_ids: list[str]) -> dict[str, str]:
    """The status of each job's latest promise (open, kept, broken)."""
    rows = await session.execute(
        select(Promise.job_id, Promise.status)
        .where(Promise.job_id.in_(job_ids), Promise.status != "superseded")
        .order_by(Promise.job_id, Promise.created_at)
    )
    return {job_id: status for job_id, status in rows}


def _money(amount: object, currency: str) -> int | float | None:
    """A smallest-unit integer as a number in the main unit (CLP 4025990, ARS 1234.5)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        return None
    exp = CURRENCY_EXPONENT.get(currency, 0)
    return amount if exp == 0 else round(amount / 10**exp, exp)


def _number(value: object) -> object:
    """Payload amounts as numbers (never the text a spreadsheet cannot sum)."""
    if isinstance(value, str):
        try:
            return parse_amount(value, "CLP")[0]
        except ParseError:
            return value
    return value


def _outcome(answered: Answered | None, result: dict[str, Any], currency: str) -> Outcome:
    """The job's structured result; read from the agent's fields for older calls."""
    stored = result.get("outcome") or (answered.result if answered else None)
    if stored:
        return outcome_from_json(stored)
    if answered is None or not answered.extracted:
        return outcome_from_json(None)
    at = answered.ended_at or datetime.now(UTC)
    return parse_outcome(
        analysis_fields({"extracted": answered.extracted}), call_at=at, tz=UTC, currency=currency
    )


def _instalments(payload: dict[str, Any]) -> tuple[object, str | None]:
    items = payload.get("instalments")
    count = payload.get("cuotas")
    if not isinstance(items, list):
        return count, None
    parts = []
    for i in items:
        if isinstance(i, dict):
            parts.append(
                " ".join(str(x) for x in (i.get("number"), i.get("amount"), i.get("due_date"))
                         if x is not None)
            )  # fmt: skip
    return (count if count is not None else len(items)), "; ".join(parts) or None


async def rows(db: Database, target: ExportTarget) -> AsyncIterator[list[object]]:
    """The export rows (neutralised), page by page, each page in a short read transaction."""
    after: tuple[int, str] | None = None
    while True:
        async with db.read() as session:
            page = await _page(session, target.batch_id, after)
            if not page:
                return
            ids = [r.id for r in page]
            answered = await _answered(session, ids)
            promise_status = await _promise_status(session, ids)
            recordings = await _recordings(session, ids)
            reports = await _provider_reports(session, ids)
        for r in page:
            payload = r.payload or {}
            currency = str(payload.get("currency") or "CLP")
            outcome = _outcome(answered.get(r.id), r.result or {}, currency)
            promise, callback = outcome.promise, outcome.callback
            count, detail = _instalments(payload)
            values: list[object] = [
                r.row_number,
                r.id,
                r.contact_name,
                r.dni,
                " / ".join(r.phones or []),
                r.email,
                _number(payload.get("amount")),
                _number(payload.get("amount_original", payload.get("amount"))),
                _money(payload.get("paid_amount", 0), currency),
                currency,
                count,
                detail,
                payload.get("fecha_limite"),
                str(r.status),
                r.attempts,
                r.last_outcome,
                r.business_result,
                promise.date.isoformat() if promise and promise.date else None,
                _money(promise.amount, promise.currency or currency) if promise else None,
                promise.method if promise else None,
                promise_status.get(r.id),
                (
                    callback.at.isoformat()
                    if callback.at
                    else callback.date.isoformat()
                    if callback.date
                    else None
                )
                if callback
                else None,
                payload.get("last_payment_on"),
                "yes" if outcome.needs_review else None,
                recordings.get(r.id),
                round(r.billed_seconds / 60, 2),
                to_display(target.plan, r.cost_units),
                r.completed_at.isoformat() if r.completed_at else None,
                *reports.get(r.id, (None, None)),
                r.timezone or (target.timezone if r.place_source else None),
                r.region,
                r.place_source,
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
