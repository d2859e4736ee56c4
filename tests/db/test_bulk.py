"""write_through: the settlement writes its ended rows in one statement, and each row ends
up exactly as the unit of work would have written it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text

from dialer.db.bulk import insert_rows, write_through
from dialer.models import CallAttempt, Job
from tests.factories import make_account, make_batch

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


async def test_each_row_gets_its_own_changes_and_keeps_the_rest(database):
    acc = await make_account(database)
    batch = await make_batch(database, acc, jobs=3, now=NOW)
    async with database.write() as s:
        jobs = (await s.scalars(select(Job).where(Job.batch_id == batch).order_by(Job.id))).all()
        await insert_rows(
            s,
            CallAttempt,
            [
                {"id": f"att-{i}", "job_id": j.id, "batch_id": batch, "account_id": acc,
                 "number": 1, "phone": j.phones[0], "provider": "simulated", "started_at": NOW}
                for i, j in enumerate(jobs)
            ],
        )  # fmt: skip
    async with database.write() as s:
        attempts = (await s.scalars(select(CallAttempt).order_by(CallAttempt.id))).all()
        # Rows that changed different columns (answered, not answered, not touched).
        attempts[0].outcome, attempts[0].result = "completed", {"kind": "refused"}
        attempts[0].summary = "El cliente se niega a pagar."
        attempts[1].outcome, attempts[1].error = "no_answer", "sin respuesta"
        await write_through(s, attempts, {"outcome", "result", "summary", "error"})
        job = (await s.scalars(select(Job).where(Job.id == jobs[0].id))).one()
        job.contact_name = "Ana Pérez"  # outside the columns given: the unit of work's
        await write_through(s, [job], {"status"})
    async with database.read() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT outcome, result IS NULL, summary, error FROM call_attempts ORDER BY id"
                )
            )
        ).all()
        search = (await s.execute(select(Job.search_text).where(Job.id == jobs[0].id))).scalar()
        result = (
            await s.execute(select(CallAttempt.result).where(CallAttempt.id == "att-0"))
        ).scalar()
    assert [tuple(r) for r in rows] == [
        ("completed", False, "El cliente se niega a pagar.", None),
        # An unchanged JSON column stays SQL NULL (not the JSON 'null' of a written None).
        ("no_answer", True, None, "sin respuesta"),
        (None, True, None, None),
    ]
    assert result == {"kind": "refused"}
    assert search is not None
    assert "ana perez" in search
