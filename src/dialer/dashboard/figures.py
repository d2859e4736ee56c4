"""The recovery figures of a campaign or an account as the pages draw them: cards, the
progress by day, calls and contacts per hour of day, and the funnel. Pure: built from a
``RecoveryReport`` (the hourly roll-up), never from the jobs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dialer.dashboard.charts import GroupChart, Step, funnel, grouped_chart
from dialer.reporting.schemas import RecoveryBucket, RecoveryFigures, RecoveryReport


@dataclass(frozen=True)
class Figures:
    totals: RecoveryFigures
    currency: str
    by_day: GroupChart  # cumulative attempts and contacts at the end of each day
    by_hour: GroupChart  # attempts and contacts per local hour of day
    funnel: list[Step]
    days: int


def _day_label(key: str) -> str:
    d = date.fromisoformat(key)
    return f"{d:%d-%m}"


def figures_of(report: RecoveryReport, *, totals: RecoveryFigures | None = None) -> Figures:
    t = totals or report.totals
    attempts = contacts = 0
    progress: list[tuple[str, tuple[int, ...]]] = []
    for b in report.by_day:
        attempts += b.attempts
        contacts += b.right_party_contacts
        progress.append((_day_label(b.key), (attempts, contacts)))
    hours: dict[str, RecoveryBucket] = {b.key: b for b in report.by_hour}
    per_hour: list[tuple[str, tuple[int, ...]]] = [
        (f"{h:02d}", (hours[k].attempts, hours[k].right_party_contacts) if k in hours else (0, 0))
        for h in range(24)
        for k in (f"{h:02d}",)
    ]
    steps = funnel(
        [
            ("attempts", t.attempts),
            ("contacts", t.contacts),
            ("right_party", t.right_party_contacts),
            ("promises", t.promises),
            ("kept", t.promises_kept),
        ]
    )
    return Figures(
        totals=t,
        currency=report.totals.currency,
        by_day=grouped_chart(progress),
        by_hour=grouped_chart(per_hour),
        funnel=steps,
        days=len(report.by_day),
    )


def today_of(report: RecoveryReport, today: date) -> RecoveryFigures:
    """The figures of one local day of the report (zeros when nothing happened)."""
    for b in report.by_day:
        if b.key == today.isoformat():
            return RecoveryFigures.model_validate(b.model_dump(exclude={"key"}))
    zero = report.totals.model_copy(
        update={
            name: 0
            for name, field in RecoveryFigures.model_fields.items()
            if field.annotation in (int, float)
        }
    )
    return zero.model_copy(update={"cost_per_promise": None, "cost_per_recovered_unit": None})
