"""The worker-process reader gives exactly the in-process result, and cleans up after itself."""

from __future__ import annotations

import copy
import dataclasses
import multiprocessing
import pickle
import random
import re
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select, text
from stdnum.cl import rut as cl_rut

from dialer.account.auth import Principal
from dialer.db.session import Database
from dialer.errors import AppError
from dialer.ingestion import normalize as nz
from dialer.ingestion import reader, service, xlsx
from dialer.ingestion.rows import RowError, RowOptions
from dialer.ingestion.samples import write_real_export_chile, write_sample_chile
from dialer.ingestion.schemas import ImportOptions
from dialer.models import Job
from tests.factories import NewAccount

ADMIN = Principal(is_admin=True)


def _report(body: Any) -> dict[str, Any]:
    data = body.model_dump(mode="json")
    data.pop("batch_id", None)
    return data  # type: ignore[no-any-return]


async def _jobs(database: Database, account_id: str) -> list[tuple[Any, ...]]:
    async with database.read() as s:
        rows = await s.execute(
            select(Job.row_number, Job.contact_name, Job.dni, Job.phones, Job.email, Job.payload)
            .where(Job.account_id == account_id)
            .order_by(Job.row_number)
        )
        return [tuple(r) for r in rows]


async def _in_thread_and_in_process(
    new_account: NewAccount, add_dnc: Any, database: Database, path: Path
) -> dict[bool, tuple[Any, Any, Any]]:
    """Preview, create and the jobs of ``path``, read in the calling process (False) and
    by the reader process(es) (True), each into a new account whose do-not-call list has
    the sample's first debtor's only phone (that row is skipped)."""
    results = {}
    for parallel in (False, True):
        acc, _ = await new_account()
        await add_dnc(acc, "+56971924865")
        options = ImportOptions(account_id=acc, batch_name="Marzo")
        async with database.write() as s:
            preview = await service.preview_import(s, ADMIN, options, path, parallel=parallel)
        async with database.write() as s:
            created = await service.create_import(s, ADMIN, options, path, parallel=parallel)
        results[parallel] = (_report(preview), _report(created), await _jobs(database, acc))
    return results


async def test_worker_process_gives_the_same_preview_and_jobs(
    new_account: NewAccount, add_dnc: Any, database: Database, tmp_path: Path
) -> None:
    path = write_sample_chile(tmp_path / "cartera.xlsx", rows=2500, with_errors=True)
    results = await _in_thread_and_in_process(new_account, add_dnc, database, path)
    in_thread, in_process = results[False], results[True]
    assert in_process == in_thread
    preview, created, jobs = in_process
    assert created["counts"]["accepted"] == len(jobs) == 2496
    assert created["skipped"][0] == {
        "row": 4,
        "reason": "do_not_call",
        "message": "every phone is on the do-not-call list",
        "params": {"phones": ["+56971924865"]},
    }
    assert [(e["row"], e["column"]) for e in created["errors"]] == [
        (8, "RUT"),
        (12, "Teléfono 1"),
        (18, "Fecha Vencimiento"),
    ]
    assert preview["sample"][0]["payload"]["currency"] == "CLP"


@pytest.mark.parametrize("shape", ["sample", "export"])
async def test_a_sheet_read_in_parts_gives_the_one_process_result(
    new_account: NewAccount,
    add_dnc: Any,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
) -> None:
    """A large .xlsx is read by two processes, each parsing every other block of the
    sheet XML, and put back together in file order (then consolidated): the same report
    and jobs as one reader. 4 KB blocks make a small file hundreds of blocks, so blocks
    start and end everywhere (title rows, the header, the blank row and the bad rows of
    the sample; debtors whose instalments, some without a phone, span blocks and the
    end of the file in the export)."""
    monkeypatch.setattr(reader, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(xlsx, "BLOCK_BYTES", 4096)
    path = tmp_path / "cartera.xlsx"
    if shape == "sample":
        write_sample_chile(path, rows=1500, with_errors=True)
    else:
        write_real_export_chile(path, debtors=400)
    assert reader._parts(path, path.name) == 2
    results = await _in_thread_and_in_process(new_account, add_dnc, database, path)
    assert results[True] == results[False]
    created = results[True][1]
    if shape == "sample":
        assert created["counts"]["accepted"] == 1496
        assert [e["row"] for e in created["errors"]] == [8, 12, 18]
    else:
        assert created["counts"]["accepted"] == 400
        assert created["counts"]["debtors_with_several_cuotas"] > 0
    assert multiprocessing.active_children() == []


async def test_a_failed_insert_stops_every_part_reader(
    new_account: NewAccount, database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(xlsx, "BLOCK_BYTES", 4096)
    acc, _ = await new_account()
    path = write_sample_chile(tmp_path / "s.xlsx", rows=3000, with_errors=False)
    calls = 0

    async def failing(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        raise RuntimeError("disk full")

    monkeypatch.setattr(service.IngestionRepository, "insert_jobs_fast", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        async with database.write() as s:
            await service.create_import(s, ADMIN, ImportOptions(account_id=acc), path)
    assert calls == 1
    # Both readers were still busy with the rest of the file: stopped, not orphaned.
    assert multiprocessing.active_children() == []
    assert await _jobs(database, acc) == []


async def test_job_ids_are_unique_opaque_hex(
    new_account: NewAccount, database: Database, tmp_path: Path
) -> None:
    acc, _ = await new_account()
    path = write_sample_chile(tmp_path / "c.xlsx", rows=3000, with_errors=False)
    async with database.write() as s:
        await service.create_import(s, ADMIN, ImportOptions(account_id=acc), path, parallel=True)
    async with database.read() as s:
        ids = list((await s.execute(select(Job.id).where(Job.account_id == acc))).scalars())
    assert len(ids) == len(set(ids)) == 3000
    assert all(re.fullmatch(r"job_[0-9a-f]{32}", i) for i in ids)


async def test_unreadable_file_in_worker_process_is_a_clear_4xx(
    new_account: NewAccount, database: Database, tmp_path: Path
) -> None:
    acc, _ = await new_account()
    pdf = tmp_path / "cartera.xlsx"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 4096)
    no_phone = tmp_path / "sin_fono.csv"
    no_phone.write_text("RUT;Nombre\n12.345.678-5;Ana\n", encoding="utf-8")
    options = ImportOptions(account_id=acc)
    for path, status, message in (
        (pdf, 415, "PDF"),
        (no_phone, 422, "no header row with a phone column"),
    ):
        with pytest.raises(AppError) as info:
            async with database.write() as s:
                await service.create_import(s, ADMIN, options, path, parallel=True)
        assert info.value.status_code == status
        assert message in info.value.message
        assert info.value.field == "file"
    assert multiprocessing.active_children() == []


async def test_database_failure_stops_the_worker_and_writes_nothing(
    new_account: NewAccount, database: Database, dialect: str, tmp_path: Path
) -> None:
    acc, _ = await new_account()
    path = write_sample_chile(tmp_path / "s.xlsx", rows=6000, with_errors=False)
    async with database.write() as s:
        if dialect == "sqlite":
            await s.execute(text(
                "CREATE TRIGGER boom BEFORE INSERT ON jobs WHEN NEW.row_number = 50 "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            ))  # fmt: skip
        else:
            await s.execute(text(
                "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                "IF NEW.row_number = 50 THEN RAISE EXCEPTION 'disk full'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            ))  # fmt: skip
            await s.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
    try:
        with pytest.raises(Exception, match="disk full"):
            async with database.write() as s:
                await service.create_import(
                    s, ADMIN, ImportOptions(account_id=acc), path, parallel=True
                )
        # The reader was still busy with the rest of the file: it is stopped, not orphaned.
        assert multiprocessing.active_children() == []
        assert await _jobs(database, acc) == []
    finally:
        async with database.write() as s:
            await s.execute(
                text("DROP TRIGGER boom" if dialect == "sqlite" else "DROP TRIGGER boom ON jobs")
            )


def test_rut_check_digit_matches_stdnum() -> None:
    rng = random.Random(4)
    bodies = [str(n) for n in range(1, 20_000)]
    bodies += [str(rng.randrange(1_000_000, 100_000_000)) for _ in range(50_000)]
    for body in bodies:
        assert nz.rut_check_digit(body) == cl_rut.calc_check_digit(body), body
    # Both spellings of a valid RUT normalise; a wrong digit is still refused.
    assert nz.normalize_rut("5.000.368-k") == "5000368-K"
    with pytest.raises(ValueError, match="wrong check digit"):
        nz.normalize_rut("5.000.368-1")


def test_debtors_merged_while_reading_are_the_debtors_merged_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``consolidated`` merges a debtor as soon as a chunk passes without a row of it,
    and merges again at the end one whose rows come back later (the export puts the last
    instalment of every fifth such debtor at the end of the file): the same chunks and
    Merges as when every debtor is merged once the whole file is read (chunks without
    the header mapping, so nothing can be merged early)."""
    path = tmp_path / "export.xlsx"
    write_real_export_chile(path, debtors=400)
    options = RowOptions(country="CL", consolidate=True)
    messages = list(reader.parse_part(path, None, None, options, (0, 1), chunk_size=25))
    assert isinstance(messages[0], reader.Chunk)
    assert messages[0].mapping is not None
    calls = {"reading": 0, "end": 0}
    merge = reader._merge
    phase = "reading"

    def counted(*args: Any) -> reader.Merge:
        calls[phase] += 1
        return merge(*args)

    monkeypatch.setattr(reader, "_merge", counted)
    early: list[reader.Chunk | reader.Summary] = []
    for msg in reader.consolidated(copy.deepcopy(messages), options):
        early.append(msg)
        if isinstance(msg, reader.Chunk) and msg.done == messages[-2].done:
            phase = "end"  # the last chunk is out: only the Summary is left
    at_end = copy.deepcopy(messages)
    for msg in at_end:
        if isinstance(msg, reader.Chunk):
            msg.mapping = None
    phase = "reference"
    calls["reference"] = 0
    reference = list(reader.consolidated(at_end, options))
    summary = early[-1]
    assert isinstance(summary, reader.Summary)
    assert [dataclasses.astuple(m) for m in summary.merges] == [
        dataclasses.astuple(m) for m in cast(reader.Summary, reference[-1]).merges
    ]
    assert [_chunk_rows(c) for c in early[:-1]] == [_chunk_rows(c) for c in reference[:-1]]
    several = len(summary.merges)
    assert calls["reference"] == several > 20
    # Most debtors were merged while the file was read; those that came back, again.
    assert calls["reading"] > several / 2
    assert 0 < calls["end"] < several / 2


def _chunk_rows(chunk: reader.Chunk | reader.Summary) -> tuple[Any, ...]:
    assert isinstance(chunk, reader.Chunk)
    return (chunk.row_numbers, chunk.phones, chunk.payloads, chunk.warnings, chunk.timezones)


def test_row_warnings_read_after_the_pipe_are_the_ones_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunk's warnings cross the pipe as counts plus one pickle, decoded only when one
    is read: counting them, renumbering them (``select``, also twice) and reading them
    give what the plain mapping gives."""
    a, b, c = (
        RowError(n, "Teléfono", f"repaired {n}", "phone_repaired", {"n": n}) for n in (2, 5, 9)
    )
    plain = {0: [a], 3: [b, c], 4: [c]}
    sent = reader.RowWarnings(dict(plain))
    received = pickle.loads(pickle.dumps(sent))
    once = pickle.loads(pickle.dumps(sent))
    with monkeypatch.context() as m:
        m.setattr(reader.pickle, "loads", _never)  # counting decodes nothing
        assert [received.count(p) for p in range(5)] == [1, 0, 0, 2, 1]
        assert (len(received), list(received), 3 in received, 1 in received) == (
            3,
            [0, 3, 4],
            True,
            False,
        )
        picked = received.select({3: 0, 4: 1})  # rows 3 and 4 kept, now first and second
        again = picked.select({1: 0})
        assert (picked.count(0), picked.count(1), again.count(0), len(again)) == (2, 1, 1, 1)
    assert dict(received) == plain
    assert dict(picked) == {0: [b, c], 1: [c]}
    assert dict(again) == {0: [c]}
    assert dict(pickle.loads(pickle.dumps(picked))) == {0: [b, c], 1: [c]}
    once[1] = [a]  # a row's warnings added on this side (a dropped do-not-call number)
    assert (once.count(1), once.get(1), once.get(2)) == (1, [a], None)
    assert dict(pickle.loads(pickle.dumps(reader.RowWarnings()))) == {}


def _never(*_: Any) -> Any:
    raise AssertionError("decoded")


async def test_a_report_full_of_warnings_counts_the_rest_in_parts_as_in_one_process(
    new_account: NewAccount,
    add_dnc: Any,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the listed warnings (MAX_REPORTED; 25 here) the rest are only counted, and
    the readers' are then never decoded: the same counts and lists either way."""
    monkeypatch.setattr(reader, "SPLIT_MIN_BYTES", 0)
    monkeypatch.setattr(xlsx, "BLOCK_BYTES", 4096)
    path = tmp_path / "export.xlsx"
    write_real_export_chile(path, debtors=400)
    acc, _ = await new_account()
    await add_dnc(acc, "+56971924865")
    async with database.snapshot() as s:
        options = ImportOptions(account_id=acc, batch_name="Marzo")
        full = _report(await service.preview_import(s, ADMIN, options, path, parallel=False))
    assert 100 < full["counts"]["warnings"] == len(full["warnings"]) < 1000  # all listed
    monkeypatch.setattr(reader, "MAX_REPORTED", 25)
    monkeypatch.setattr(service, "MAX_REPORTED", 25)
    results = await _in_thread_and_in_process(new_account, add_dnc, database, path)
    assert results[True] == results[False]
    created = results[True][1]
    # Every warning counted, those of debtors' later rows too (they were counted only
    # while listed).
    assert created["counts"]["warnings"] == full["counts"]["warnings"]
    assert created["warnings"] == full["warnings"][:25]
    assert created["truncated"] is True
