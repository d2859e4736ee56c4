"""Spreadsheet import: preview and create.

Pipeline::

    file ──parsers──▶ raw rows ──headers.detect──▶ mapping ──rows.RowValidator──▶ rows | errors
         (reader.ChunkStream: a memory-limited worker process, whatever the size)
                           │ chunks of reader.CHUNK rows, JSON already encoded
                           ▼
    event loop: do-not-call ─▶ duplicates (in file, in open batches) ─▶ repository insert

The reader validates chunk n+1 while the event loop filters and inserts chunk n. Memory
is bounded by the sheet calamine holds and a chunk in flight. ``create`` writes the batch
and every job in the caller's transaction, so a failure anywhere (a bad file discovered
at row 90,000, a database error) leaves nothing behind. Dynamic dates are "today" in the
account's timezone by the injectable clock.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.account.status import ensure_active
from dialer.audit import service as audit
from dialer.batch import service as batch_service
from dialer.batch.schemas import BatchCreate
from dialer.batch.settings import CallSettings
from dialer.compliance import service as compliance_service
from dialer.compliance.rules import phone_variants
from dialer.errors import AppError, InvalidInput, NotFound
from dialer.ingestion.errors import NoValidRows, UnreadableFile, UnsupportedFile, UploadTooLarge
from dialer.ingestion.normalize import Country, person_key
from dialer.ingestion.reader import (
    MAX_REPORTED,
    Chunk,
    ChunkStream,
    Merge,
    ParseFailed,
    Summary,
    dumps_phones,
    phone_list,
)
from dialer.ingestion.repository import IngestionRepository
from dialer.ingestion.rows import ProcessingType, RowError, RowOptions
from dialer.ingestion.schemas import (
    AppendOptions,
    ColumnRead,
    CreateResponse,
    IgnoredColumnRead,
    ImportCounts,
    ImportOptions,
    ImportReport,
    PreviewResponse,
    RowErrorRead,
    SkippedRowRead,
)
from dialer.job import service as job_service
from dialer.job.counters import plan_transition
from dialer.job.states import JobStatus
from dialer.kit import clock
from dialer.logging import get_logger
from dialer.models import Account, Batch, BatchStatus
from dialer.outbox import publish

log = get_logger("dialer.ingestion")

SAMPLE_ROWS = 20
# SQLite's page cache for the import's connection while it writes (KiB, as PRAGMA
# cache_size takes it: negative), instead of the default 2 MB (IngestionRepository).
IMPORT_CACHE = -16384
DNC_PRELOAD_MAX = 200_000

Progress = Callable[[int, int | None], None]


@dataclass
class _Tally:
    """Counts and the first MAX_REPORTED problems of a run."""

    rows: int = 0
    valid: int = 0
    invalid: int = 0
    duplicates: int = 0
    do_not_call: int = 0
    accepted: int = 0
    empty_rows: int = 0
    warnings_n: int = 0
    several_cuotas: int = 0
    merged_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    skipped: list[SkippedRowRead] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    truncated: bool = False
    sample: list[dict[str, Any]] = field(default_factory=list)

    def error(self, errs: list[RowError]) -> None:
        self.invalid += 1
        room = MAX_REPORTED - len(self.errors)
        if room < len(errs):
            self.truncated = True
        self.errors.extend(errs[: max(room, 0)])

    def warn(self, warns: list[RowError]) -> None:
        self.warnings_n += len(warns)
        room = MAX_REPORTED - len(self.warnings)
        if room < len(warns):
            self.truncated = True
        self.warnings.extend(warns[: max(room, 0)])

    def warn_count(self, n: int) -> None:
        """``warn`` of ``n`` warnings once the report lists MAX_REPORTED."""
        self.warnings_n += n
        if n and len(self.warnings) >= MAX_REPORTED:
            self.truncated = True

    def skip(self, row: int, reason: str, message: str, **params: Any) -> None:
        if reason in ("do_not_call", "legal_stop"):  # must not be called, either way
            self.do_not_call += 1
        else:
            self.duplicates += 1
        if len(self.skipped) < MAX_REPORTED:
            self.skipped.append(
                SkippedRowRead(row=row, reason=reason, message=message, params=params)
            )
        else:
            self.truncated = True

    def same_id_in_file(self, row: int, dni: str | None, first: int) -> None:
        self.skip(
            row, "duplicate_in_file", f"same id {dni} as row {first}", dni=dni, first_row=first
        )

    def same_phone_in_file(self, row: int, phone: str, first: int) -> None:
        self.skip(
            row,
            "duplicate_in_file",
            f"same phone {phone} as row {first}",
            phone=phone,
            first_row=first,
        )

    def counts(self) -> ImportCounts:
        return ImportCounts(
            rows=self.rows,
            valid=self.valid,
            invalid=self.invalid,
            duplicates=self.duplicates,
            do_not_call=self.do_not_call,
            skipped=self.duplicates + self.do_not_call,
            accepted=self.accepted,
            empty_rows=self.empty_rows,
            warnings=self.warnings_n,
            debtors=self.accepted,
            debtors_with_several_cuotas=self.several_cuotas,
            merged_rows=self.merged_rows,
        )


@dataclass
class _Plan:
    account: Account
    country: Country
    options: RowOptions
    call_settings: CallSettings


# ---------------------------------------------------------------- the event-loop half


class _Filter:
    """Do-not-call and duplicate checks, in file order (the first occurrence wins)."""

    def __init__(
        self, session: AsyncSession, account_id: str, tally: _Tally, *, allow_duplicates: bool
    ) -> None:
        self.session = session
        self.account_id = account_id
        self.tally = tally
        self.allow_duplicates = allow_duplicates
        self.seen_ids: dict[str, int] = {}
        self.seen_phones: dict[str, int] = {}
        self.open_ids: set[str] = set()
        self.open_phones: set[str] = set()
        self.dnc_mode = "query"
        self.dnc_set: set[str] = set()
        self.kept_rows: set[int] = set()  # first rows of debtors that became jobs
        # Debtors under a legal stop (keyed by person_key, as compliance matches them).
        self.stopped_ids: set[str] = set()

    async def load_open_batches(self) -> None:
        if self.allow_duplicates:
            return
        repo = IngestionRepository.from_session(self.session)
        async for dni, phones in repo.open_batch_contacts(self.account_id):
            if dni:
                self.open_ids.add(person_key(dni))
            self.open_phones.update(phones or ())

    async def load_legal_stops(self) -> None:
        self.stopped_ids = await compliance_service.legally_stopped_keys(
            self.session, self.account_id
        )

    async def load_do_not_call(self) -> None:
        repo = IngestionRepository.from_session(self.session)
        self.dnc_mode = "none"
        count = await repo.dnc_count(self.account_id)
        if count == 0:
            return
        if count <= DNC_PRELOAD_MAX:
            # Small lists (the usual case) are matched in memory, without a query per chunk.
            self.dnc_set = await repo.dnc_phones(self.account_id)
            self.dnc_mode = "memory"
        else:
            self.dnc_mode = "query"

    async def _listed(self, chunk: Chunk) -> set[str]:
        if self.dnc_mode == "none":
            return set()
        return await self._listed_among({p for pj in chunk.phones for p in phone_list(pj)})

    async def _listed_among(self, phones: set[str]) -> set[str]:
        if self.dnc_mode == "none" or not phones:
            return set()
        if self.dnc_mode == "memory":
            # Same matching rule as the dispatcher: every spelling of the line counts.
            return {p for p in phones if any(v in self.dnc_set for v in phone_variants(p))}
        return await compliance_service.listed_phones(self.session, self.account_id, sorted(phones))

    async def __call__(self, chunk: Chunk) -> Chunk:
        """The rows of a chunk to import, with do-not-call numbers dropped from them."""
        listed = await self._listed(chunk)
        tally = self.tally
        keep = self._keep(chunk, listed)
        accepted = chunk if all(keep) else chunk.select(keep)
        self.kept_rows.update(accepted.row_numbers)
        warnings = accepted.warnings
        for pos in sorted(warnings):
            if len(tally.warnings) < MAX_REPORTED:
                tally.warn(warnings[pos])
            else:  # counted only: the report is full (nor are they decoded)
                tally.warn_count(warnings.count(pos))
        tally.accepted += len(accepted)
        room = SAMPLE_ROWS - len(tally.sample)
        if room > 0:
            tally.sample.extend(
                {
                    "row": row, "contact_name": name, "dni": dni, "phones": phone_list(pj),
                    "email": email, "payload": json.loads(payload),
                    # Where the debtor is, as the job will store it (compliance.place).
                    "timezone": tz, "region": region, "place_source": source,
                }
                for row, name, dni, pj, email, payload, tz, region, source in islice(
                    zip(accepted.row_numbers, accepted.names, accepted.dnis, accepted.phones,
                        accepted.emails, accepted.payloads, accepted.timezones,
                        accepted.regions, accepted.place_sources, strict=True),
                    room,
                )
            )  # fmt: skip
        return accepted

    async def merges(self, summary: Summary) -> list[Merge]:
        """The debtors' merges whose first row became a job, with do-not-call numbers
        of their later rows dropped (reported as warnings, like a row's own)."""
        kept = [m for m in summary.merges if m.row_number in self.kept_rows]
        listed = await self._listed_among({p for m in kept for p in m.phones})
        tally = self.tally
        tally.merged_rows = sum(len(m.rows) - 1 for m in kept)
        tally.several_cuotas = len(kept)
        tally.warn(summary.merge_warnings)
        tally.warn_count(summary.merge_warnings_n - len(summary.merge_warnings))
        if listed:
            for m in kept:
                if any(p in listed for p in m.phones):
                    tally.warn([_dnc_dropped(m.row_number, [p for p in m.phones if p in listed])])
                    m.phones = [p for p in m.phones if p not in listed]
        for item in tally.sample:
            # The preview shows the debtor as its job will be.
            merge = by_row.get(item["row"]) if (by_row := {m.row_number: m for m in kept}) else None
            if merge is not None:
                item["phones"] = list(merge.phones)
                item["payload"] = json.loads(merge.payload)
                item["rows"] = merge.rows
                item["timezone"], item["region"] = merge.place.timezone, merge.place.region
                item["place_source"] = merge.place.source
        return kept

    def _keep(self, chunk: Chunk, listed: set[str]) -> list[bool]:
        """Per row, whether it is imported; do-not-call numbers are dropped from rows.

        In file order, so the first occurrence of a duplicate wins and the skipped list
        reads top to bottom.
        """
        if (
            not listed
            and not self.allow_duplicates
            and not self.open_ids
            and not self.open_phones
            and not self.stopped_ids
        ):
            return self._keep_first_in_file(chunk)
        skip = self.tally.skip
        check_duplicates = not self.allow_duplicates
        open_ids, open_phones = self.open_ids, self.open_phones
        seen_ids, seen_phones = self.seen_ids, self.seen_phones
        keep = [True] * len(chunk)
        rows = zip(chunk.row_numbers, chunk.dnis, chunk.phones, chunk.keys, strict=True)
        stopped = self.stopped_ids
        for pos, (row_number, dni, pj, key) in enumerate(rows):
            if key is not None and key in stopped:
                skip(row_number, "legal_stop", f"{dni} is under a legal stop", dni=dni)
                keep[pos] = False
                continue
            phones = phone_list(pj)
            if listed and any(p in listed for p in phones):
                kept = [p for p in phones if p not in listed]
                if not kept:
                    skip(
                        row_number,
                        "do_not_call",
                        "every phone is on the do-not-call list",
                        phones=phones,
                    )
                    keep[pos] = False
                    continue
                chunk.phones[pos] = dumps_phones(kept)
                chunk.warnings[pos] = [
                    *chunk.warnings.get(pos, ()),
                    _dnc_dropped(row_number, [p for p in phones if p in listed]),
                ]
                phones = kept
            if not check_duplicates:
                continue
            if key is not None:
                if key in open_ids:
                    skip(
                        row_number,
                        "duplicate_in_active_batch",
                        f"{dni} is already in an active batch of this account",
                        dni=dni,
                    )
                    keep[pos] = False
                    continue
                first = seen_ids.get(key)
                if first is not None:
                    self.tally.same_id_in_file(row_number, dni, first)
                    keep[pos] = False
                    continue
            duplicate = False
            for phone in phones:
                if phone in open_phones:
                    skip(
                        row_number,
                        "duplicate_in_active_batch",
                        f"{phone} is already in an active batch of this account",
                        phone=phone,
                    )
                    duplicate = True
                    break
                first = seen_phones.get(phone)
                if first is not None:
                    self.tally.same_phone_in_file(row_number, phone, first)
                    duplicate = True
                    break
            if duplicate:
                keep[pos] = False
                continue
            if key is not None:
                seen_ids[key] = row_number
            for phone in phones:
                seen_phones.setdefault(phone, row_number)
        return keep

    def _keep_first_in_file(self, chunk: Chunk) -> list[bool]:
        """``_keep`` when only duplicates within the file can skip a row (nothing on the
        do-not-call list, no open batch): the usual import, one dict operation per key.

        ``setdefault`` both looks a key up and registers it; a row found to be a
        duplicate by phone after its id was registered takes the id back out, so the
        seen maps end exactly as ``_keep`` leaves them.
        """
        seen_ids, seen_phones = self.seen_ids, self.seen_phones
        keep = [True] * len(chunk)
        rows = zip(chunk.row_numbers, chunk.dnis, chunk.phones, chunk.keys, strict=True)
        first: int | None
        for pos, (row_number, dni, pj, key) in enumerate(rows):
            if key is not None:
                first = seen_ids.setdefault(key, row_number)
                if first != row_number:
                    self.tally.same_id_in_file(row_number, dni, first)
                    keep[pos] = False
                    continue
            if '","' not in pj:  # one number (or none): no list needed
                if len(pj) <= 2:
                    continue
                phone = pj[2:-2]
                first = seen_phones.setdefault(phone, row_number)
                if first == row_number:
                    continue
            else:
                phones = phone_list(pj)
                first = None
                for phone in phones:
                    first = seen_phones.get(phone)
                    if first is not None:
                        break
                if first is None:
                    for number in phones:
                        seen_phones.setdefault(number, row_number)
                    continue
            self.tally.same_phone_in_file(row_number, phone, first)
            keep[pos] = False
            if key is not None:
                del seen_ids[key]
        return keep


def _dnc_dropped(row_number: int, phones: list[str]) -> RowError:
    """The warning of a row (or debtor) whose do-not-call numbers were left out."""
    return RowError(
        row_number,
        None,
        f"dropped do-not-call number(s) {', '.join(phones)}",
        "dnc_dropped",
        {"phones": phones},
    )


# ---------------------------------------------------------------- public API


async def _plan(
    session: AsyncSession, principal: Principal, options: ImportOptions, *, writing: bool = False
) -> _Plan:
    principal.check_account(options.account_id)
    account = await IngestionRepository.from_session(session).account(options.account_id)
    if account is None:
        raise NotFound(f"account '{options.account_id}' not found", field="account_id")
    if writing:
        ensure_active(account)  # a preview writes nothing and stays allowed
    country = cast(Country, options.country or account.country)
    if country not in ("CL", "AR"):
        raise InvalidInput(f"country '{country}' is not supported (CL or AR)", field="country")
    today = clock.now().astimezone(ZoneInfo(account.timezone)).date()

    def shifted(days: int | None) -> date | None:
        return None if days is None else today + timedelta(days=days)

    row_options = RowOptions(
        country=country,
        processing_type=options.processing_type,
        fecha_limite=shifted(options.dias_fecha_limite),
        fecha_maxima=shifted(options.dias_fecha_maxima),
        consolidate=options.consolidating,
        constants=tuple(options.payload_constants.items()),
    )
    return _Plan(
        account=account,
        country=country,
        options=row_options,
        call_settings=options.call_settings or CallSettings(),
    )


def _report_fields(plan: _Plan, parsed: Summary, tally: _Tally) -> dict[str, Any]:
    def errs(items: list[RowError]) -> list[RowErrorRead]:
        return [
            RowErrorRead(
                row=e.row_number,
                column=e.column,
                message=e.message,
                code=e.code,
                params=dict(e.params),
            )
            for e in items
        ]

    return {
        "file_format": parsed.file_format,
        "country": plan.country,
        "header_row": _header_row_number(parsed),
        "columns": [ColumnRead.model_validate(c) for c in parsed.mapping.as_dict()],
        "ignored_columns": [
            IgnoredColumnRead.model_validate(c) for c in parsed.mapping.ignored_dict()
        ],
        "consolidate": plan.options.consolidate,
        "counts": tally.counts(),
        "errors": errs(tally.errors),
        "skipped": tally.skipped,
        "warnings": errs(tally.warnings),
        "truncated": tally.truncated,
        "fecha_limite": plan.options.fecha_limite.isoformat()
        if plan.options.fecha_limite
        else None,
        "fecha_maxima": plan.options.fecha_maxima.isoformat()
        if plan.options.fecha_maxima
        else None,
    }


def _header_row_number(parsed: Summary) -> int:
    return parsed.mapping.header_row + 1


async def _run(
    session: AsyncSession,
    plan: _Plan,
    options: ImportOptions,
    path: Path,
    filename: str | None,
    sink: Callable[[Chunk], Awaitable[None]],
    progress: Progress | None,
    parallel: bool | None,
    started: Callable[[], Awaitable[None]] | None = None,
    merged: Callable[[list[Merge]], Awaitable[None]] | None = None,
) -> tuple[Summary, _Tally]:
    """Stream the file through the filter into ``sink``; ``started`` runs once the
    reader is loading the file (database work that can overlap it); ``merged`` gets the
    debtors whose later rows were merged into their first row's job."""
    tally = _Tally()
    filt = _Filter(session, plan.account.id, tally, allow_duplicates=options.allow_duplicates)
    summary: Summary | None = None
    try:
        async with ChunkStream(
            path, filename, options.column_mapping, plan.options, parallel=parallel
        ) as chunks:
            # The reader is loading the file already; this work runs meanwhile.
            if started is not None:
                await started()
            await filt.load_open_batches()
            await filt.load_do_not_call()
            await filt.load_legal_stops()
            async for msg in chunks:
                if isinstance(msg, Summary):
                    summary = msg
                    break
                accepted = await filt(msg)
                if accepted:
                    await sink(accepted)
                if progress:
                    progress(msg.done, msg.total)
            assert summary is not None
            # Still in the block: the readers stop meanwhile (see ChunkStream.__anext__).
            merges = await filt.merges(summary)
            if merges and merged is not None:
                await merged(merges)
    except ParseFailed as exc:
        raise _parse_error(exc) from None
    tally.rows, tally.valid, tally.invalid = summary.rows, summary.valid, summary.invalid
    tally.empty_rows = summary.empty_rows
    tally.errors = summary.errors
    tally.truncated = tally.truncated or summary.truncated
    if progress:
        progress(summary.done, summary.done)
    return summary, tally


def _parse_error(exc: ParseFailed) -> AppError:
    if exc.kind == "unsupported":
        return UnsupportedFile(exc.message, field=exc.field)
    if exc.kind == "too_large":
        return UploadTooLarge(exc.message, field=exc.field)
    if exc.kind == "unreadable":
        return UnreadableFile(exc.message, field=exc.field)
    return InvalidInput(exc.message, field=exc.field)


async def preview_import(
    session: AsyncSession,
    principal: Principal,
    options: ImportOptions,
    path: Path,
    *,
    filename: str | None = None,
    parallel: bool | None = None,
) -> PreviewResponse:
    """What ``create_import`` would do with this file, without writing anything.

    ``parallel=False`` reads in a thread instead of the memory-limited worker process
    (tests comparing the two paths only).
    """
    plan = await _plan(session, principal, options)

    async def discard(_: Chunk) -> None:
        return None

    parsed, tally = await _run(session, plan, options, path, filename, discard, None, parallel)
    return PreviewResponse(sample=tally.sample, **_report_fields(plan, parsed, tally))


async def create_import(
    session: AsyncSession,
    principal: Principal,
    options: ImportOptions,
    path: Path,
    *,
    filename: str | None = None,
    progress: Progress | None = None,
    parallel: bool | None = None,
) -> CreateResponse:
    """Create a batch with one job per accepted row (per debtor when consolidating), in
    the caller's transaction.

    ``parallel`` as in ``preview_import``.

    Raises NoValidRows (422, with the report) when no row can be imported; any error
    propagates so the caller rolls back and nothing is half-written.
    """
    plan = await _plan(session, principal, options, writing=True)
    name = options.batch_name or (Path(filename).stem if filename else path.stem)

    async def create_batch() -> Batch:
        batch, _ = await batch_service.create_batch(
            session,
            principal,
            BatchCreate(
                account_id=plan.account.id,
                name=name[:200],
                description=options.batch_description,
                call_settings=plan.call_settings,
                processing_type=options.processing_type,
                variable_set=options.variable_set,
                provider_options=dict(options.provider_options),
                status=options.status,
            ),
            jobs=(),
        )
        return batch

    batch, fields, accepted = await _write_jobs(
        session, plan, options, path, filename, progress, parallel, create_batch,
        principal=principal,
    )  # fmt: skip
    return CreateResponse(
        batch_id=batch.id, batch_name=batch.name, accepted=accepted, total_jobs=accepted,
        **fields,
    )  # fmt: skip


async def append_import(
    session: AsyncSession,
    principal: Principal,
    batch_id: str,
    options: AppendOptions,
    path: Path,
    *,
    filename: str | None = None,
    parallel: bool | None = None,
) -> CreateResponse:
    """Add a file's contacts to an open (active or paused) batch, with the same
    validation, consolidation, duplicate and do-not-call rules as ``create_import``
    (the batch's own contacts count as an active batch's). BatchNotEditable (409) for a
    cancelled or completed batch; NoValidRows (422) when nothing can be added."""
    batch = await batch_service.get_batch(session, principal, batch_id, for_update=True)
    if batch.status not in (BatchStatus.ACTIVE, BatchStatus.PAUSED):
        raise batch_service.BatchNotEditable(
            f"batch '{batch.id}' is {batch.status}: contacts can no longer be added",
            status=str(batch.status),
        )
    full = ImportOptions(
        account_id=batch.account_id,
        processing_type=cast(ProcessingType, batch.processing_type),
        call_settings=CallSettings.model_validate(batch.call_settings or {}),
        **options.model_dump(),
    )
    plan = await _plan(session, principal, full)

    async def existing() -> Batch:
        return batch

    batch, fields, accepted = await _write_jobs(
        session, plan, full, path, filename, None, parallel, existing, now=clock.now(),
        principal=principal,
    )  # fmt: skip
    return CreateResponse(
        batch_id=batch.id, batch_name=batch.name, accepted=accepted,
        total_jobs=batch.total_jobs, **fields,
    )  # fmt: skip


async def _write_jobs(
    session: AsyncSession,
    plan: _Plan,
    options: ImportOptions,
    path: Path,
    filename: str | None,
    progress: Progress | None,
    parallel: bool | None,
    open_batch: Callable[[], Awaitable[Batch]],
    *,
    principal: Principal,
    now: datetime | None = None,
) -> tuple[Batch, dict[str, Any], int]:
    """Stream the file's accepted rows into the batch ``open_batch`` gives (called while
    the reader loads the file); returns the batch, the report fields and the jobs added."""
    repo = IngestionRepository.from_session(session)
    max_attempts = plan.call_settings.retry_settings.max_attempts
    opened: list[Batch] = []

    async def started() -> None:
        opened.append(await open_batch())

    inserted: list[tuple[str, list[int]]] = []  # (id prefix, row numbers) per insert

    async def insert(chunk: Chunk) -> None:
        batch = opened[0]
        prefix = repo.new_id_prefix()
        inserted.append((prefix, chunk.row_numbers))
        # Rows are validated and JSON-encoded already; no per-row model or ORM object.
        await repo.insert_jobs_fast(
            batch_id=batch.id,
            account_id=batch.account_id,
            max_attempts=max_attempts,
            now=now or batch.created_at,
            id_prefix=prefix,
            columns=(
                chunk.row_numbers, chunk.names, chunk.dnis, chunk.phones, chunk.emails,
                chunk.payloads, chunk.timezones, chunk.regions, chunk.place_sources,
                chunk.search_keys,
            ),
        )  # fmt: skip

    async def merge(merges: list[Merge]) -> None:
        # The debtors' first rows are jobs already: their ids from the inserts' prefixes.
        wanted = {m.row_number for m in merges}
        job_ids = {
            row: repo.job_id(prefix, pos)
            for prefix, rows in inserted
            for pos, row in enumerate(rows)
            if row in wanted
        }
        await repo.update_job_contacts(
            [
                (
                    job_ids[m.row_number],
                    dumps_phones(m.phones),
                    m.payload,
                    m.place.timezone,
                    m.place.region,
                    m.place.source,
                )
                for m in merges
            ]
        )

    # The batch row is written while the reader loads the file.
    cache = await repo.sqlite_cache_size(IMPORT_CACHE)
    try:
        parsed, tally = await _run(
            session, plan, options, path, filename, insert, progress, parallel, started, merge
        )
    except BaseException:
        if cache is not None:
            with contextlib.suppress(Exception):  # the import's own error is the one to tell
                await repo.sqlite_cache_size(cache)
        raise
    if cache is not None:
        await repo.sqlite_cache_size(cache)
    batch = opened[0]
    if tally.accepted:
        # Counters move once for the whole file, through the shared counter rules.
        await job_service.bump_batch(
            session,
            batch.id,
            batch.account_id,
            plan_transition(None, JobStatus.PENDING, tally.accepted),
        )
    fields = _report_fields(plan, parsed, tally)
    if tally.accepted == 0:
        report = ImportReport(**fields).model_dump(mode="json")
        raise NoValidRows(
            f"no row can be imported ({tally.invalid} invalid, "
            f"{tally.duplicates} duplicates, {tally.do_not_call} on the do-not-call list)",
            field="file",
            report=report,
        )
    if tally.accepted and now is not None:
        await session.refresh(batch)  # the counters after the bump
    if now is None:
        batch.import_report = ImportReport(**fields).model_dump(mode="json")
    await publish(
        session,
        account_id=plan.account.id,
        batch_id=batch.id,
        type="batch.imported",
        data={"batch_id": batch.id, "total_jobs": batch.total_jobs if now else tally.accepted,
              "rows": tally.rows, "added": tally.accepted},
    )  # fmt: skip
    await audit.record(
        session,
        principal,
        plan.account.id,
        "batch.upload",
        target_type="batch",
        target_id=batch.id,
        filename=filename,
        accepted=tally.accepted,
        invalid=tally.invalid,
        duplicates=tally.duplicates,
        do_not_call=tally.do_not_call,
    )
    log.info(
        "ingestion.batch_created" if now is None else "ingestion.batch_appended",
        account_id=plan.account.id,
        batch_id=batch.id,
        accepted=tally.accepted,
        invalid=tally.invalid,
        skipped=tally.duplicates + tally.do_not_call,
    )
    return batch, fields, tally.accepted
