"""Compliance: do-not-call lists, per-debtor contact limits at dial time, and the
visibility of jobs held back by compliance.

Do-not-call numbers are stored in E.164. Matching goes through ``rules.phone_variants``
so an Argentine registry entry written without the mobile 9 still blocks the +549
spelling that ingestion produces (and the other way round).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from dialer.account.auth import Principal
from dialer.compliance import dnc_import
from dialer.compliance.place import resolve_place
from dialer.compliance.profiles import (
    PROFILES,
    REGISTRY_CODES,
    describe,
)
from dialer.compliance.repository import ComplianceRepository
from dialer.compliance.rules import (
    phone_variants,
)
from dialer.compliance.schemas import (
    ComplianceProfileRead,
    ComplianceRule,
    DoNotCallAdded,
    DoNotCallCreate,
    DoNotCallImportResult,
    DoNotCallPage,
    DoNotCallRead,
    LegalStopAdded,
    LegalStopCreate,
    LegalStopImportResult,
    LegalStopPage,
    LegalStopRead,
    RowProblem,
)
from dialer.db.session import Database
from dialer.errors import InvalidInput, NotFound
from dialer.job import service as job_service
from dialer.job.schemas import ComplianceStop
from dialer.job.states import JobStatus, Outcome
from dialer.kit import child, clock
from dialer.kit import phone as phone_kit
from dialer.kit.debtor_id import normalize_id, person_key
from dialer.models import Account, Job

REPORT_ROWS = dnc_import.REPORT_ROWS
# A file this slow to read is refused (a million rows take ~40 s on a loaded machine).
IMPORT_TIMEOUT_S = 300
# Above this many numbers an import reads the account's whole list once (if the list is
# at most BULK_LIST_MAX long) instead of looking the numbers up in chunks.
BULK_LOOKUP = 5_000
BULK_LIST_MAX = 3_000_000


def list_profiles() -> list[ComplianceProfileRead]:
    """The compliance profiles a batch may choose, with the rules each enforces."""
    out = [ComplianceProfileRead(name="none", citation="", rules=[])]
    for profile in PROFILES.values():
        if profile is not None:
            out.append(
                ComplianceProfileRead(
                    name=profile.name,
                    citation=profile.citation,
                    rules=[ComplianceRule(**r) for r in describe(profile)],
                )
            )
    return out


async def _account(session: AsyncSession, principal: Principal, account_id: str) -> Account:
    principal.check_account(account_id)
    account = await ComplianceRepository.from_session(session).get_account(account_id)
    if account is None:
        raise NotFound(f"account '{account_id}' not found", field="account_id")
    return account


async def listed_phones(
    session: AsyncSession, account_id: str, phones: Sequence[str], *, region: str | None = None
) -> set[str]:
    """Which of ``phones`` the account must not dial.

    Used by ingestion (skip listed rows) and by the dispatcher right before dialing.
    With ``region`` each number is first normalised by ``kit.phone`` (the dispatcher's
    check: a job stored before its phones were normalised still matches the list).
    """
    if not phones:
        return set()
    variants = {p: phone_variants(_canonical(p, region)) for p in phones}
    all_variants = [v for vs in variants.values() for v in vs]
    listed = await ComplianceRepository.from_session(session).listed_among(account_id, all_variants)
    return {p for p, vs in variants.items() if any(v in listed for v in vs)}


def _canonical(number: str, region: str | None) -> str:
    if region is None:
        return number
    try:
        return phone_kit.e164(number, region)
    except phone_kit.PhoneInvalid:
        return number  # compared as stored


async def add_numbers(
    session: AsyncSession, principal: Principal, account_id: str, body: DoNotCallCreate
) -> DoNotCallAdded:
    """Add numbers to the account's list. All-or-nothing: one unreadable number
    rejects the request (422 naming it) so nothing is half-applied."""
    account = await _account(session, principal, account_id)
    region = body.country or account.country
    raw = body.all_phones()
    normalised: list[str] = []
    for i, value in enumerate(raw):
        try:
            number = phone_kit.e164(value, region)
        except phone_kit.PhoneInvalid as exc:
            field = (
                "phone"
                if body.phone is not None and i == 0
                else f"phones[{i - (body.phone is not None)}]"
            )
            raise InvalidInput(f"{field}: {exc}", field=field) from None
        normalised.append(number)
    added, duplicates = await _insert(
        session, account.id, normalised, source=body.source, reason=body.reason
    )
    return DoNotCallAdded(added=sorted(added), duplicates=sorted(duplicates))


async def _insert(
    session: AsyncSession,
    account_id: str,
    phones: Sequence[str],
    *,
    source: str | None,
    reason: str | None,
) -> tuple[set[str], set[str]]:
    """Insert new numbers; returns (added, duplicates). A number is a duplicate when
    it (or another spelling of the same line) is already listed or repeated."""
    unique = list(dict.fromkeys(phones))
    repo = ComplianceRepository.from_session(session)
    if len(unique) > BULK_LOOKUP and await repo.count(account_id) <= BULK_LIST_MAX:
        # A registry import checks every row: one read of the whole list beats hundreds
        # of IN (...) lookups, which are slow on PostgreSQL.
        listed = await repo.all_phones(account_id)
        already = {p for p in unique if any(v in listed for v in phone_variants(p))}
    else:
        already = await listed_phones(session, account_id, unique)
    fresh: list[str] = []
    seen: set[str] = set()
    duplicates = set(already)
    for phone in unique:
        if phone in already:
            continue
        variants = phone_variants(phone)
        if any(v in seen for v in variants):
            duplicates.add(phone)
            continue
        seen.update(variants)
        fresh.append(phone)
    now = clock.now()
    added = await repo.insert_new(
        account_id,
        [{"phone": p, "source": source, "reason": reason, "created_at": now} for p in fresh],
    )
    if len(added) > BULK_LOOKUP:
        await repo.refresh_statistics()
    # Lost a race with a concurrent insert of the same number: report it as a duplicate.
    duplicates.update(set(fresh) - added)
    return added, duplicates


async def remove_number(
    session: AsyncSession, principal: Principal, account_id: str, phone: str
) -> None:
    """Take a number (any spelling of its line) off the list; NotFound when absent."""
    account = await _account(session, principal, account_id)
    e164 = _parse_path_phone(phone, account.country)
    removed = await ComplianceRepository.from_session(session).delete_phones(
        account.id, list(phone_variants(e164))
    )
    if not removed:
        raise NotFound(f"phone '{e164}' is not on the do-not-call list", field="phone")


async def get_number(
    session: AsyncSession, principal: Principal, account_id: str, phone: str
) -> DoNotCallRead:
    """The list entry covering ``phone``; NotFound when the number may be dialed."""
    account = await _account(session, principal, account_id)
    e164 = _parse_path_phone(phone, account.country)
    entry = await ComplianceRepository.from_session(session).get_entry(
        account.id, list(phone_variants(e164))
    )
    if entry is None:
        raise NotFound(f"phone '{e164}' is not on the do-not-call list", field="phone")
    return DoNotCallRead.model_validate(entry)


def _parse_path_phone(phone: str, region: str) -> str:
    try:
        return phone_kit.e164(phone, region)
    except phone_kit.PhoneInvalid as exc:
        raise InvalidInput(f"phone: {exc}", field="phone") from None


async def list_numbers(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    search: str | None,
    limit: int,
    skip: int,
) -> DoNotCallPage:
    """A page of the account's list, newest first; ``search`` matches any digits."""
    account = await _account(session, principal, account_id)
    term = "".join(c for c in (search or "") if c.isdigit() or c == "+") or None
    items, total = await ComplianceRepository.from_session(session).page(
        account.id, search=term, limit=limit, skip=skip
    )
    return DoNotCallPage(
        items=[DoNotCallRead.model_validate(i) for i in items], total=total, limit=limit, skip=skip
    )


async def import_file(
    db: Database,
    principal: Principal,
    account_id: str,
    *,
    data: bytes,
    filename: str | None,
    country: str | None,
    source: str | None,
    reason: str | None,
) -> DoNotCallImportResult:
    """Bulk-add the numbers of a CSV/XLSX file (header with a phone column, or the
    Argentine "No Llame" export). Unreadable rows are reported, not fatal; a file
    with no usable column is a 422.

    Takes the database, not a session, because of its three steps: the account is read
    in a read session; the file is read and normalised in a memory-limited child
    process (CPU-bound: a million rows take tens of seconds, which on the event loop
    stalled every request, and inside the write transaction locked SQLite for the
    worker meanwhile); only then one short write transaction inserts the numbers.
    """
    async with db.read() as read:
        account = await _account(read, principal, account_id)
        account_key, region = account.id, country or account.country
    try:
        planned = await child.run(
            dnc_import.plan_in_child, data, filename, region, timeout_s=IMPORT_TIMEOUT_S
        )
    except child.ChildFailed as exc:
        if exc.out_of_memory:
            raise dnc_import.DncFileTooLarge(
                "file: reading it needs more memory than a do-not-call file may use",
                field="file",
            ) from None
        raise dnc_import.DncFileInvalid(f"file: could not be read ({exc})", field="file") from None
    except TimeoutError:
        raise dnc_import.DncFileTooLarge(
            f"file: reading it took more than {IMPORT_TIMEOUT_S} s", field="file"
        ) from None
    if isinstance(planned, tuple):
        kind, message = planned
        cls = dnc_import.DncFileTooLarge if kind == "DncFileTooLarge" else InvalidInput
        raise cls(message, field="file")
    async with db.write() as session:
        added, duplicates = await _insert(
            session, account_key, list(planned.row_of), source=source or "import", reason=reason
        )
        registry = (source or "").lower().replace(" ", "_")
        if registry in REGISTRY_CODES:
            # A provincial registry (CABA, Córdoba): its sales calls are held until then.
            await ComplianceRepository.from_session(session).mark_registry_import(
                account_key, registry, clock.now()
            )
        elif planned.format == "no_llame" or registry == "no_llame":
            # Ley 26.951: Argentine sales batches need an import of the last 30 days.
            await ComplianceRepository.from_session(session).mark_no_llame_import(
                account_key, clock.now()
            )
    duplicate_rows = list(planned.duplicate_rows)
    for phone in duplicates:
        if len(duplicate_rows) < REPORT_ROWS:
            duplicate_rows.append(planned.row_of[phone])
    n_dup = planned.n_dup_in_file + len(duplicates)
    return DoNotCallImportResult(
        format=planned.format,
        column=planned.column,
        total_rows=planned.total,
        added=len(added),
        duplicates=n_dup,
        invalid=planned.n_invalid,
        duplicate_rows=sorted(duplicate_rows),
        invalid_rows=planned.invalid,
        truncated=n_dup > len(duplicate_rows) or planned.n_invalid > len(planned.invalid),
    )


# -- legal stops ---------------------------------------------------------------------------

LEGAL_ID_HEADERS = frozenset(
    {
        "rut", "run", "dni", "cuit", "cuil", "documento", "rut deudor", "rut cliente",
        "dni deudor", "nro documento", "numero documento", "numero de documento",
        "debtor id", "debtor_id", "id deudor", "id", "document", "national id",
    }
)  # fmt: skip
LEGAL_REASON_HEADERS = frozenset({"motivo", "razon", "reason", "causa", "tipo", "causal"})
LEGAL_NOTE_HEADERS = frozenset(
    {"detalle", "nota", "note", "notes", "observacion", "observaciones", "comentario"}
)
# Reason words as written in Spanish files -> the API's reasons.
_REASON_WORDS = {
    "judicial": "judicial", "demanda": "judicial", "juicio": "judicial",
    "demanda judicial": "judicial", "cobranza judicial": "judicial",
    "insolvency": "insolvency", "insolvencia": "insolvency", "quiebra": "insolvency",
    "liquidacion": "insolvency", "reorganizacion": "insolvency", "concurso": "insolvency",
    "dispute": "dispute", "disputa": "dispute", "reclamo": "dispute",
    "controversia": "dispute", "deuda disputada": "dispute",
    "deceased": "deceased", "fallecido": "deceased", "fallecida": "deceased",
    "fallecimiento": "deceased", "other": "other", "otro": "other", "otros": "other",
}  # fmt: skip


def _reason_of(text: str) -> str | None:
    return _REASON_WORDS.get(dnc_import._fold(text))


async def stop_debtors(
    session: AsyncSession, account_id: str, keys: Sequence[str], *, outcome: str
) -> int:
    """End every waiting job of these debtors (legal-stop keys), in all of the account's
    batches, as CANCELLED with ``outcome``; returns how many. Calls in flight finish."""
    if not keys:
        return 0
    jobs = await ComplianceRepository.from_session(session).waiting_jobs_of(account_id, keys)
    for job in jobs:
        await job_service.transition(
            session, job, JobStatus.CANCELLED, last_outcome=outcome, wait_reason=None
        )
    return len(jobs)


def _stop_id(raw: str, country: str) -> str:
    """A legal stop's key: the debtor id in the spelling ingestion stores on jobs."""
    text = raw.strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # a number cell written out as text
    return person_key(normalize_id(text, country))


async def add_legal_stops(
    session: AsyncSession, principal: Principal, account_id: str, body: LegalStopCreate
) -> LegalStopAdded:
    """Put debtors under a legal stop: no collection contact in any batch from now on.
    All-or-nothing: one unreadable id rejects the request (422 naming it). Waiting jobs
    of these debtors are cancelled at once."""
    account = await _account(session, principal, account_id)
    country = body.country or account.country
    ids: list[str] = []
    for i, raw in enumerate(body.all_ids()):
        try:
            ids.append(_stop_id(raw, country))
        except ValueError as exc:
            field = (
                "debtor_id"
                if body.debtor_id is not None and i == 0
                else f"debtor_ids[{i - (body.debtor_id is not None)}]"
            )
            raise InvalidInput(f"{field}: {exc}", field=field) from None
    unique = list(dict.fromkeys(ids))
    now = clock.now()
    added = await ComplianceRepository.from_session(session).add_stops(
        account.id,
        [
            {"debtor_id": d, "reason": body.reason, "note": body.note, "source": body.source,
             "created_at": now}
            for d in unique
        ],
    )  # fmt: skip
    stopped = await stop_debtors(session, account.id, unique, outcome=Outcome.LEGAL_STOP.value)
    return LegalStopAdded(
        added=sorted(added), duplicates=sorted(set(unique) - added), jobs_stopped=stopped
    )


async def list_legal_stops(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    reason: str | None,
    limit: int,
    skip: int,
) -> LegalStopPage:
    """A page of the account's legal stops, newest first, optionally of one reason."""
    account = await _account(session, principal, account_id)
    items, total = await ComplianceRepository.from_session(session).page_stops(
        account.id, reason=reason, limit=limit, skip=skip
    )
    return LegalStopPage(
        items=[LegalStopRead.model_validate(i) for i in items], total=total, limit=limit, skip=skip
    )


def _path_stop_id(raw: str, country: str) -> str:
    try:
        return _stop_id(raw, country)
    except ValueError as exc:
        raise InvalidInput(f"debtor_id: {exc}", field="debtor_id") from None


async def get_legal_stop(
    session: AsyncSession, principal: Principal, account_id: str, debtor_id: str
) -> LegalStopRead:
    """The stop on this debtor; NotFound when the debtor may be contacted."""
    account = await _account(session, principal, account_id)
    key = _path_stop_id(debtor_id, account.country)
    stop = await ComplianceRepository.from_session(session).get_stop(account.id, key)
    if stop is None:
        raise NotFound(f"debtor '{key}' is not under a legal stop", field="debtor_id")
    return LegalStopRead.model_validate(stop)


async def remove_legal_stop(
    session: AsyncSession, principal: Principal, account_id: str, debtor_id: str
) -> None:
    """Lift a legal stop (jobs it cancelled stay cancelled); NotFound when absent."""
    account = await _account(session, principal, account_id)
    key = _path_stop_id(debtor_id, account.country)
    if not await ComplianceRepository.from_session(session).delete_stop(account.id, key):
        raise NotFound(f"debtor '{key}' is not under a legal stop", field="debtor_id")


def _header_index(row: list[str], names: frozenset[str]) -> int | None:
    for i, cell in enumerate(row):
        if cell and dnc_import._fold(cell) in names:
            return i
    return None


async def import_legal_stops(
    session: AsyncSession,
    principal: Principal,
    account_id: str,
    *,
    data: bytes,
    filename: str | None,
    reason: str | None,
    country: str | None,
    source: str | None,
) -> LegalStopImportResult:
    """Bulk-add legal stops from a CSV/XLSX with a header row: an id column (RUT, DNI,
    CUIT, Documento...), optionally a reason column (Motivo: judicial/demanda,
    insolvencia/quiebra, disputa, fallecido, otro) and a note column (Detalle). Rows
    without a reason take ``reason``. Unreadable rows are reported, not fatal."""
    account = await _account(session, principal, account_id)
    region = country or account.country
    rows = dnc_import.read_rows(data, filename)
    id_col = reason_col = note_col = None
    header = ""
    invalid: list[RowProblem] = []
    n_invalid = total = 0
    entries: dict[str, tuple[int, str, str | None]] = {}
    duplicate_rows: list[int] = []
    n_dup = 0
    for number, row in enumerate(rows, start=1):
        if number > dnc_import.MAX_ROWS:
            raise InvalidInput(f"file: more than {dnc_import.MAX_ROWS} rows", field="file")
        if id_col is None:
            if not any(c.strip() for c in row):
                continue
            id_col = _header_index(row, LEGAL_ID_HEADERS)
            if id_col is None:
                raise InvalidInput(
                    f"file: row {number}: no id column found; name it RUT, DNI, CUIT or Documento",
                    field="file",
                )
            header = row[id_col].strip()
            reason_col = _header_index(row, LEGAL_REASON_HEADERS)
            note_col = _header_index(row, LEGAL_NOTE_HEADERS)
            continue
        if not any(c.strip() for c in row):
            continue
        total += 1

        def cell(i: int | None, row: list[str] = row) -> str:
            return row[i].strip() if i is not None and i < len(row) else ""

        raw = cell(id_col)
        problem: tuple[str, str, str] | None = None
        key = ""
        try:
            key = _stop_id(raw, region)
        except ValueError as exc:
            problem = (header, raw, str(exc))
        text = cell(reason_col)
        why = _reason_of(text) if text else reason
        if problem is None and why is None:
            problem = (
                "reason",
                text,
                "unknown reason (use judicial, insolvency, dispute, deceased or other)"
                if text
                else "no reason: add a Motivo column or give reason",
            )
        if problem is not None:
            n_invalid += 1
            if len(invalid) < REPORT_ROWS:
                column, value, reason_text = problem
                invalid.append(
                    RowProblem(row=number, column=column, value=value[:64], reason=reason_text)
                )
            continue
        if key in entries:
            n_dup += 1
            if len(duplicate_rows) < REPORT_ROWS:
                duplicate_rows.append(number)
            continue
        assert why is not None
        entries[key] = (number, why, cell(note_col) or None)
    if id_col is None or total == 0:
        raise InvalidInput("file: the file has no data rows", field="file")
    now = clock.now()
    added = await ComplianceRepository.from_session(session).add_stops(
        account.id,
        [
            {"debtor_id": k, "reason": why, "note": note, "source": source or "import",
             "created_at": now}
            for k, (_, why, note) in entries.items()
        ],
    )  # fmt: skip
    for k in sorted(set(entries) - added):
        n_dup += 1
        if len(duplicate_rows) < REPORT_ROWS:
            duplicate_rows.append(entries[k][0])
    stopped = await stop_debtors(
        session, account.id, sorted(entries), outcome=Outcome.LEGAL_STOP.value
    )
    return LegalStopImportResult(
        column=header,
        total_rows=total,
        added=len(added),
        duplicates=n_dup,
        invalid=n_invalid,
        jobs_stopped=stopped,
        duplicate_rows=sorted(duplicate_rows),
        invalid_rows=invalid,
        truncated=n_dup > len(duplicate_rows) or n_invalid > len(invalid),
    )


async def honour_do_not_call_request(
    session: AsyncSession, *, account_id: str, dni: str | None, phone: str, attempt_id: str
) -> int:
    """The debtor asked during a call not to be called again: the number goes on the
    account's do-not-call list and the debtor's waiting jobs are cancelled in every
    batch (``last_outcome = "do_not_call"``). Returns how many jobs were cancelled."""
    await _insert(
        session, account_id, [phone], source="call",
        reason=f"asked not to be called again during call {attempt_id}",
    )  # fmt: skip
    if not dni:
        return 0  # the list blocks the number at dial time in every batch
    return await stop_debtors(session, account_id, [dni], outcome=Outcome.DO_NOT_CALL.value)


class StopSubject(Protocol):
    """What ``job_stops`` reads of a job (an ORM row or a selected row)."""

    @property
    def id(self) -> str: ...
    @property
    def dni(self) -> str | None: ...
    @property
    def phones(self) -> list[str] | None: ...
    @property
    def last_outcome(self) -> str | None: ...


async def job_stops(
    session: AsyncSession, account_id: str, jobs: Iterable[StopSubject]
) -> dict[str, ComplianceStop]:
    """Why compliance ended each of ``jobs`` (``last_outcome`` legal_stop / do_not_call):
    the legal stop on its debtor, or the do-not-call entry of one of its numbers, with
    its reason, note and source, by job id; in two queries for any number of jobs. A job
    that ended otherwise, or whose stop or entry was lifted since, is not in the map."""
    legal: dict[str, str] = {}
    dnc: dict[str, list[str]] = {}
    for job in jobs:
        if job.last_outcome == Outcome.LEGAL_STOP.value and job.dni:
            legal[job.id] = person_key(job.dni)
        elif job.last_outcome == Outcome.DO_NOT_CALL.value and job.phones:
            dnc[job.id] = [v for p in job.phones for v in phone_variants(p)]
    repo = ComplianceRepository.from_session(session)
    out: dict[str, ComplianceStop] = {}
    if legal:
        stops = await repo.stops_for(account_id, list(legal.values()))
        for job_id, key in legal.items():
            if (stop := stops.get(key)) is not None:
                out[job_id] = ComplianceStop(kind="legal_stop", reason=stop.reason, note=stop.note,
                                             source=stop.source, since=stop.created_at)  # fmt: skip
    if dnc:
        entries = await repo.entries_for(account_id, [v for vs in dnc.values() for v in vs])
        for job_id, variants in dnc.items():
            entry = next((entries[v] for v in variants if v in entries), None)
            if entry is not None:
                out[job_id] = ComplianceStop(kind="do_not_call", reason=entry.reason,
                                             source=entry.source, phone=entry.phone,
                                             since=entry.created_at)  # fmt: skip
    return out


async def job_stop(session: AsyncSession, job: Job) -> ComplianceStop | None:
    """Why compliance ended ``job`` (see ``job_stops``); None when it ended otherwise
    or the entry was lifted."""
    return (await job_stops(session, job.account_id, [job])).get(job.id)


RETENTION_CHUNK = 1000


async def purge_call_records(session: AsyncSession, *, now: datetime, retention_days: int) -> int:
    """Delete transcripts, summaries and recording links of calls older than
    ``retention_days`` (one chunk per call; the maintenance task repeats it). The
    attempts' outcome rows and the contact log are kept: the contact history is the
    proof of the contact limits and is kept at least two years."""
    cutoff = now - timedelta(days=retention_days)
    return await ComplianceRepository.from_session(session).clear_records_before(
        cutoff, RETENTION_CHUNK
    )


async def legally_stopped_keys(session: AsyncSession, account_id: str) -> set[str]:
    """Every debtor key under a legal stop (for ingestion: rows of these are skipped)."""
    return await ComplianceRepository.from_session(session).all_stopped(account_id)


def resolve_job_place(job: Job, country: str | None) -> None:
    """Record the debtor's place on a job that has none yet (see compliance.place)."""
    if job.place_source is not None:
        return
    place = resolve_place(country=country, payload=job.payload, phones=job.phones)
    job.timezone, job.region, job.place_source = place.timezone, place.region, place.source


async def default_caller_id(
    session: AsyncSession, account_id: str, provider: str, phone_number_id: str | None = None
) -> str | None:
    """The caller ID the account's configuration of ``provider`` presents when a batch
    names no ``from_number`` (checked at create/start/settings change and again at each
    claim): its ``from_number`` or the number behind its ``phone_number_id``. A batch
    naming its own ``phone_number_id``: the number behind it when the configuration
    knows it, else None (the adapter checks it at dial time)."""
    return await ComplianceRepository.from_session(session).configured_from_number(
        account_id, provider, phone_number_id
    )
