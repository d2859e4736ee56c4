"""Do-not-call round trip through the one phone normaliser: a number listed in any
spelling the product accepts blocks the dial of that line written in any other spelling,
through the real paths (JSON batch creation, the do-not-call API, the dispatcher's
claim); a number that cannot be normalised is a 422 naming it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from dialer.db.session import Database
from dialer.job.states import JobStatus
from dialer.kit.clock import FrozenClock
from dialer.worker.claim import claim_due_jobs
from tests.factories import account_attempts, jobs_of, make_account

# Tuesday 2026-03-10 10:00 in Santiago: inside the default window.
TUESDAY_10 = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Santiago")).astimezone(UTC)

Spelling = Callable[[str], str]
# A Chilean mobile line: 9 + eight subscriber digits ``d``.
CL_SPELLINGS: dict[str, Spelling] = {
    "e164 spaced": lambda d: f"+56 9 {d[:4]} {d[4:]}",
    "national": lambda d: f"9{d}",
    "country code, no +": lambda d: f"569{d}",
    "leading space": lambda d: f"   569{d}",
    "text with .0": lambda d: f"569{d}.0",
    "trunk 0": lambda d: f"09 {d[:4]} {d[4:]}",
    "trunk 0 in brackets": lambda d: f"(09) {d[:4]}-{d[4:]}",
    "8-digit pre-2012": lambda d: f"{d[:4]} {d[4:]}",
    "8-digit with country code": lambda d: f"56 {d}",
    "00 international": lambda d: f"0056 9 {d}",
    "+56 with trunk 0": lambda d: f"+56 09 {d}",
}
# An Argentine mobile in Buenos Aires: area 11, eight subscriber digits ``d``.
AR_SPELLINGS: dict[str, Spelling] = {
    "e164 spaced": lambda d: f"+54 9 11 {d[:4]}-{d[4:]}",
    "trunk 0 and 15": lambda d: f"011 15 {d[:4]}-{d[4:]}",
    "area and 15": lambda d: f"11 15 {d[:4]} {d[4:]}",
    "landline form": lambda d: f"11 {d[:4]} {d[4:]}",
    "international without 9": lambda d: f"+54 11 {d}",
    "00 international": lambda d: f"0054 9 11 {d}",
    "country code, no +": lambda d: f"54911{d}",
}


async def _dial_everything(db: Database, now: datetime, rounds: int) -> list[str]:
    """Claim ``rounds`` times (a round may end listed jobs without dialing any); returns
    the numbers dialed."""
    dialed: list[str] = []
    for _ in range(rounds):
        async with db.write() as s:
            claimed = await claim_due_jobs(
                s, worker_id="w-test", now=now, limit=50, lease=timedelta(minutes=5)
            )
        dialed.extend(c.phone for c in claimed)
    return dialed


@pytest.mark.parametrize(
    ("country", "spellings", "control"),
    [
        ("CL", CL_SPELLINGS, "+56 9 5555 0001"),
        ("AR", AR_SPELLINGS, "+54 9 11 5555-0001"),
    ],
)
async def test_listed_in_any_spelling_blocks_the_line_in_any_other(
    database: Database,
    frozen_clock: FrozenClock,
    admin: httpx.AsyncClient,
    country: str,
    spellings: dict[str, Spelling],
    control: str,
) -> None:
    frozen_clock.set(TUESDAY_10)
    acc = await make_account(database, cap=100, country=country)
    names = list(spellings)
    # One line per (listed spelling, job spelling) pair; half the lines in ranges
    # libphonenumber lists as assigned, half in newer ranges it does not.
    pairs = [(a, b) for a in names for b in names]
    lines = [f"{'8765' if n % 2 else '6912'}{n:04d}" for n in range(len(pairs))]
    if country == "AR":
        lines = [f"{'4567' if n % 2 else '9367'}{n:04d}" for n in range(len(pairs))]

    r = await admin.post(
        f"/api/v1/accounts/{acc}/do-not-call",
        json={"phones": [spellings[a](d) for (a, _), d in zip(pairs, lines, strict=True)]},
    )
    assert r.status_code == 201, r.text
    jobs = [
        {"contact_name": f"{a} / {b}", "phones": [spellings[b](d)], "row_number": i}
        for i, ((a, b), d) in enumerate(zip(pairs, lines, strict=True))
    ]
    jobs.append({"contact_name": "control", "phones": [control], "row_number": len(jobs)})
    r = await admin.post(
        "/api/v1/batches",
        json={
            "account_id": acc, "name": "spellings", "jobs": jobs,
            "call_settings": {"compliance_profile": "none", "max_concurrent_calls": 50,
                              "allowed_call_hours": {"start": "00:00", "end": "24:00"}},
        },
    )  # fmt: skip
    assert r.status_code == 201, r.text
    batch_id = r.json()["batch_id"]

    stored = await jobs_of(database, batch_id)
    # JSON jobs are stored normalised, like spreadsheet rows.
    assert all(p.startswith("+") and p[1:].isdigit() for j in stored for p in j.phones)

    dialed = await _dial_everything(database, TUESDAY_10, rounds=len(jobs) // 25 + 2)
    control_e164 = "+" + "".join(c for c in control if c.isdigit())
    assert dialed == [control_e164]
    blocked = [j for j in stored if j.contact_name != "control"]
    after = {j.id: j for j in await jobs_of(database, batch_id)}
    not_blocked = [
        j.contact_name
        for j in blocked
        if (after[j.id].status, after[j.id].last_outcome) != (JobStatus.FAILED, "do_not_call")
    ]
    assert not_blocked == []
    assert [a.phone for a in await account_attempts(database, acc)] == [control_e164]

    # Every spelling finds the entry through the lookup API too.
    d = lines[0]
    for spell in spellings.values():
        r = await admin.get(f"/api/v1/accounts/{acc}/do-not-call/{spell(d).strip()}")
        assert r.status_code == 200, (spell(d), r.text)


@pytest.mark.parametrize(
    ("country", "bad"), [("CL", "112345678"), ("CL", "sin número"), ("AR", "15 5555 1234")]
)
async def test_unnormalisable_numbers_are_a_422_naming_them(
    database: Database, admin: httpx.AsyncClient, country: str, bad: str
) -> None:
    acc = await make_account(database, cap=100, country=country)
    r = await admin.post(
        f"/api/v1/accounts/{acc}/do-not-call",
        json={"phones": ["+56987654321", bad]} if country == "CL" else {"phones": [bad]},
    )
    assert r.status_code == 422
    assert f"'{bad}'" in r.json()["detail"]
    assert r.json()["field"] == ("phones[1]" if country == "CL" else "phones[0]")

    r = await admin.post(
        "/api/v1/batches",
        json={
            "account_id": acc,
            "name": "x",
            "jobs": [{"phones": ["+56 9 8765 4321"]}, {"phones": [bad]}],
        }
        if country == "CL"
        else {"account_id": acc, "name": "x", "jobs": [{"phones": [bad]}]},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert f"'{bad}'" in body["detail"]
    assert body["field"] == ("jobs.1.phones.0" if country == "CL" else "jobs.0.phones.0")
    listed = (await admin.get("/api/v1/batches", params={"account_id": acc})).json()
    assert listed["total"] == 0  # nothing half-created
