"""Create semantics: duplicates, do-not-call, dynamic dates, atomicity, auth, limits, exports."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, text

from dialer.account.auth import Principal
from dialer.config import Settings
from dialer.db.session import Database
from dialer.ingestion import service
from dialer.ingestion.cli import run_import
from dialer.ingestion.samples import write_sample_chile
from dialer.ingestion.schemas import ImportOptions
from dialer.kit.clock import FrozenClock
from dialer.models import Batch, Job
from tests.factories import NewAccount, attempt_row
from tests.ingestion.conftest import upload


def write_csv(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(rows)
    return path


HEAD = ["RUT", "Nombre", "Fono", "Monto", "Vencimiento"]


async def test_duplicates_in_file_and_against_active_batches(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    first = write_csv(tmp_path / "a.csv", [
        HEAD,
        ["12.345.678-5", "Ana", "987654321", "1000", "01/04/2026"],
        ["12345678-5", "Ana otra vez", "971924865", "1000", "01/04/2026"],  # same RUT
        ["5.000.368-K", "Tomás", "+56 9 8765 4321", "1000", "01/04/2026"],  # same phone as row 2
        ["7.654.321-6", "Rosa", "932301241", "1000", "01/04/2026"],
    ])  # fmt: skip
    # One job per row (consolidation off): the second row of a RUT is a duplicate.
    body = (await upload(client, first, acc, consolidate="false")).json()
    assert body["counts"]["accepted"] == 2
    assert body["counts"]["duplicates"] == 2
    assert [(s["row"], s["reason"]) for s in body["skipped"]] == [
        (3, "duplicate_in_file"),
        (4, "duplicate_in_file"),
    ]
    assert "row 2" in body["skipped"][0]["message"]

    second = write_csv(tmp_path / "b.csv", [
        HEAD,
        ["12.345.678-5", "Ana", "222222222", "1000", "01/04/2026"],  # RUT already active
        ["9.876.543-3", "Luis", "932301241", "1000", "01/04/2026"],  # phone already active
        ["11.111.111-1", "Nuevo", "981733095", "1000", "01/04/2026"],
    ])  # fmt: skip
    body = (await upload(client, second, acc, action="preview")).json()
    assert [(s["row"], s["reason"]) for s in body["skipped"]] == [
        (2, "duplicate_in_active_batch"),
        (3, "duplicate_in_active_batch"),
    ]
    assert body["counts"]["accepted"] == 1
    allowed = (await upload(client, second, acc, action="preview", allow_duplicates="true")).json()
    assert allowed["counts"]["accepted"] == 3

    # A cancelled batch no longer blocks its contacts.
    batch_id = (await client.get("/api/v1/batches")).json()["items"][0]["batch_id"]
    assert (await client.post(f"/api/v1/batches/{batch_id}/cancel")).status_code == 200
    body = (await upload(client, second, acc, action="preview")).json()
    assert body["counts"]["accepted"] == 3


async def test_do_not_call_numbers(new_account: NewAccount, add_dnc: Any, tmp_path: Path) -> None:
    acc, client = await new_account()
    await add_dnc(acc, "+56987654321", "+56971924865")
    path = write_csv(tmp_path / "dnc.csv", [
        ["RUT", "Fono 1", "Fono 2"],
        ["12.345.678-5", "987654321", ""],  # only number listed -> skipped
        ["5.000.368-K", "971924865", "932301241"],  # one listed -> dropped, row kept
    ])  # fmt: skip
    body = (await upload(client, path, acc)).json()
    assert body["counts"]["do_not_call"] == 1
    assert body["skipped"] == [
        {"row": 2, "reason": "do_not_call", "message": "every phone is on the do-not-call list",
         "params": {"phones": ["+56987654321"]}}
    ]  # fmt: skip
    jobs = (await client.get(f"/api/v1/batches/{body['batch_id']}/jobs")).json()["items"]
    assert [j["phones"] for j in jobs] == [["+56932301241"]]
    assert body["warnings"][0] == {
        "row": 3, "column": None, "message": "dropped do-not-call number(s) +56971924865",
        "code": "dnc_dropped", "params": {"phones": ["+56971924865"]},
    }  # fmt: skip


async def test_dynamic_dates_use_the_account_timezone(
    new_account: NewAccount, frozen_clock: FrozenClock, tmp_path: Path
) -> None:
    # 02:30 UTC on the 3rd is still 23:30 on the 2nd in Santiago (UTC-3 in March).
    frozen_clock.set(datetime.fromisoformat("2026-03-03T02:30:00+00:00"))
    acc, client = await new_account()
    path = write_csv(
        tmp_path / "d.csv",
        [
            HEAD,
            ["12.345.678-5", "Ana", "987654321", "1000", "01/04/2026"],
            ["11.111.111-1", "Luis", "987654322", "1000", "not a date"],
        ],
    )
    body = (await upload(client, path, acc, dias_fecha_limite=5, dias_fecha_maxima=10)).json()
    assert (body["fecha_limite"], body["fecha_maxima"]) == ("2026-03-07", "2026-03-12")
    job = (await client.get(f"/api/v1/batches/{body['batch_id']}/jobs")).json()["items"][0]
    assert job["payload"]["fecha_limite"] == "2026-03-07"
    assert job["payload"]["fecha_maxima"] == "2026-03-12"
    # The file's own due date is kept, and still validated, with dynamic dates.
    assert job["payload"]["fecha_vencimiento"] == "2026-04-01"
    assert [(e["row"], e["column"]) for e in body["errors"]] == [(3, HEAD[4])]


async def test_nothing_is_written_when_the_database_fails(
    new_account: NewAccount, database: Database, dialect: str, tmp_path: Path
) -> None:
    acc, _ = await new_account()
    path = write_sample_chile(tmp_path / "s.xlsx", rows=60, with_errors=False)
    async with database.write() as s:
        if dialect == "sqlite":
            await s.execute(text(
                "CREATE TRIGGER boom BEFORE INSERT ON jobs WHEN NEW.row_number = 50 "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            ))  # fmt: skip
        else:
            await s.execute(text(
                "CREATE OR REPLACE FUNCTION boom() RETURNS trigger AS $$ BEGIN "
                "IF NEW.row_number = 50 THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
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
                    s, Principal(is_admin=True), ImportOptions(account_id=acc), path
                )
        async with database.read() as s:
            assert (await s.execute(select(func.count()).select_from(Batch))).scalar_one() == 0
            assert (await s.execute(select(func.count()).select_from(Job))).scalar_one() == 0
    finally:
        async with database.write() as s:
            await s.execute(
                text("DROP TRIGGER boom" if dialect == "sqlite" else "DROP TRIGGER boom ON jobs")
            )


async def test_file_with_no_valid_rows_creates_nothing(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    path = write_csv(tmp_path / "bad.csv", [HEAD, ["1-1", "X", "123", "abc", "x"]])
    r = await upload(client, path, acc)
    assert r.status_code == 422
    assert r.json()["error"] == "NoValidRows"
    assert {e["column"] for e in r.json()["report"]["errors"]} == {
        "RUT",
        "Fono",
        "Monto",
        "Vencimiento",
    }
    assert (await client.get("/api/v1/batches")).json()["total"] == 0


async def test_auth_settings_and_limits(
    new_account: NewAccount, client: Any, tmp_path: Path, app: Any
) -> None:
    acc, mine = await new_account()
    other, _ = await new_account()
    path = write_csv(
        tmp_path / "ok.csv", [HEAD, ["12.345.678-5", "Ana", "987654321", "1000", "01/04/2026"]]
    )
    assert (await upload(client, path, acc)).status_code == 401
    r = await upload(mine, path, other)
    assert r.status_code == 404  # another account's id looks like it does not exist
    r = await upload(mine, path, acc, call_settings='{"retry_settings": {"max_attempts": 0}}')
    assert r.status_code == 422
    assert r.json()["field"] == "call_settings.retry_settings.max_attempts"
    r = await upload(mine, path, acc, call_settings="{not json")
    assert (r.status_code, r.json()["field"]) == (422, "call_settings")
    r = await upload(mine, path, acc, column_mapping='["RUT"]')
    assert (r.status_code, r.json()["field"]) == (422, "column_mapping")
    r = await upload(mine, path, acc, call_settings='{"retry_settings": {"max_attempts": 5}}')
    assert r.status_code == 201
    job = (await mine.get(f"/api/v1/batches/{r.json()['batch_id']}/jobs")).json()["items"][0]
    assert job["max_attempts"] == 5

    app.state.settings = app.state.settings.model_copy(update={"MAX_UPLOAD_BYTES": 100})
    big = write_csv(
        tmp_path / "big.csv", [HEAD] + [["12.345.678-5", "Ana", "987654321", "1", "x"]] * 20
    )
    r = await upload(mine, big, acc)
    assert (r.status_code, r.json()["field"]) == (413, "file")


async def test_exports_one_row_per_job_and_neutralise_formulas(
    new_account: NewAccount, database: Database, tmp_path: Path
) -> None:
    acc, client = await new_account()
    path = write_csv(tmp_path / "x.csv", [
        [*HEAD, "Nota"],
        ["12.345.678-5", "=HYPERLINK(\"http://evil\",\"pagar\")", "987654321", "15000", "01/04/2026", "x"],
        ["5.000.368-K", "@SUM(A1)", "971924865", "20000", "02/04/2026", "y"],
    ])  # fmt: skip
    batch_id = (await upload(client, path, acc)).json()["batch_id"]
    async with database.write() as s:
        job = (await s.execute(select(Job).where(Job.row_number == 2))).scalar_one()
        job.attempts, job.last_outcome, job.business_result = 1, "completed", "promise_to_pay"
        job.billed_seconds, job.cost_units = 120, 120
        s.add(attempt_row(
            id="att-1", job_id=job.id, batch_id=batch_id, account_id=acc, phone="+56987654321",
            outcome="completed",
            extracted={"promise_date": "2026-04-10", "promise_amount": 15000},
        ))  # fmt: skip

    r = await client.get(f"/api/v1/batches/{batch_id}/export.csv")
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    first = rows[0]
    assert first["contact_name"].startswith("'=HYPERLINK")
    assert rows[1]["contact_name"] == "'@SUM(A1)"
    assert first["phones"] == "+56987654321"  # a phone is not a formula: left readable
    assert (first["status"], first["attempts"], first["last_outcome"], first["business_result"]) == (
        "pending", "1", "completed", "promise_to_pay",
    )  # fmt: skip
    assert (first["promise_date"], first["promise_amount"], first["minutes"], first["cost"]) == (
        "2026-04-10", "15000", "2.0", "2.0",
    )  # fmt: skip

    r = await client.get(f"/api/v1/batches/{batch_id}/export.xlsx")
    assert r.status_code == 200
    out = tmp_path / "out.xlsx"
    out.write_bytes(r.content)
    ws = openpyxl.load_workbook(out).active
    values = list(ws.iter_rows(values_only=True))
    assert len(values) == 3
    header = list(values[0])
    assert values[1][header.index("contact_name")].startswith("'=HYPERLINK")
    assert values[1][header.index("promise_date")] == "2026-04-10"

    _other, other_client = await new_account()
    assert (await other_client.get(f"/api/v1/batches/{batch_id}/export.csv")).status_code == 404


async def test_cli_import(new_account: NewAccount, settings: Settings, tmp_path: Path) -> None:
    from rich.console import Console

    acc, client = await new_account()
    path = write_sample_chile(tmp_path / "demo.xlsx", rows=40)
    console = Console(file=io.StringIO(), width=200)
    import asyncio

    report = await asyncio.to_thread(
        run_import, settings, file=path, account_id=acc, name="Demo", country=None,
        processing_type="basic", allow_duplicates=False, call_settings=None,
        dias_fecha_limite=3, dias_fecha_maxima=None, console=console,
    )  # fmt: skip
    assert report is not None
    # The bad-date row is an error even with dynamic dates: the file's due date is kept.
    assert report.counts.accepted == 37
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert report.batch_id in out
    assert "wrong check digit" in out
    status = (await client.get(f"/api/v1/batches/{report.batch_id}/status")).json()
    assert status["total_jobs"] == 37


async def test_nul_in_a_multipart_text_field_is_a_422_and_writes_nothing(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    path = write_csv(
        tmp_path / "n.csv", [HEAD, ["12.345.678-5", "Ana", "987654321", "1000", "01/04/2026"]]
    )
    r = await upload(client, path, acc, batch_name="Octubre\x00; DROP TABLE jobs")
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "batch_name"
    assert (await client.get("/api/v1/batches")).json()["total"] == 0
