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
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import xlsxwriter  # type: ignore[import-untyped]
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.billing.pricing import to_display
from dialer.compliance import service as compliance_service
from dialer.db.session import Database
from dialer.errors import NotFound
from dialer.job.filters import JobFilter
from dialer.job.outcomes import (
    CURRENCY_EXPONENT,
    Outcome,
    ParseError,
    analysis_fields,
    outcome_from_json,
    parse_amount,
    parse_outcome,
)
from dialer.job.schemas import ComplianceStop
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
    # Why compliance ended the job (compliance.service.job_stops): legal_stop (reason
    # code, note) or do_not_call (the entry's source code; its reason and number).
    "compliance_stop",
    "compliance_stop_reason",
    "compliance_stop_detail",
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
    only: JobFilter = field(default_factory=JobFilter)  # the rows a contact list shows
    account_id: str = ""


@dataclass(frozen=True)
class Localisation:
    """How a person's spreadsheet shows the export (the API's default has none).

    ``headers`` names each column of COLUMNS; ``code(kind, value)`` puts a status,
    outcome, business result or promise status in words (None: keep the code);
    ``decimal_comma`` writes ``1,5`` in CSV cells (Chilean Excel reads ``1.5`` as text);
    ``totals_title`` and ``total_labels`` name the XLSX totals sheet and its lines.
    Times are written in one format, in the debtor's zone (else the batch's).
    """

    headers: Mapping[str, str]
    code: Callable[[str, str], str | None]
    decimal_comma: bool
    sheet_title: str
    totals_title: str
    total_labels: Mapping[str, str]
    date_format: str = "%d-%m-%Y"  # CSV cells; XLSX cells get the matching number format
    datetime_format: str = "%d-%m-%Y %H:%M"


async def export_target(
    session: AsyncSession, principal: Principal, batch_id: str, only: JobFilter | None = None
) -> ExportTarget:
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
        only=only or JobFilter(),
        account_id=row.account_id,
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
    session: AsyncSession, target: ExportTarget, after: tuple[int, str] | None
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
        .where(target.only.where(target.batch_id))
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
        .where(Promise.job_id.in_(job_ids), Promise.status.not_in(("superseded", "withdrawn")))
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


async def records(db: Database, target: ExportTarget) -> AsyncIterator[list[object]]:
    """The export rows as values (dates and times as objects, codes as codes), page by
    page, each page in a short read transaction. Not neutralised: see ``rows``."""
    after: tuple[int, str] | None = None
    while True:
        async with db.read() as session:
            page = await _page(session, target, after)
            if not page:
                return
            ids = [r.id for r in page]
            answered = await _answered(session, ids)
            promise_status = await _promise_status(session, ids)
            recordings = await _recordings(session, ids)
            reports = await _provider_reports(session, ids)
            stops = await compliance_service.job_stops(session, target.account_id, page)
        for r in page:
            payload = r.payload or {}
            currency = str(payload.get("currency") or "CLP")
            outcome = _outcome(answered.get(r.id), r.result or {}, currency)
            promise, callback = outcome.promise, outcome.callback
            count, detail = _instalments(payload)
            yield [
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
                promise.date if promise else None,
                _money(promise.amount, promise.currency or currency) if promise else None,
                promise.method if promise else None,
                promise_status.get(r.id),
                (callback.at or callback.date) if callback else None,
                payload.get("last_payment_on"),
                True if outcome.needs_review else None,
                recordings.get(r.id),
                round(r.billed_seconds / 60, 2),
                to_display(target.plan, r.cost_units),
                r.completed_at,
                *reports.get(r.id, (None, None)),
                r.timezone or (target.timezone if r.place_source else None),
                r.region,
                r.place_source,
                *_stop_cells(stops.get(r.id)),
            ]
        last = page[-1]
        # Jobs created through the JSON API have no row number; they sort first as 0.
        after = (last.row_number if last.row_number is not None else 0, last.id)
        if len(page) < PAGE:
            return


def _stop_cells(stop: ComplianceStop | None) -> tuple[str | None, str | None, str | None]:
    """(kind, reason code, detail) of why compliance ended a job."""
    if stop is None:
        return None, None, None
    if stop.kind == "legal_stop":
        return stop.kind, stop.reason, stop.note
    # The reason first: a cell starting with "+" and text would be neutralised.
    detail = f"{stop.reason} ({stop.phone})" if stop.reason else stop.phone
    return stop.kind, stop.source, detail


def _machine(value: object) -> object:
    """The API's cell: ISO dates and times (with their offset), ``yes`` for a flag."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if value is True:
        return "yes"
    return value


async def rows(db: Database, target: ExportTarget) -> AsyncIterator[list[object]]:
    """The API's export rows (codes, ISO times), neutralised."""
    async for values in records(db, target):
        yield [neutralise(_machine(v)) for v in values]


_COL = {name: i for i, name in enumerate(COLUMNS)}
# Columns holding an internal code, and the kind of code (for Localisation.code).
CODE_COLUMNS = {
    "status": "job_status",
    "last_outcome": "outcome",
    "business_result": "business",
    "promise_status": "promise_status",
    "promise_method": "payment_method",
    "compliance_stop": "stop_kind",
}
MONEY_COLUMNS = ("amount", "amount_original", "paid_amount", "promise_amount")
DATE_COLUMNS = ("fecha_limite", "promise_date", "last_payment_on")
TIME_COLUMNS = ("callback_at", "completed_at")
TZ_COLUMN = _COL["timezone"]


def _as_date(value: object) -> object:
    """A payload date written as ISO text becomes a date; anything else stays."""
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


class _Localiser:
    """Turns ``records`` rows into a person's cells: codes in words, times in the
    debtor's zone (else the batch's) as naive local values, dates as dates."""

    def __init__(self, loc: Localisation, target: ExportTarget) -> None:
        self.loc = loc
        self.zone = ZoneInfo(target.timezone or "UTC")
        self.codes = [(_COL[c], kind) for c, kind in CODE_COLUMNS.items()]
        self.dates = [_COL[c] for c in DATE_COLUMNS]
        self.times = [_COL[c] for c in TIME_COLUMNS]

    def __call__(self, values: list[object]) -> list[object]:
        out = list(values)
        for i, kind in self.codes:
            code = out[i]
            if isinstance(code, str):
                out[i] = self.loc.code(kind, code) or code
        # A legal stop's reason is a stop reason; a do-not-call entry's, its source.
        i = _COL["compliance_stop_reason"]
        reason = out[i]
        if isinstance(reason, str):
            legal = values[_COL["compliance_stop"]] == "legal_stop"
            out[i] = self.loc.code("stop_reason" if legal else "stop_source", reason) or reason
        i = _COL["needs_review"]
        if out[i] is True:
            out[i] = self.loc.code("yes_no", "yes") or "yes"
        for i in self.dates:
            out[i] = _as_date(out[i])
        zone_name = values[TZ_COLUMN]
        zone = ZoneInfo(zone_name) if isinstance(zone_name, str) and zone_name else self.zone
        for i in self.times:
            v = out[i]
            if isinstance(v, datetime):
                out[i] = v.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        return out


class _Totals:
    """What the XLSX totals sheet sums while the rows stream past."""

    def __init__(self) -> None:
        self.contacts = 0
        self.sums = dict.fromkeys((*MONEY_COLUMNS, "minutes", "cost"), 0.0)
        self.promises = 0
        self.by_status: dict[str, int] = {}
        self.by_outcome: dict[str, int] = {}

    def add(self, values: list[object]) -> None:
        self.contacts += 1
        for name in self.sums:
            v = values[_COL[name]]
            if isinstance(v, int | float) and not isinstance(v, bool):
                self.sums[name] += v
        if values[_COL["promise_amount"]] is not None or values[_COL["promise_date"]]:
            self.promises += 1
        for key, table in (("status", self.by_status), ("last_outcome", self.by_outcome)):
            code = str(values[_COL[key]] or "")
            if code:
                table[code] = table.get(code, 0) + 1


def _csv_cell(value: object, loc: Localisation | None) -> object:
    if value is None:
        return ""
    if loc is None:
        return value
    if isinstance(value, datetime):
        return value.strftime(loc.datetime_format)
    if isinstance(value, date):
        return value.strftime(loc.date_format)
    if isinstance(value, float) and loc.decimal_comma:
        return f"{value:.2f}".rstrip("0").rstrip(".").replace(".", ",")
    return value


async def csv_stream(
    db: Database, target: ExportTarget, delimiter: str = ",", loc: Localisation | None = None
) -> AsyncIterator[bytes]:
    """CSV bytes, UTF-8 with a BOM so Excel shows accents (Peñalolén) correctly.

    Without ``loc``: the API's shape (English column codes, ISO times). With it: the
    localised headers, codes in words, one date format and (es-CL) decimal commas.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([loc.headers[c] for c in COLUMNS] if loc else COLUMNS)
    yield b"\xef\xbb\xbf" + buf.getvalue().encode()
    buf.seek(0)
    buf.truncate()
    local = _Localiser(loc, target) if loc else None
    n = 0
    async for raw in records(db, target):
        values = local(raw) if local else [_machine(v) for v in raw]
        writer.writerow([neutralise(_csv_cell(v, loc)) for v in values])
        n += 1
        if n % 500 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode()


async def write_xlsx(
    db: Database, target: ExportTarget, path: Path, loc: Localisation | None = None
) -> None:
    """Write the export to ``path``; constant_memory flushes each row to disk as written.

    Numbers and money are numeric cells, dates and times date cells (with ``loc``;
    the API keeps ISO text), the header is frozen and filterable, and a second sheet
    holds the totals of the exported rows.
    """
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    try:
        sheet = workbook.add_worksheet(loc.sheet_title if loc else "jobs")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "#,##0"})
        day = workbook.add_format({"num_format": _excel_format(loc.date_format if loc else "")})
        when = workbook.add_format(
            {"num_format": _excel_format(loc.datetime_format if loc else "")}
        )
        for name in MONEY_COLUMNS:
            sheet.set_column(_COL[name], _COL[name], 13, money)
        for name in ("contact_name", "phones", "email"):
            sheet.set_column(_COL[name], _COL[name], 22)
        for name in (*DATE_COLUMNS, *TIME_COLUMNS):
            sheet.set_column(_COL[name], _COL[name], 16)
        sheet.write_row(0, 0, [loc.headers[c] for c in COLUMNS] if loc else COLUMNS, bold)
        sheet.freeze_panes(1, 0)
        local = _Localiser(loc, target) if loc else None
        totals = _Totals()
        r = 1
        async for raw in records(db, target):
            totals.add(raw)
            values = local(raw) if local else [_machine(v) for v in raw]
            for c, v in enumerate(values):
                if v is None:
                    continue
                if isinstance(v, datetime):
                    sheet.write_datetime(r, c, v, when)
                elif isinstance(v, date):
                    sheet.write_datetime(r, c, datetime(v.year, v.month, v.day), day)
                elif isinstance(v, str):
                    # write_string: never a formula, whatever the text says.
                    sheet.write_string(r, c, str(neutralise(v)))
                elif c in _MONEY_INDEXES:
                    sheet.write_number(r, c, v, money)
                else:
                    sheet.write(r, c, v)
            r += 1
        sheet.autofilter(0, 0, max(r - 1, 1), len(COLUMNS) - 1)
        _write_totals(workbook, totals, loc, bold)
    finally:
        workbook.close()


def _excel_format(strftime: str) -> str:
    """``%d-%m-%Y %H:%M`` -> ``dd-mm-yyyy hh:mm`` (the ISO form when none is given)."""
    text = strftime or "%Y-%m-%d %H:%M"
    for a, b in (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%H", "hh"), ("%M", "mm")):
        text = text.replace(a, b)
    return text


_MONEY_INDEXES = frozenset(_COL[c] for c in MONEY_COLUMNS)

_EN_TOTALS = {
    "contacts": "contacts",
    "amount": "amount",
    "amount_original": "amount_original",
    "paid_amount": "paid_amount",
    "promises": "promises",
    "promise_amount": "promise_amount",
    "minutes": "minutes",
    "cost": "cost",
    "by_status": "status",
    "by_outcome": "last_outcome",
}


def _write_totals(workbook: Any, totals: _Totals, loc: Localisation | None, bold: Any) -> None:
    labels = loc.total_labels if loc else _EN_TOTALS
    sheet = workbook.add_worksheet(loc.totals_title if loc else "totals")
    number = workbook.add_format({"num_format": "#,##0"})
    decimal = workbook.add_format({"num_format": "#,##0.00"})
    sheet.set_column(0, 0, 34)
    sheet.set_column(1, 1, 16)
    lines: list[tuple[str, float | int, Any]] = [
        (labels["contacts"], totals.contacts, number),
        (labels["amount"], totals.sums["amount"], number),
        (labels["amount_original"], totals.sums["amount_original"], number),
        (labels["paid_amount"], totals.sums["paid_amount"], number),
        (labels["promises"], totals.promises, number),
        (labels["promise_amount"], totals.sums["promise_amount"], number),
        (labels["minutes"], round(totals.sums["minutes"], 2), decimal),
        (labels["cost"], round(totals.sums["cost"], 2), decimal),
    ]
    r = 0
    for label, value, fmt in lines:
        sheet.write_string(r, 0, label, bold)
        sheet.write_number(r, 1, value, fmt)
        r += 1
    for title, kind, table in (
        (labels["by_status"], "job_status", totals.by_status),
        (labels["by_outcome"], "outcome", totals.by_outcome),
    ):
        r += 1
        sheet.write_string(r, 0, title, bold)
        r += 1
        for code, n in sorted(table.items(), key=lambda kv: (-kv[1], kv[0])):
            name = (loc.code(kind, code) if loc else None) or code
            sheet.write_string(r, 0, str(neutralise(name)))
            sheet.write_number(r, 1, n, number)
            r += 1
