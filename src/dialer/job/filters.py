"""Which of a batch's jobs a contact list shows: filters, search and order.

One ``JobFilter`` drives both the dashboard's contact table and the export of exactly
the rows it shows, so the two can never disagree about what "filtered" means.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from dialer.job.states import JobStatus
from dialer.kit import search
from dialer.models import Job, Promise

PromiseFilter = Literal["any", "none", "open", "kept", "broken"]
SortKey = Literal["row", "name", "dni", "status", "attempts", "outcome", "business", "updated"]
SORT_KEYS: tuple[str, ...] = SortKey.__args__  # type: ignore[attr-defined]
PROMISE_FILTERS: tuple[str, ...] = PromiseFilter.__args__  # type: ignore[attr-defined]
NO_VALUE = "none"  # outcome / business result / region filter: the job has none yet

_SORT_COLUMNS: dict[str, Any] = {
    "row": Job.row_number,
    "name": Job.contact_name,
    "dni": Job.dni,
    "status": Job.status,
    "attempts": Job.attempts,
    "outcome": Job.last_outcome,
    "business": Job.business_result,
    "updated": Job.updated_at,
}


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class JobFilter:
    """A contact list's filters (all optional; None shows everything)."""

    status: JobStatus | None = None
    outcome: str | None = None  # the last outcome on the line, or NO_VALUE
    business: str | None = None  # the business result, or NO_VALUE
    promise: PromiseFilter | None = None  # the job's current (not superseded) promise
    region: str | None = None  # the debtor's region code, or NO_VALUE
    q: str | None = None  # name, RUT/DNI (with or without dots) or phone digits
    sort: SortKey = "row"
    desc: bool = False

    @property
    def is_filtered(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name not in ("sort", "desc"))

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE clauses over ``Job`` but the search (``where`` adds it for a batch)."""
        out: list[ColumnElement[bool]] = []
        if self.status is not None:
            out.append(Job.status == self.status)
        for column, value in (
            (Job.last_outcome, self.outcome),
            (Job.business_result, self.business),
            (Job.region, self.region),
        ):
            if value == NO_VALUE:
                out.append(column.is_(None))
            elif value:
                out.append(column == value)
        if self.promise is not None:
            current = Promise.status.not_in(("superseded", "withdrawn"))
            if self.promise in ("any", "none"):
                has = exists().where(Promise.job_id == Job.id, current)
                out.append(has if self.promise == "any" else not_(has))
            else:
                out.append(exists().where(Promise.job_id == Job.id, Promise.status == self.promise))
        return out

    @staticmethod
    def _search(text: str) -> ColumnElement[bool]:
        # One folded key per job (kit/search.py): name without accents or case, RUT
        # without dots or hyphen, phone digits; the query folded the same way, so
        # "JOSÉ", "jose" and "José" find the same rows on SQLite and PostgreSQL. Read
        # from the (batch_id, id, search_text) index alone.
        options = [
            Job.search_text.like("%" + _like_escape(n) + "%", escape="\\")
            for n in search.needles(text)
        ]
        return or_(*options) if options else Job.id.is_(None)

    def order_by(self) -> list[Any]:
        column = _SORT_COLUMNS[self.sort]
        primary = column.desc() if self.desc else column.asc()
        # Empty values last in either direction, on SQLite and PostgreSQL alike; the
        # file order breaks ties so pages never overlap.
        return [primary.nulls_last(), Job.row_number.asc().nulls_last(), Job.id]

    def where(self, batch_id: str) -> ColumnElement[bool]:
        conditions = self.conditions()
        if self.q and self.q.strip():
            # The matching ids first, from the (batch_id, id, search_text) index alone
            # (no row is read to judge the search), then only those rows.
            matching = select(Job.id).where(Job.batch_id == batch_id, self._search(self.q.strip()))
            conditions.append(Job.id.in_(matching))
        return and_(Job.batch_id == batch_id, *conditions)
