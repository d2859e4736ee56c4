"""Read, detect headers and validate a spreadsheet, in chunks, off the event loop.

Pure of the database: ``parse_chunks`` turns a file into ``Chunk`` messages (valid rows,
column by column, ready to insert) and a final ``Summary`` (counts, the first errors,
the mapping). ``ChunkStream`` runs it where it does not slow the caller down:

in a worker process, always: parsing and validation (CPU-bound Python) run on another
core while the caller filters and inserts the previous chunk (a thread would share the
GIL with the database driver's thread), and a crafted file can never take the API
process down: the child runs under an address-space limit (``kit.child``), so a reader
asking for 100 GB fails there and the caller answers 413. A thread of the caller's reads
the pipe one chunk ahead, so the process never waits for it to drain.

The process only ever runs this module's pure code and talks through one pipe, so any
exit path (error, cancellation, a crash in the child) ends with the child terminated.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, cast

import anyio.to_thread

from dialer.compliance.place import Place
from dialer.ingestion import headers as hdr
from dialer.ingestion.normalize import person_key
from dialer.ingestion.parsers import FileFormatError, open_sheet
from dialer.ingestion.rows import ContactRow, RowError, RowOptions, RowValidator
from dialer.kit import child

CHUNK = 2000  # small enough that the first insert starts early and the last one is short
HEADER_SCAN_ROWS = 30  # title rows, logos, blank lines above the header
MAX_REPORTED = 1000  # per list (errors, skipped, warnings); counts are always complete
# Memory the reader process may allocate beyond what it inherits: the largest sheet the
# extent guard lets through (MAX_SHEET_CELLS x 32 bytes in calamine) plus the rows in
# flight.
READER_MEMORY_BYTES = child.DEFAULT_BUDGET_BYTES


def dumps_phones(phones: list[str]) -> str:
    """E.164 numbers are ``+`` and digits: nothing to escape, so the JSON is a join."""
    return '["' + '","'.join(phones) + '"]' if phones else "[]"


def phone_list(phones_json: str) -> list[str]:
    """The numbers of a ``dumps_phones`` array (the inverse, for the same reason)."""
    return phones_json[2:-2].split('","') if len(phones_json) > 2 else []


@dataclass(slots=True)
class Chunk:
    """The valid rows of a stretch of the file, column by column, ready to insert.

    A handful of lists per chunk instead of a tuple (and a list) per row: far cheaper to
    pickle across the pipe and to unpickle, and the receiving process allocates no
    per-row containers, which otherwise set off the garbage collector every few hundred
    rows (each full pass walks the whole application heap). The inserter zips the
    columns straight into the driver.
    """

    row_numbers: list[int]
    names: list[str | None]
    dnis: list[str | None]
    emails: list[str | None]
    phones: list[str]  # JSON arrays of E.164 numbers (``dumps_phones``), as stored
    payloads: list[str]  # JSON objects, as stored
    keys: list[str | None]  # person_key(dni): what duplicates are matched on
    # The debtor's place (compliance.place), stored on the job at upload.
    timezones: list[str | None]
    regions: list[str | None]
    place_sources: list[str | None]
    warnings: dict[int, list[RowError]]  # position in the chunk -> that row's warnings
    done: int = 0  # data rows read so far (progress)
    total: int | None = None

    @classmethod
    def empty(cls) -> Chunk:
        return cls([], [], [], [], [], [], [], [], [], [], {})

    def __len__(self) -> int:
        return len(self.row_numbers)

    def appenders(self) -> tuple[Callable[[Any], None], ...]:
        """The columns' ``append`` methods, in field order (for the reader's loop)."""
        return (
            self.row_numbers.append, self.names.append, self.dnis.append,
            self.emails.append, self.phones.append, self.payloads.append, self.keys.append,
            self.timezones.append, self.regions.append, self.place_sources.append,
        )  # fmt: skip

    def select(self, keep: list[bool]) -> Chunk:
        """The rows whose ``keep`` flag is set, in order (warnings renumbered)."""
        positions = [i for i, k in enumerate(keep) if k]
        new_pos = {old: new for new, old in enumerate(positions)}
        return Chunk(
            list(compress(self.row_numbers, keep)),
            list(compress(self.names, keep)),
            list(compress(self.dnis, keep)),
            list(compress(self.emails, keep)),
            list(compress(self.phones, keep)),
            list(compress(self.payloads, keep)),
            list(compress(self.keys, keep)),
            list(compress(self.timezones, keep)),
            list(compress(self.regions, keep)),
            list(compress(self.place_sources, keep)),
            {new_pos[i]: w for i, w in self.warnings.items() if i in new_pos},
            self.done,
            self.total,
        )


@dataclass(slots=True)
class Merge:
    """One debtor whose later rows were merged into the job of its first row."""

    row_number: int  # the first row: the job that was sent in a Chunk
    rows: list[int]  # every row of the debtor, in file order
    phones: list[str]  # all the debtor's numbers, first-seen order
    payload: str  # the merged payload (RowValidator.merge), JSON
    place: Place  # the debtor's place (RowValidator.merged_place)


@dataclass
class Summary:
    """Everything known once the whole file has been read."""

    file_format: str
    mapping: hdr.HeaderMapping
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    empty_rows: int = 0
    done: int = 0  # data rows read, for the final progress report
    errors: list[RowError] = field(default_factory=list)
    truncated: bool = False
    # Consolidation: the debtors with several rows, and the warnings of their later rows
    # (their phones were repaired in rows that are not sent as jobs).
    merges: list[Merge] = field(default_factory=list)
    merged_rows: int = 0
    merge_warnings: list[RowError] = field(default_factory=list)


class ParseFailed(Exception):
    """The file cannot be imported at all (kind: unsupported, unreadable, header,
    too_large)."""

    def __init__(
        self,
        kind: Literal["unsupported", "unreadable", "header", "too_large"],
        message: str,
        fld: str,
    ):
        super().__init__(kind, message, fld)
        self.kind = kind
        self.message = message
        self.field = fld


def parse_chunks(
    path: Path,
    filename: str | None,
    column_mapping: dict[str, str | None] | None,
    options: RowOptions,
    chunk_size: int = CHUNK,
) -> Generator[Chunk | Summary, None, None]:
    """Yield the valid rows in chunks, then the Summary. Raises ParseFailed."""
    try:
        sheet = open_sheet(path, filename)
    except FileFormatError as exc:
        if exc.unsupported:
            raise ParseFailed("unsupported", str(exc), "file") from None
        raise ParseFailed("unreadable", str(exc), "file") from None
    with sheet:
        rows = sheet.rows()
        head: list[tuple[int, list[object]]] = []
        try:
            for item in rows:
                head.append(item)
                if len(head) >= HEADER_SCAN_ROWS:
                    break
            if not head:
                raise ParseFailed("unreadable", "the file has no rows", "file")
            try:
                mapping = hdr.detect([cells for _, cells in head], column_mapping)
            except hdr.HeaderError as exc:
                fld = "column_mapping" if column_mapping else "file"
                raise ParseFailed("header", str(exc), fld) from None
            # Only the columns the mapping reads: a streaming reader skips the others.
            sheet.keep_columns([c.index for c in mapping.columns])
            summary = Summary(file_format=sheet.format, mapping=mapping)
            sample = [cells for _, cells in head[mapping.header_row + 1 :]]
            validator = RowValidator(mapping, options, sample)
            validate = validator.validate
            # Consolidation: the first row of each debtor goes out as a job at once (so
            # inserting overlaps reading); later rows of the same debtor only update
            # what is remembered here, and become Merges in the Summary.
            consolidate = options.consolidate
            firsts: dict[str, tuple[int, list[str], str]] = {}
            later: dict[str, list[tuple[int, list[str], str]]] = {}
            # Rows without a usable phone wait for a row of their debtor that has one.
            phoneless: dict[str, list[ContactRow]] = {}
            total = sheet.total_rows
            done = 0

            def data_rows() -> Iterator[tuple[int, list[object]]]:
                yield from head[mapping.header_row + 1 :]
                yield from rows

            chunk = Chunk.empty()
            # The columns' append methods, looked up once per chunk rather than per row.
            (add_row, add_name, add_dni, add_email, add_phones, add_payload, add_key,
             add_tz, add_region, add_source) = chunk.appenders()  # fmt: skip
            size = valid = 0
            for row_number, cells in data_rows():
                done += 1
                result = validate(row_number, cells)
                if result is None:
                    summary.empty_rows += 1
                    continue
                if type(result) is list:
                    summary.invalid += 1
                    room = MAX_REPORTED - len(summary.errors)
                    if room < len(result):
                        summary.truncated = True
                    summary.errors.extend(result[: max(room, 0)])
                    continue
                row = cast(ContactRow, result)
                valid += 1
                dni = row.dni
                phones = row.phones
                if consolidate and dni:
                    key = person_key(dni)
                    if key in firsts:
                        later.setdefault(key, []).append((row_number, phones, row.payload_json))
                        summary.merged_rows += 1
                        if row.warnings and len(summary.merge_warnings) < MAX_REPORTED:
                            summary.merge_warnings.extend(row.warnings)
                        continue
                    if not phones:
                        phoneless.setdefault(key, []).append(row)
                        valid -= 1  # counted once its debtor is known to have a phone
                        continue
                    firsts[key] = (row_number, phones, row.payload_json)
                    for waiting in phoneless.pop(key, ()):
                        later.setdefault(key, []).append(
                            (waiting.row_number, [], waiting.payload_json)
                        )
                        summary.merged_rows += 1
                        valid += 1
                if row.warnings:
                    chunk.warnings[size] = row.warnings
                add_row(row_number)
                add_name(row.contact_name)
                add_dni(dni)
                add_email(row.email)
                # dumps_phones, inlined: E.164 numbers need no escaping.
                add_phones('["' + '","'.join(phones) + '"]' if phones else "[]")
                add_payload(row.payload_json)
                add_key(person_key(dni) if dni else None)
                place = row.place
                add_tz(place.timezone if place else None)
                add_region(place.region if place else None)
                add_source(place.source if place else None)
                size += 1
                if size >= chunk_size:
                    chunk.done, chunk.total = done, total
                    yield chunk
                    chunk = Chunk.empty()
                    (add_row, add_name, add_dni, add_email, add_phones, add_payload, add_key,
                     add_tz, add_region, add_source) = chunk.appenders()  # fmt: skip
                    size = 0
            if size:
                chunk.done, chunk.total = done, total
                yield chunk
        except FileFormatError as exc:
            raise ParseFailed("unreadable", str(exc), "file") from None
    for waiting_rows in phoneless.values():
        # No row of the debtor had a phone: each of its rows keeps its own error.
        for waiting in waiting_rows:
            assert waiting.phone_error is not None
            summary.invalid += 1
            if len(summary.errors) < MAX_REPORTED:
                summary.errors.append(waiting.phone_error)
            else:
                summary.truncated = True
    if phoneless:
        summary.errors.sort(key=lambda e: e.row_number)  # file order, as reported
    summary.done = done
    summary.valid = valid
    summary.rows = valid + summary.invalid
    for key, rest in later.items():
        first = firsts[key]
        # File order: a row without a phone may come before the debtor's first job row.
        debtor = sorted([first, *rest], key=lambda r: r[0])
        numbers = list(dict.fromkeys(p for _, ps, _ in debtor for p in ps))
        payload = validator.merge([pj for _, _, pj in debtor])
        summary.merges.append(
            Merge(
                row_number=first[0],
                rows=[r for r, _, _ in debtor],
                phones=numbers,
                payload=payload,
                place=validator.merged_place(payload, numbers),
            )
        )
    yield summary


class ChunkStream:
    """``parse_chunks`` off the event loop, in a memory-limited process (``parallel=False``
    runs it in a thread of this process instead: for tests comparing the two, never for
    files from users).

    ``async with ChunkStream(...) as chunks`` starts the reader (so it loads the file while
    the caller does its own lookups); ``async for msg in chunks`` receives the chunks and
    finally the Summary. Leaving the block stops the reader, whatever happened.
    """

    def __init__(
        self,
        path: Path,
        filename: str | None,
        column_mapping: dict[str, str | None] | None,
        options: RowOptions,
        *,
        parallel: bool | None = None,
    ) -> None:
        self._args = (path, filename, column_mapping, options)
        self._parallel = True if parallel is None else parallel
        self._proc: Any = None
        self._receiver: Connection | None = None
        self._gen: Generator[Chunk | Summary, None, None] | None = None
        self._finished = False
        # One thread reads the pipe a message ahead of the caller (see _receive).
        self._pool: ThreadPoolExecutor | None = None
        self._next: Future[Chunk | Summary] | None = None

    async def __aenter__(self) -> ChunkStream:
        if self._parallel:
            ctx = child.context()
            receiver, sender = ctx.Pipe(duplex=False)
            try:
                proc = ctx.Process(
                    target=_child, args=(sender, self._args, READER_MEMORY_BYTES), daemon=True
                )
                proc.start()
            except BaseException:
                receiver.close()
                raise
            finally:
                sender.close()
            self._proc, self._receiver = proc, receiver
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingestion-reader")
        else:
            self._gen = parse_chunks(*self._args)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._gen is not None:
            self._gen.close()
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            await anyio.to_thread.run_sync(self._stop)

    def __aiter__(self) -> AsyncIterator[Chunk | Summary]:
        return self

    async def __anext__(self) -> Chunk | Summary:
        if self._finished:
            raise StopAsyncIteration
        if self._gen is not None:
            msg = await anyio.to_thread.run_sync(next, self._gen, None)
            if msg is None:
                raise StopAsyncIteration
        else:
            msg = await self._receive()
        if isinstance(msg, Summary):
            self._finished = True
        return msg

    async def _receive(self) -> Chunk | Summary:
        # The next chunk is read and unpickled by a thread while the caller inserts this
        # one: without it the reader process, done validating, would wait for the caller
        # to drain the pipe before it could go on (a stall at every chunk).
        assert self._pool is not None
        pending = self._next or self._pool.submit(self._recv)
        self._next = None
        msg = await asyncio.wrap_future(pending)
        if not isinstance(msg, Summary):
            self._next = self._pool.submit(self._recv)
        return msg

    def _stop(self) -> None:
        # The child is terminated: a read in progress ends (end of file) before the pipe
        # is closed, never the other way round.
        self._proc.join(5)
        if self._proc.is_alive():  # pragma: no cover - SIGTERM is never ignored by _child
            self._proc.kill()
            self._proc.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._receiver is not None:
            self._receiver.close()

    def _recv(self) -> Chunk | Summary:
        assert self._receiver is not None
        try:
            msg = self._receiver.recv()
        except EOFError:
            self._proc.join(5)
            raise _failed(child.ChildFailed(self._proc.exitcode)) from None
        if isinstance(msg, BaseException):
            raise msg
        return msg  # type: ignore[no-any-return]


def _failed(exc: child.ChildFailed) -> ParseFailed:
    if exc.out_of_memory:
        return ParseFailed(
            "too_large",
            f"reading the file needs more than the {READER_MEMORY_BYTES >> 20} MB of memory "
            "a spreadsheet may use (a sheet spanning far more cells than it holds?); "
            "delete the cells far outside the data or split the file",
            "file",
        )
    return ParseFailed("unreadable", f"the file could not be read ({exc})", "file")


def _child(sender: Connection, args: tuple[Any, ...], budget: int) -> None:
    child.prepare_child(budget)
    try:
        for msg in parse_chunks(*args):
            sender.send(msg)
    except ParseFailed as exc:
        sender.send(exc)
    except MemoryError:
        sender.send(_failed(child.ChildFailed(-signal.SIGABRT)))
    except BaseException as exc:  # a bug or a broken file: reported, never a hang
        sender.send(RuntimeError(f"the spreadsheet reader failed: {exc!r}"))
    finally:
        sender.close()
