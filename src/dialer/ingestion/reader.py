"""Read, detect headers and validate a spreadsheet, in chunks, off the event loop.

Pure of the database: ``parse_chunks`` turns a file into ``Chunk`` messages (valid rows,
column by column, ready to insert) and a final ``Summary`` (counts, the first errors,
the mapping). ``ChunkStream`` runs it where it does not slow the caller down:

in a worker process, always: parsing and validation (CPU-bound Python) run on another
core while the caller filters and inserts the previous chunk (a thread would share the
GIL with the database driver's thread), and a crafted file can never take the API
process down: the child runs under an address-space limit (``kit.child``), so a reader
asking for 100 GB fails there and the caller answers 413. A thread of the caller's reads
the pipe one chunk ahead, so the process never waits for it to drain. A large .xlsx is
read by two such processes, each parsing every other block of the sheet (``parse_part``);
the caller's side puts the halves back in file order (``merge_parts``) and consolidates
(``consolidated``), which ``parse_chunks`` does in the one process otherwise.

The processes only ever run this module's pure code and each talks through one pipe, so
any exit path (error, cancellation, a crash in a child) ends with the children
terminated.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import os
import pickle
import queue
import signal
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    MutableMapping,
)
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import compress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, cast

import anyio.to_thread

try:  # POSIX only; elsewhere pipes keep their size
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from dialer.compliance.place import Place
from dialer.ingestion import headers as hdr
from dialer.ingestion.normalize import person_key
from dialer.ingestion.parsers import FileFormatError, is_xlsb, open_sheet, sniff_format
from dialer.ingestion.rows import ContactRow, RowError, RowOptions, RowValidator, dumps_payload
from dialer.kit import child
from dialer.kit.heap import relax_young_collections
from dialer.kit.search import search_text_of_json

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


class RowWarnings(MutableMapping[int, list[RowError]]):
    """A chunk's row warnings: position in the chunk -> that row's warnings.

    Pickled (to cross the pipe) as each row's count of warnings and one pickle of the
    warnings themselves, which the receiving process decodes only when it reads one:
    the report lists the first ``MAX_REPORTED`` and counts the rest, and an export has
    tens of thousands (repaired phones), whose unpickling (a frozen dataclass and its
    parameters each) was most of the importing process's unpickling time. A received
    one that ``select`` renumbers shares the pickle (``_at``: position -> position in it).
    """

    __slots__ = ("_at", "_blob", "_counts", "_items")

    def __init__(self, items: dict[int, list[RowError]] | None = None) -> None:
        self._items: dict[int, list[RowError]] | None = {} if items is None else items
        self._counts: dict[int, int] = {}  # while not decoded
        self._blob = b""
        self._at: dict[int, int] | None = None

    @classmethod
    def _received(
        cls, counts: dict[int, int], blob: bytes, at: dict[int, int] | None = None
    ) -> RowWarnings:
        warnings = cls()
        warnings._items, warnings._counts, warnings._blob, warnings._at = None, counts, blob, at
        return warnings

    def _decoded(self) -> dict[int, list[RowError]]:
        if self._items is None:
            source: dict[int, list[RowError]] = pickle.loads(self._blob)
            at = self._at
            self._items = source if at is None else {p: source[at[p]] for p in self._counts}
            self._counts, self._blob, self._at = {}, b"", None
        return self._items

    def count(self, pos: int) -> int:
        """How many warnings the row at ``pos`` has (without decoding them)."""
        if self._items is None:
            return self._counts.get(pos, 0)
        return len(self._items.get(pos, ()))

    def select(self, new_pos: dict[int, int]) -> RowWarnings:
        """The warnings of the rows in ``new_pos`` (old position -> new), renumbered."""
        if self._items is not None:
            return RowWarnings({new_pos[i]: w for i, w in self._items.items() if i in new_pos})
        at = self._at
        kept = [i for i in self._counts if i in new_pos]
        return RowWarnings._received(
            {new_pos[i]: self._counts[i] for i in kept},
            self._blob,
            {new_pos[i]: (i if at is None else at[i]) for i in kept},
        )

    def __getitem__(self, pos: int) -> list[RowError]:
        return self._decoded()[pos]

    def get(self, pos: int, default: Any = None) -> Any:
        return self._decoded()[pos] if pos in self else default

    def __setitem__(self, pos: int, warnings: list[RowError]) -> None:
        self._decoded()[pos] = warnings

    def __delitem__(self, pos: int) -> None:
        del self._decoded()[pos]

    def __contains__(self, pos: object) -> bool:
        return pos in (self._counts if self._items is None else self._items)

    def __iter__(self) -> Iterator[int]:
        return iter(self._counts if self._items is None else self._items)

    def __len__(self) -> int:
        return len(self._counts if self._items is None else self._items)

    def __repr__(self) -> str:
        return f"RowWarnings({self._decoded()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        if self._items is None:
            return (RowWarnings._received, (self._counts, self._blob, self._at))
        if not self._items:
            return (RowWarnings, ())
        counts = {p: len(w) for p, w in self._items.items()}
        blob = pickle.dumps(self._items, protocol=pickle.HIGHEST_PROTOCOL)
        return (RowWarnings._received, (counts, blob))


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
    # The contact-search key (kit/search.search_text), made here so the reader
    # processes do it rather than the importing one, the import's slowest part.
    search_keys: list[str]
    warnings: RowWarnings  # position in the chunk -> that row's warnings
    done: int = 0  # data rows read so far (progress)
    total: int | None = None
    # Read in parts (``parse_part``): the sheet block the rows come from, and the rows
    # that wait for their debtor's phone (consolidating): (row, key, payload, error).
    block: int = 0
    phoneless: list[tuple[int, str, str, RowError]] = field(default_factory=list)
    # The first chunk of a reader carries the header mapping, so that the consolidating
    # side can merge debtors while the file is still being read (``consolidated``).
    mapping: hdr.HeaderMapping | None = None

    @classmethod
    def empty(cls) -> Chunk:
        return cls([], [], [], [], [], [], [], [], [], [], [], RowWarnings())

    def __len__(self) -> int:
        return len(self.row_numbers)

    def appenders(self) -> tuple[Callable[[Any], None], ...]:
        """The columns' ``append`` methods, in field order (for the reader's loop)."""
        return (
            self.row_numbers.append, self.names.append, self.dnis.append,
            self.emails.append, self.phones.append, self.payloads.append, self.keys.append,
            self.timezones.append, self.regions.append, self.place_sources.append,
            self.search_keys.append,
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
            list(compress(self.search_keys, keep)),
            self.warnings.select(new_pos),
            self.done,
            self.total,
            self.block,
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
    merge_warnings: list[RowError] = field(default_factory=list)  # the first ones
    merge_warnings_n: int = 0  # all of them


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
    validators: list[RowValidator] = []
    rows = _validated(path, filename, column_mapping, options, chunk_size, None, validators)
    yield from consolidated(rows, options, validators)


def parse_part(
    path: Path,
    filename: str | None,
    column_mapping: dict[str, str | None] | None,
    options: RowOptions,
    part: tuple[int, int],
    chunk_size: int = CHUNK,
) -> Generator[Chunk | Summary, None, None]:
    """Part ``k`` of ``n`` of the file's rows, validated but not consolidated: the rows
    of every n-th block of the sheet XML (``xlsx.XlsxSheet.split``; the other blocks are
    not parsed). ``merge_parts`` puts the parts back in file order and ``consolidated``
    makes of them exactly what ``parse_chunks`` gives. A sheet that cannot be split is
    read whole by part 0 (the others read no row)."""
    return _validated(path, filename, column_mapping, options, chunk_size, part, [])


def _validated(
    path: Path,
    filename: str | None,
    column_mapping: dict[str, str | None] | None,
    options: RowOptions,
    chunk_size: int,
    part: tuple[int, int] | None,
    validators: list[RowValidator],
) -> Generator[Chunk | Summary, None, None]:
    """The valid rows in chunks (every row, before consolidation), then a Summary of the
    rows read; the validator built is appended to ``validators``."""
    try:
        sheet = open_sheet(path, filename)
    except FileFormatError as exc:
        if exc.unsupported:
            raise ParseFailed("unsupported", str(exc), "file") from None
        raise ParseFailed("unreadable", str(exc), "file") from None
    with sheet:
        rows = sheet.rows()
        head: list[tuple[int, list[object]]] = []
        head_blocks: list[int] = []  # the sheet block of each head row (read in parts)
        try:
            for item in rows:
                head.append(item)
                head_blocks.append(sheet.block())
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
            start = mapping.header_row + 1
            sample = [cells for _, cells in head[start:]]
            validator = RowValidator(mapping, options, sample)
            validators.append(validator)
            validate = validator.validate
            consolidate = options.consolidate
            total = sheet.total_rows
            done = 0
            own = head[start:]
            own_blocks = head_blocks[start:]
            block_of: Callable[[], int] | None = None
            if part is not None:
                k, n = part
                if sheet.split(k, n):
                    block_of = sheet.block
                    mine = [b % n == k for b in own_blocks]
                    own = list(compress(own, mine))
                    own_blocks = list(compress(own_blocks, mine))
                elif k:
                    own, rows = [], iter(())  # not splittable: part 0 reads it all

            def data_rows() -> Iterator[tuple[int, list[object]]]:
                yield from own
                yield from rows

            chunk = Chunk.empty()
            chunk.mapping = mapping
            # The columns' append methods, looked up once per chunk rather than per row.
            (add_row, add_name, add_dni, add_email, add_phones, add_payload, add_key,
             add_tz, add_region, add_source, add_search) = chunk.appenders()  # fmt: skip
            phoneless = chunk.phoneless
            size = valid = 0
            block = -1
            head_i = 0
            for row_number, cells in data_rows():
                if block_of is not None:
                    # The block of this row (head rows: as recorded while reading them).
                    if head_i < len(own_blocks):
                        now = own_blocks[head_i]
                        head_i += 1
                    else:
                        now = block_of()
                    if now != block:
                        if size or phoneless:
                            chunk.done, chunk.total = done, total
                            yield chunk
                            chunk = Chunk.empty()
                            (add_row, add_name, add_dni, add_email, add_phones, add_payload,
                             add_key, add_tz, add_region, add_source,
                             add_search) = chunk.appenders()  # fmt: skip
                            phoneless = chunk.phoneless
                            size = 0
                        chunk.block = block = now
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
                dni = row.dni
                phones = row.phones
                key = person_key(dni) if dni else None
                if consolidate and key is not None and not phones:
                    # Its debtor may have a phone in another row: decided by consolidated.
                    assert row.phone_error is not None
                    phoneless.append((row_number, key, row.payload_json, row.phone_error))
                    continue
                valid += 1
                if row.warnings:
                    chunk.warnings[size] = row.warnings
                add_row(row_number)
                add_name(row.contact_name)
                add_dni(dni)
                add_email(row.email)
                # dumps_phones, inlined: E.164 numbers need no escaping.
                phones_json = '["' + '","'.join(phones) + '"]' if phones else "[]"
                add_phones(phones_json)
                add_search(search_text_of_json(row.contact_name, dni, phones_json))
                add_payload(row.payload_json)
                add_key(key)
                place = row.place
                add_tz(place.timezone if place else None)
                add_region(place.region if place else None)
                add_source(place.source if place else None)
                size += 1
                if size >= chunk_size:
                    chunk.done, chunk.total = done, total
                    yield chunk
                    chunk = Chunk.empty()
                    chunk.block = block
                    (add_row, add_name, add_dni, add_email, add_phones, add_payload, add_key,
                     add_tz, add_region, add_source, add_search) = chunk.appenders()  # fmt: skip
                    phoneless = chunk.phoneless
                    size = 0
            if size or phoneless:
                chunk.done, chunk.total = done, total
                yield chunk
        except FileFormatError as exc:
            raise ParseFailed("unreadable", str(exc), "file") from None
    summary.done = done
    summary.valid = valid
    yield summary


def consolidated(
    messages: Iterable[Chunk | Summary],
    options: RowOptions,
    validators: list[RowValidator] | None = None,
) -> Generator[Chunk | Summary, None, None]:
    """The chunks and Summary of ``_validated`` (in file order), with each debtor's later
    rows merged into the job of its first row when consolidating: the first row of each
    debtor goes out as a job at once (so inserting overlaps reading); later rows of the
    same debtor only update what is remembered here, and become Merges in the Summary.
    Rows without a usable phone wait for a row of their debtor that has one.

    A debtor's rows are usually next to each other: a debtor that got rows in one chunk
    and none in the next is merged then, while the file is still being read, and that
    merge is used at the end if no row of the debtor came after it (a debtor whose rows
    come back after such a merge is merged once more at the end only)."""
    consolidate = options.consolidate
    firsts: dict[str, tuple[int, str, str]] = {}  # key -> (row, phones JSON, payload)
    later: dict[str, list[tuple[int, str, str]]] = {}
    waiting: dict[str, list[tuple[int, str, RowError]]] = {}  # (row, payload, error)
    merged_rows = 0
    merged_valid = 0  # waiting rows whose debtor turned out to have a phone
    merge_warnings: list[RowError] = []
    merge_warnings_n = 0
    validator: RowValidator | None = None  # known from the first chunk on
    early_mapping: hdr.HeaderMapping | None = None
    early: dict[str, tuple[int, Merge]] = {}  # key -> (later rows merged, its Merge)
    scattered: set[str] = set()  # rows came after an early merge: merged at the end
    touched: set[str] = set()  # debtors that got a later row in this chunk
    recent: set[str] = set()  # ... in the chunk before

    def add_later(key: str, item: tuple[int, str, str]) -> None:
        later.setdefault(key, []).append(item)
        touched.add(key)

    def phoneless_row(row: int, key: str, payload: str, error: RowError) -> None:
        nonlocal merged_rows, merged_valid
        if key in firsts:
            add_later(key, (row, "[]", payload))
            merged_rows += 1
            merged_valid += 1
        else:
            waiting.setdefault(key, []).append((row, payload, error))

    def merge_early() -> None:
        nonlocal recent, touched
        if validator is not None:
            for key in recent - touched:
                if key not in scattered:
                    early[key] = (len(later[key]), _merge(validator, firsts[key], later[key]))
            for key in touched.intersection(early):
                del early[key]
                scattered.add(key)
        recent, touched = touched, set()

    summary: Summary | None = None
    for msg in messages:
        if isinstance(msg, Summary):
            summary = msg
            break
        if consolidate and validator is None:
            if validators:
                validator = validators[0]
            elif msg.mapping is not None:
                early_mapping = msg.mapping
                validator = RowValidator(early_mapping, options)
        if not consolidate or (not msg.phoneless and not any(msg.keys)):
            msg.phoneless = []
            if consolidate:
                merge_early()
            yield msg
            continue
        keep: list[bool] = []
        pending = msg.phoneless
        next_phoneless = pending[0][0] if pending else None
        j = 0
        for pos, key in enumerate(msg.keys):
            row = msg.row_numbers[pos]
            while next_phoneless is not None and next_phoneless < row:
                phoneless_row(*pending[j])
                j += 1
                next_phoneless = pending[j][0] if j < len(pending) else None
            if key is None:
                keep.append(True)
                continue
            if key in firsts:
                add_later(key, (row, msg.phones[pos], msg.payloads[pos]))
                merged_rows += 1
                if pos in msg.warnings:
                    merge_warnings_n += msg.warnings.count(pos)
                    if len(merge_warnings) < MAX_REPORTED:
                        merge_warnings.extend(msg.warnings[pos])
                keep.append(False)
                continue
            firsts[key] = (row, msg.phones[pos], msg.payloads[pos])
            for wrow, wpayload, _ in waiting.pop(key, ()):
                add_later(key, (wrow, "[]", wpayload))
                merged_rows += 1
                merged_valid += 1
            keep.append(True)
        for item in pending[j:]:
            phoneless_row(*item)
        merge_early()
        kept = msg if all(keep) else msg.select(keep)
        kept.phoneless = []
        if kept:
            yield kept
    assert summary is not None
    for waiting_rows in waiting.values():
        # No row of the debtor had a phone: each of its rows keeps its own error.
        for _, _, error in waiting_rows:
            summary.invalid += 1
            if len(summary.errors) < MAX_REPORTED:
                summary.errors.append(error)
            else:
                summary.truncated = True
    if waiting:
        summary.errors.sort(key=lambda e: e.row_number)  # file order, as reported
    summary.valid += merged_valid
    summary.rows = summary.valid + summary.invalid
    summary.merged_rows = merged_rows
    summary.merge_warnings = merge_warnings
    summary.merge_warnings_n = merge_warnings_n
    if later:
        if validator is None or (early_mapping is not None and early_mapping != summary.mapping):
            validator = validators[0] if validators else RowValidator(summary.mapping, options)
            early.clear()
        for key, rest in later.items():
            hit = early.get(key)
            if hit is not None and hit[0] == len(rest):
                summary.merges.append(hit[1])
            else:
                summary.merges.append(_merge(validator, firsts[key], rest))
    yield summary


def _merge(
    validator: RowValidator, first: tuple[int, str, str], rest: list[tuple[int, str, str]]
) -> Merge:
    """One debtor's Merge from its first job row and its later rows, (row, phones JSON,
    payload) each."""
    # File order: a row without a phone may come before the debtor's first job row.
    debtor = sorted([first, *rest], key=lambda r: r[0])
    numbers = list(dict.fromkeys(p for _, pj, _ in debtor for p in phone_list(pj)))
    merged = validator.merged([pl for _, _, pl in debtor])
    return Merge(
        row_number=first[0],
        rows=[r for r, _, _ in debtor],
        phones=numbers,
        payload=dumps_payload(merged),
        place=validator.merged_place(merged, numbers),
    )


def merge_parts(
    receive: Callable[[int], Chunk | Summary], parts: int
) -> Generator[Chunk | Summary, None, None]:
    """The messages of ``parse_part`` 0..parts-1 (``receive(k)``: part k's next message)
    in file order: block b is part b % parts's, and a part has finished a block when its
    next message is of a later block (or its Summary). Then one Summary of the whole."""
    pending: list[Chunk | Summary | None] = [None] * parts
    done = [0] * parts  # rows read by each part, for the progress figures
    block = 0
    while True:
        ended = 0
        for k in range(parts):
            if pending[k] is None:
                pending[k] = receive(k)
            ended += isinstance(pending[k], Summary)
        if ended == parts:
            break
        k = block % parts
        msg = pending[k]
        if isinstance(msg, Summary) or cast(Chunk, msg).block > block:
            block += 1  # part k is past this block
            continue
        assert isinstance(msg, Chunk)
        pending[k] = None
        done[k] = msg.done
        msg.done = sum(done)
        yield msg
    summaries = cast(list[Summary], pending)
    whole = summaries[0]
    errors: list[RowError] = list(
        heapq.merge(*(s.errors for s in summaries), key=lambda e: e.row_number)
    )
    whole.truncated = any(s.truncated for s in summaries) or len(errors) > MAX_REPORTED
    whole.errors = errors[:MAX_REPORTED]
    for other in summaries[1:]:
        whole.valid += other.valid
        whole.invalid += other.invalid
        whole.empty_rows += other.empty_rows
        whole.done += other.done
    yield whole


class ChunkStream:
    """``parse_chunks`` off the event loop, in memory-limited processes (``parallel=False``
    runs it in a thread of this process instead: for tests comparing the two, never for
    files from users).

    A large .xlsx (``SPLIT_MIN_BYTES``) is read by ``READER_PARTS`` processes at once,
    each parsing and validating every other block of the sheet (``parse_part``), and put
    back in file order and consolidated here (``merge_parts``, ``consolidated``): the
    same chunks' rows and the same Summary as one process, in about half the time on two
    cores. Anything else is read by one process.

    ``async with ChunkStream(...) as chunks`` starts the reader (so it loads the file while
    the caller does its own lookups); ``async for msg in chunks`` receives the chunks and
    finally the Summary. Leaving the block stops the readers, whatever happened.
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
        self._options = options
        self._parallel = True if parallel is None else parallel
        self._procs: list[Any] = []
        self._receivers: list[Connection] = []
        self._gen: Generator[Chunk | Summary, None, None] | None = None
        self._finished = False
        # One thread reads a message ahead of the caller (see _receive); reading in parts,
        # one more per part drains its pipe into a queue.
        self._pool: ThreadPoolExecutor | None = None
        self._next: Future[Chunk | Summary] | None = None
        self._queues: list[queue.SimpleQueue[Any]] = []
        self._drains: list[threading.Thread] = []
        # Started as the Summary arrives (see __anext__), awaited on leaving the block.
        self._stopping: asyncio.Future[None] | None = None

    async def __aenter__(self) -> ChunkStream:
        if not self._parallel:
            self._gen = parse_chunks(*self._args)
            return self
        parts = _parts(*self._args[:2])
        ctx = child.context()
        try:
            for k in range(parts):
                receiver, sender = ctx.Pipe(duplex=False)
                self._receivers.append(receiver)
                _widen(sender)
                args = self._args if parts == 1 else (*self._args, (k, parts))
                try:
                    proc = ctx.Process(
                        target=_child, args=(sender, args, READER_MEMORY_BYTES), daemon=True
                    )
                    proc.start()
                finally:
                    sender.close()
                self._procs.append(proc)
        except BaseException:
            await self.__aexit__()
            raise
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="ingestion-reader")
        if parts > 1:
            for k in range(parts):
                q: queue.SimpleQueue[Any] = queue.SimpleQueue()
                drain = threading.Thread(
                    target=self._drain, args=(k, q), name=f"ingestion-part-{k}", daemon=True
                )
                drain.start()
                self._queues.append(q)
                self._drains.append(drain)
            self._gen = consolidated(merge_parts(self._part, parts), self._options)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stopping is not None:
            await self._stopping
            return
        if self._gen is not None and not self._procs:
            self._gen.close()
        self._terminate()
        if self._procs or self._receivers:
            await anyio.to_thread.run_sync(self._stop)

    def _terminate(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()

    def __aiter__(self) -> AsyncIterator[Chunk | Summary]:
        return self

    async def __anext__(self) -> Chunk | Summary:
        if self._finished:
            raise StopAsyncIteration
        if not self._procs:
            assert self._gen is not None
            msg = await anyio.to_thread.run_sync(next, self._gen, None)
            if msg is None:
                raise StopAsyncIteration
        else:
            msg = await self._receive()
        if isinstance(msg, Summary):
            self._finished = True
            if self._procs:
                # Everything is read. The readers' exit and the joins (a tenth of a
                # second for a large file) overlap what the caller does with the
                # Summary; leaving the block waits for them.
                self._terminate()
                self._stopping = asyncio.get_running_loop().run_in_executor(None, self._stop)
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
        # The children are terminated: a read in progress ends (end of file) before the
        # pipes are closed, never the other way round.
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():  # pragma: no cover - SIGTERM is never ignored by _child
                proc.kill()
                proc.join()
        for drain in self._drains:
            drain.join(5)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._gen is not None:
            self._gen.close()
        for receiver in self._receivers:
            receiver.close()

    def _recv(self) -> Chunk | Summary:
        if self._gen is not None:  # in parts: merged and consolidated here
            return next(self._gen)
        return self._message(self._receivers[0].recv, 0)

    def _message(self, recv: Callable[[], Any], k: int) -> Chunk | Summary:
        try:
            msg = recv()
        except EOFError:
            self._procs[k].join(5)
            raise _failed(child.ChildFailed(self._procs[k].exitcode)) from None
        if isinstance(msg, BaseException):
            raise msg
        return msg  # type: ignore[no-any-return]

    def _drain(self, k: int, into: queue.SimpleQueue[Any]) -> None:
        """Part k's messages into its queue as they come (so no part waits for the merge
        to read its pipe), up to its Summary, an error or the end of the pipe."""
        receiver = self._receivers[k]
        while True:
            try:
                msg = receiver.recv()
            except (EOFError, OSError):
                into.put(_END)
                return
            into.put(msg)
            if isinstance(msg, Summary | BaseException):
                return

    def _part(self, k: int) -> Chunk | Summary:
        def recv() -> Any:
            msg = self._queues[k].get()
            if msg is _END:
                raise EOFError
            return msg

        return self._message(recv, k)


_END = object()  # a part's pipe ended without its Summary
# A chunk is a few hundred KB to a few MB pickled. Through a pipe of the default 64 KB
# the reader process blocks every 64 KB until a thread of the caller reads on, and that
# thread first has to get the GIL back from the caller's other threads (up to the 5 ms
# switch interval each time). With 1 MB a chunk goes in one or a few writes.
PIPE_BYTES = 1 << 20


def _widen(conn: Connection) -> None:
    """Give the pipe under ``conn`` a PIPE_BYTES buffer where the system allows it."""
    with contextlib.suppress(AttributeError, OSError):  # Linux only, up to pipe-max-size
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


# A file this large is read in parts (smaller ones are read before a second process
# would be ready to help), by this many processes.
SPLIT_MIN_BYTES = 1 << 20
READER_PARTS = 2


def _parts(path: Path, filename: str | None) -> int:
    """How many processes read the file: ``READER_PARTS`` for a large .xlsx on a machine
    with that many cores, else one."""
    if (os.cpu_count() or 1) < READER_PARTS:
        return 1
    try:
        if path.stat().st_size < SPLIT_MIN_BYTES:
            return 1
        with path.open("rb") as f:
            head = f.read(4096)
        if sniff_format(head, filename or path.name) != "xlsx" or is_xlsb(path):
            return 1  # (an .xlsb is read whole by calamine: each part would load it)
        return READER_PARTS
    except (OSError, FileFormatError):
        return 1


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


# The reader allocates millions of short-lived containers (the parser's match tuples,
# each row's cells, the validator's intermediate tuples) and next to no reference
# cycles: with the default thresholds (a pass every 700 allocations, a full one every
# 70,000) the collector took ~10 % of a reader's CPU and found nothing. A young
# generation of this size still frees any cycle within a few hundred rows.
READER_GC_THRESHOLDS = (50_000, 20, 10)


def _child(sender: Connection, args: tuple[Any, ...], budget: int) -> None:
    child.prepare_child(budget)
    relax_young_collections(READER_GC_THRESHOLDS)
    try:
        for msg in parse_chunks(*args) if len(args) == 4 else parse_part(*args):
            sender.send(msg)
    except ParseFailed as exc:
        sender.send(exc)
    except MemoryError:
        sender.send(_failed(child.ChildFailed(-signal.SIGABRT)))
    except BaseException as exc:  # a bug or a broken file: reported, never a hang
        sender.send(RuntimeError(f"the spreadsheet reader failed: {exc!r}"))
    finally:
        sender.close()
