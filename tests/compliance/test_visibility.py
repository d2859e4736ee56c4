"""Batch API: profile conflicts are 422s naming the rule; the summary shows compliance waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from dialer.db.session import Database
from dialer.job.states import JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Job
from tests.factories import api_account, api_batch

CL_SETTINGS: dict[str, Any] = {
    "allowed_call_hours": {"start": "08:00", "end": "20:00"},
    "compliance_profile": "cl_cobranza",
}


class TestBatchSettings:
    async def test_create_with_conflicting_hours_is_a_422_naming_the_rule(
        self, admin: httpx.AsyncClient
    ) -> None:
        acc = await api_account(admin)
        r = await admin.post(
            "/api/v1/batches",
            json={
                "account_id": acc["account_id"],
                "name": "Cobranza marzo",
                "call_settings": {**CL_SETTINGS, "allowed_call_hours": {"start": "07:00", "end": "21:00"}},
            },
        )  # fmt: skip
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert "cl_cobranza.hours" in detail
        assert "Ley 21.320" in detail
        assert detail.startswith("call_settings: allowed_call_hours:")

    async def test_update_allowing_sunday_is_a_422_and_changes_nothing(
        self, admin: httpx.AsyncClient
    ) -> None:
        acc = await api_account(admin)
        batch = await api_batch(admin, acc["account_id"], call_settings=CL_SETTINGS)
        r = await admin.patch(
            f"/api/v1/batches/{batch['batch_id']}",
            json={"call_settings": {**CL_SETTINGS, "allowed_weekdays": ["sat", "sun"]}},
        )
        assert r.status_code == 422
        assert "cl_cobranza.weekdays" in r.json()["detail"]
        again = (await admin.get(f"/api/v1/batches/{batch['batch_id']}")).json()
        assert "sun" not in again["call_settings"]["allowed_weekdays"]


class TestSummary:
    async def test_summary_counts_compliance_waits_by_reason(
        self, admin: httpx.AsyncClient, database: Database, frozen_clock: FrozenClock
    ) -> None:
        # Sunday 2026-03-08 12:00 in Santiago: the cl_cobranza window is closed.
        frozen_clock.set(datetime(2026, 3, 8, 15, 0, tzinfo=UTC))
        acc = await api_account(admin)
        batch = await api_batch(admin, acc["account_id"], jobs=4, call_settings=CL_SETTINGS)
        bid = batch["batch_id"]
        soon = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
        async with database.write() as s:
            ids = (
                (await s.execute(select(Job.id).where(Job.batch_id == bid).order_by(Job.id)))
                .scalars()
                .all()
            )
            # What the dispatcher leaves behind when it holds jobs back.
            await s.execute(
                update(Job)
                .where(Job.id == ids[0])
                .values(
                    status=JobStatus.SCHEDULED,
                    wait_reason="compliance_weekly_limit",
                    next_attempt_at=soon + timedelta(days=2),
                )
            )
            await s.execute(
                update(Job)
                .where(Job.id == ids[1])
                .values(
                    status=JobStatus.SCHEDULED,
                    wait_reason="compliance_weekly_limit",
                    next_attempt_at=soon,
                )
            )
            await s.execute(
                update(Job)
                .where(Job.id == ids[2])
                .values(
                    status=JobStatus.SCHEDULED,
                    wait_reason="compliance_debtor_in_flight",
                    next_attempt_at=soon + timedelta(days=1),
                )
            )
        r = await admin.get(f"/api/v1/batches/{bid}/summary")
        assert r.status_code == 200, r.text
        compliance = r.json()["compliance"]
        assert compliance["compliance_profile"] == "cl_cobranza"
        assert compliance["waiting_jobs"] == 3
        assert compliance["by_reason"] == {
            "compliance_weekly_limit": 2,
            "compliance_debtor_in_flight": 1,
        }
        assert datetime.fromisoformat(compliance["next_allowed_at"]) == soon
        assert compliance["do_not_call_jobs"] == 0
        assert compliance["calling_window_open"] is False
        # Monday 08:00 Santiago (UTC-3 in March).
        assert datetime.fromisoformat(compliance["next_window_at"]) == datetime(
            2026, 3, 9, 11, 0, tzinfo=UTC
        )

    async def test_batch_without_profile_reports_nothing_waiting(
        self, admin: httpx.AsyncClient
    ) -> None:
        acc = await api_account(admin)
        batch = await api_batch(admin, acc["account_id"], jobs=2)
        compliance = (await admin.get(f"/api/v1/batches/{batch['batch_id']}/summary")).json()[
            "compliance"
        ]
        assert compliance["compliance_profile"] == "none"
        assert compliance["waiting_jobs"] == 0
        assert compliance["calling_window_open"] is None
