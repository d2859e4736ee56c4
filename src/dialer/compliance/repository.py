"""Queries for do-not-call lists, the contact log and compliance waits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialer.db.dialect import POSTGRESQL, dialect_of, insert
from dialer.job.states import IN_FLIGHT, WAITING, AttemptStatus, JobStatus
from dialer.models import (
    Account,
    CallAttempt,
    ContactLog,
    DoNotCall,
    Job,
    LegalStop,
    ProviderConfig,
)

# Keeps IN (...) lists well under SQLite's and asyncpg's bound-parameter limits.
_CHUNK = 900


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class ComplianceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ComplianceRepository:
        return cls(session)

    async def configured_from_number(
        self, account_id: str, provider: str, phone_number_id: str | None = None
    ) -> str | None:
        """The caller ID the account's configuration of ``provider`` presents by default:
        its ``from_number``, else the E.164 number behind its ``phone_number_id`` (read
        from the vendor when the configuration was saved). With ``phone_number_id`` (a
        batch naming its own number by id) the stored number only when it is that id's."""
        options = (
            await self.session.execute(
                select(ProviderConfig.options).where(
                    ProviderConfig.account_id == account_id, ProviderConfig.provider == provider
                )
            )
        ).scalar_one_or_none() or {}
        if phone_number_id is not None:
            if options.get("phone_number_id") != phone_number_id:
                return None
            value = options.get("phone_number")
        else:
            value = options.get("from_number") or options.get("phone_number")
        return str(value) if value else None

    async def get_account(self, account_id: str) -> Account | None:
        return await self.session.get(Account, account_id)

    # -- do-not-call ------------------------------------------------------------------

    async def listed_among(self, account_id: str, phones: Sequence[str]) -> set[str]:
        """Which of ``phones`` (exact E.164 strings) are on the account's list."""
        found: set[str] = set()
        unique = sorted(set(phones))
        for chunk in _chunks(unique):
            rows = await self.session.execute(
                select(DoNotCall.phone).where(
                    DoNotCall.account_id == account_id, DoNotCall.phone.in_(chunk)
                )
            )
            found.update(rows.scalars())
        return found

    async def count(self, account_id: str) -> int:
        stmt = select(func.count()).select_from(DoNotCall).where(DoNotCall.account_id == account_id)
        return int((await self.session.execute(stmt)).scalar_one())

    async def all_phones(self, account_id: str) -> set[str]:
        """Every number on the account's list (for bulk imports, one streamed read)."""
        result = await self.session.stream_scalars(
            select(DoNotCall.phone).where(DoNotCall.account_id == account_id)
        )
        return {p async for p in result}

    async def insert_new(self, account_id: str, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert entries, silently skipping numbers already listed (also when a
        concurrent import adds them first); returns the phones really inserted."""
        if not rows:
            return set()
        values = [{"account_id": account_id, **r} for r in rows]
        stmt = insert(self.session, DoNotCall).on_conflict_do_nothing()
        added: set[str] = set()
        for i in range(0, len(values), 500):
            result = await self.session.execute(
                stmt.returning(DoNotCall.phone), values[i : i + 500]
            )
            added.update(result.scalars())
        return added

    async def refresh_statistics(self) -> None:
        """After a bulk insert: PostgreSQL would plan lookups on the list from stale row
        counts (sequential scans of a big table) until autovacuum gets to it."""
        if dialect_of(self.session) == POSTGRESQL:
            await self.session.execute(text("ANALYZE do_not_call"))

    async def delete_phones(self, account_id: str, phones: Sequence[str]) -> int:
        result = await self.session.execute(
            delete(DoNotCall).where(DoNotCall.account_id == account_id, DoNotCall.phone.in_(phones))
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def entries_for(self, account_id: str, phones: Sequence[str]) -> dict[str, DoNotCall]:
        """The account's do-not-call entries of any of ``phones`` (exact spellings), by
        phone; where two spellings of one line are listed, the older entry."""
        found: dict[str, DoNotCall] = {}
        for part in _chunks(sorted(set(phones))):
            stmt = (
                select(DoNotCall)
                .where(DoNotCall.account_id == account_id, DoNotCall.phone.in_(part))
                .order_by(DoNotCall.id)
            )
            for entry in (await self.session.execute(stmt)).scalars():
                found.setdefault(entry.phone, entry)
        return found

    async def get_entry(self, account_id: str, phones: Sequence[str]) -> DoNotCall | None:
        stmt = (
            select(DoNotCall)
            .where(DoNotCall.account_id == account_id, DoNotCall.phone.in_(phones))
            .order_by(DoNotCall.id)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self, account_id: str, *, search: str | None, limit: int, skip: int
    ) -> tuple[Sequence[DoNotCall], int]:
        where = [DoNotCall.account_id == account_id]
        if search:
            where.append(DoNotCall.phone.contains(search, autoescape=True))
        items = (
            (
                await self.session.execute(
                    select(DoNotCall)
                    .where(*where)
                    .order_by(DoNotCall.created_at.desc(), DoNotCall.id.desc())
                    .limit(limit)
                    .offset(skip)
                )
            )
            .scalars()
            .all()
        )
        total = (
            await self.session.execute(select(func.count()).select_from(DoNotCall).where(*where))
        ).scalar_one()
        return items, int(total)

    # -- contact log ------------------------------------------------------------------

    async def contacts_since(
        self, account_id: str, debtor_keys: Sequence[str], since: datetime
    ) -> dict[str, list[datetime]]:
        """Answered-contact instants per debtor after ``since``, across all batches."""
        out: dict[str, list[datetime]] = {}
        for chunk in _chunks(sorted(set(debtor_keys))):
            rows = await self.session.execute(
                select(ContactLog.debtor_key, ContactLog.contacted_at).where(
                    ContactLog.account_id == account_id,
                    ContactLog.debtor_key.in_(chunk),
                    ContactLog.contacted_at > since,
                )
            )
            for key, at in rows.all():
                out.setdefault(key, []).append(at)
        return out

    async def attempts_since(
        self, account_id: str, debtor_keys: Sequence[str], since: datetime
    ) -> dict[str, list[datetime]]:
        """Start instants of the debtors' attempts after ``since``, across all batches;
        attempts that never reached the provider (abandoned) are not calls."""
        out: dict[str, list[datetime]] = {}
        for chunk in _chunks(sorted(set(debtor_keys))):
            rows = await self.session.execute(
                select(CallAttempt.debtor_key, CallAttempt.started_at).where(
                    CallAttempt.account_id == account_id,
                    CallAttempt.debtor_key.in_(chunk),
                    CallAttempt.started_at > since,
                    CallAttempt.status != AttemptStatus.ABANDONED,
                )
            )
            for key, at in rows.all():
                if key is not None and at is not None:
                    out.setdefault(key, []).append(at)
        return out

    # -- legal stops --------------------------------------------------------------------

    async def stopped_among(self, account_id: str, debtor_ids: Sequence[str]) -> set[str]:
        """Which of ``debtor_ids`` are under a legal stop."""
        found: set[str] = set()
        for chunk in _chunks(sorted(set(debtor_ids))):
            rows = await self.session.execute(
                select(LegalStop.debtor_id).where(
                    LegalStop.account_id == account_id, LegalStop.debtor_id.in_(chunk)
                )
            )
            found.update(rows.scalars())
        return found

    async def all_stopped(self, account_id: str) -> set[str]:
        rows = await self.session.execute(
            select(LegalStop.debtor_id).where(LegalStop.account_id == account_id)
        )
        return set(rows.scalars())

    async def add_stops(self, account_id: str, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert stops, skipping debtors already stopped; returns the ids inserted."""
        if not rows:
            return set()
        values = [{"account_id": account_id, **r} for r in rows]
        stmt = insert(self.session, LegalStop).on_conflict_do_nothing()
        added: set[str] = set()
        for i in range(0, len(values), 500):
            result = await self.session.execute(
                stmt.returning(LegalStop.debtor_id), values[i : i + 500]
            )
            added.update(result.scalars())
        return added

    async def stops_for(self, account_id: str, debtor_ids: Sequence[str]) -> dict[str, LegalStop]:
        """The account's legal stops on any of ``debtor_ids``, by debtor id."""
        found: dict[str, LegalStop] = {}
        for part in _chunks(sorted(set(debtor_ids))):
            stmt = select(LegalStop).where(
                LegalStop.account_id == account_id, LegalStop.debtor_id.in_(part)
            )
            found.update({s.debtor_id: s for s in (await self.session.execute(stmt)).scalars()})
        return found

    async def get_stop(self, account_id: str, debtor_id: str) -> LegalStop | None:
        return (
            await self.session.execute(
                select(LegalStop).where(
                    LegalStop.account_id == account_id, LegalStop.debtor_id == debtor_id
                )
            )
        ).scalar_one_or_none()

    async def delete_stop(self, account_id: str, debtor_id: str) -> int:
        result = await self.session.execute(
            delete(LegalStop).where(
                LegalStop.account_id == account_id, LegalStop.debtor_id == debtor_id
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def page_stops(
        self, account_id: str, *, reason: str | None, limit: int, skip: int
    ) -> tuple[Sequence[LegalStop], int]:
        where = [LegalStop.account_id == account_id]
        if reason:
            where.append(LegalStop.reason == reason)
        items = (
            (
                await self.session.execute(
                    select(LegalStop)
                    .where(*where)
                    .order_by(LegalStop.created_at.desc(), LegalStop.id.desc())
                    .limit(limit)
                    .offset(skip)
                )
            )
            .scalars()
            .all()
        )
        total = (
            await self.session.execute(select(func.count()).select_from(LegalStop).where(*where))
        ).scalar_one()
        return items, int(total)

    async def waiting_jobs_of(self, account_id: str, dnis: Sequence[str]) -> list[Job]:
        """The account's waiting jobs of these debtors (by ``dni``), in any batch, locked
        on PostgreSQL (a claim that has them skips them)."""
        out: list[Job] = []
        for chunk in _chunks(sorted(set(dnis))):
            stmt = select(Job).where(
                Job.account_id == account_id,
                Job.dni.in_(chunk),
                Job.status.in_(list(WAITING)),
            )
            stmt = stmt.with_for_update(skip_locked=True)
            out.extend((await self.session.execute(stmt)).scalars().all())
        return out

    async def mark_registry_import(self, account_id: str, code: str, at: datetime) -> None:
        """Record an import of the provincial registry ``code`` (profiles.PROVINCIAL_REGISTRIES)."""
        account = await self.session.get(Account, account_id, with_for_update=True)
        if account is not None:
            account.registry_imports = {**(account.registry_imports or {}), code: at.isoformat()}

    async def mark_no_llame_import(self, account_id: str, at: datetime) -> None:
        await self.session.execute(
            update(Account).where(Account.id == account_id).values(no_llame_imported_at=at)
        )

    async def clear_records_before(self, cutoff: datetime, limit: int) -> int:
        """Delete the transcript, summary and recording link of up to ``limit`` ended
        attempts that started before ``cutoff``; the attempt row (outcome, times, cost)
        stays. Returns how many were cleared."""
        ids = (
            (
                await self.session.execute(
                    select(CallAttempt.id)
                    .where(
                        CallAttempt.status == AttemptStatus.ENDED,
                        CallAttempt.started_at < cutoff,
                        or_(
                            CallAttempt.transcript.is_not(None),
                            CallAttempt.summary.is_not(None),
                            CallAttempt.recording_url.is_not(None),
                        ),
                    )
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        await self.session.execute(
            update(CallAttempt)
            .where(CallAttempt.id.in_(list(ids)))
            .values(transcript=None, summary=None, recording_url=None)
            .execution_options(synchronize_session=False)
        )
        return len(ids)

    async def in_flight_debtors(self, account_id: str) -> list[tuple[str | None, list[str]]]:
        """(dni, phones) of the account's jobs on the line; bounded by the account cap."""
        rows = await self.session.execute(
            select(Job.dni, Job.phones).where(
                Job.account_id == account_id, Job.status.in_(list(IN_FLIGHT))
            )
        )
        return [(dni, list(phones or [])) for dni, phones in rows.all()]

    # -- waits --------------------------------------------------------------------------

    async def waiting_by_reason(
        self, batch_id: str, reason_prefix: str
    ) -> list[tuple[str, int, datetime | None]]:
        """(wait_reason, jobs, earliest next_attempt_at) of waiting jobs whose reason
        starts with ``reason_prefix``."""
        rows = await self.session.execute(
            select(Job.wait_reason, func.count(), func.min(Job.next_attempt_at))
            .where(
                Job.batch_id == batch_id,
                Job.status.in_(list(WAITING)),
                Job.wait_reason.startswith(reason_prefix, autoescape=True),
            )
            .group_by(Job.wait_reason)
        )
        return [(str(r), int(n), at) for r, n, at in rows.all()]

    async def count_ended_with(self, batch_id: str, outcome: str) -> int:
        return int(
            (
                await self.session.execute(
                    select(func.count())
                    .select_from(Job)
                    .where(
                        Job.batch_id == batch_id,
                        Job.status == JobStatus.FAILED,
                        Job.last_outcome == outcome,
                    )
                )
            ).scalar_one()
        )
