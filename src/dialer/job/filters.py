"""Which of a batch's jobs a contact list shows: filters, search and order.

One ``JobFilter`` drives both the dashboard's contact table and the export of exactly
the rows it shows, so the two can never disagree about what "filtered" means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import String, and_, cast, exists, func, not_, or_
from sqlalchemy.sql.elements import ColumnElement

from dialer.job.states import JobStatus
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
        """WHERE clauses over ``Job`` (to AND with the batch condition)."""
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
        if self.q and self.q.strip():
            out.append(self._search(self.q.strip()))
        return out

    @staticmethod
    def _search(text: str) -> ColumnElement[bool]:
        name = "%" + _like_escape(text.lower()) + "%"
        options: list[ColumnElement[bool]] = [func.lower(Job.contact_name).like(name, escape="\\")]
        rut = re.sub(r"[^0-9kK]", "", text).lower()
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 3:
            # RUTs are stored with a hyphen and without dots; typed either way.
            bare_dni = func.lower(func.replace(func.replace(Job.dni, ".", ""), "-", ""))
            options.append(bare_dni.like("%" + rut + "%"))
            # Phones are E.164 in a JSON list: the digits typed, in any spacing.
            options.append(cast(Job.phones, String).like("%" + digits + "%"))
        return or_(*options)

    def order_by(self) -> list[Any]:
        column = _SORT_COLUMNS[self.sort]
        primary = column.desc() if self.desc else column.asc()
        # Empty values last in either direction, on SQLite and PostgreSQL alike; the
        # file order breaks ties so pages never overlap.
        return [primary.nulls_last(), Job.row_number.asc().nulls_last(), Job.id]

    def where(self, batch_id: str) -> ColumnElement[bool]:
        return and_(Job.batch_id == batch_id, *self.conditions())
