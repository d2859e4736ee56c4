"""Argentine provincial rules, per debtor, keyed by the debtor's province: a province's
own No Llame registry (Ciudad de Buenos Aires Ley 2.014, Córdoba Ley 10.016) holds an
Argentine sales batch's calls to its debtors until the account imported it, and its
numbers are then never dialed; collection batches and other provinces are not
concerned. Provincial holidays (the ``holidays`` subdivisions) close only that
province."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from dialer.batch.compliance_checks import PROVINCIAL_REGISTRY_WAIT
from dialer.billing.service import topup
from dialer.db.session import Database
from dialer.kit.clock import FrozenClock
from dialer.models import Account
from tests.compliance.test_dial_time import claim
from tests.factories import NewAccount, jobs_of

BSAS = ZoneInfo("America/Argentina/Buenos_Aires")
TUESDAY_NOON = datetime(2026, 3, 10, 12, 0, tzinfo=BSAS).astimezone(UTC)
DEBTORS = [
    {"dni": "20111111", "phones": ["+5491145678901"], "payload": {"provincia": "CABA"}},
    {"dni": "20222222", "phones": ["+5491145678902"], "payload": {"provincia": "CABA"}},
    {"dni": "20333333", "phones": ["+5493514567890"], "payload": {"provincia": "Córdoba"}},
    {"dni": "20444444", "phones": ["+5492614567890"], "payload": {"provincia": "Mendoza"}},
]


async def sales_account(
    database: Database, new_account: NewAccount
) -> tuple[str, httpx.AsyncClient]:
    acc, client = await new_account("AR")
    async with database.write() as s:
        await topup(s, acc, 60_000, key=f"topup:{acc}")
        account = await s.get(Account, acc)
        assert account is not None
        account.no_llame_imported_at = TUESDAY_NOON  # the national registry is up to date
    return acc, client


async def test_a_provinces_registry_holds_sales_calls_to_its_debtors_until_imported(
    database: Database, new_account: NewAccount, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(TUESDAY_NOON)
    acc, client = await sales_account(database, new_account)
    body = {"account_id": acc, "name": "Ventas", "processing_type": "acquisition",
            "jobs": DEBTORS}  # fmt: skip
    r = await client.post("/api/v1/batches", json=body)
    assert r.status_code in (200, 201), r.text
    batch = r.json()["batch_id"]

    claimed = await claim(database, TUESDAY_NOON)
    assert [c.dni for c in claimed] == ["20444444"]  # Mendoza has no registry of its own
    jobs = {j.dni: j for j in await jobs_of(database, batch)}
    for dni in ("20111111", "20222222", "20333333"):
        assert jobs[dni].wait_reason == PROVINCIAL_REGISTRY_WAIT
        assert jobs[dni].attempts == 0
        assert jobs[dni].next_attempt_at == TUESDAY_NOON + timedelta(hours=1)
    summary = (await client.get(f"/api/v1/batches/{batch}/summary")).json()
    assert summary["compliance"]["by_reason"][PROVINCIAL_REGISTRY_WAIT] == 3

    # The City's registry is imported (one of the two CABA numbers is in it): the other
    # CABA debtor is called, the listed one never is; Córdoba still waits for its own.
    imp = await client.post(
        f"/api/v1/accounts/{acc}/do-not-call/import", data={"source": "no_llame_caba"},
        files={"file": ("nollame_caba.csv", b"1145678902\n")},
    )  # fmt: skip
    assert imp.status_code == 200, imp.text
    async with database.read() as s:
        account = await s.get(Account, acc)
        assert account is not None
        assert set(account.registry_imports or {}) == {"no_llame_caba"}
        assert account.no_llame_imported_at == TUESDAY_NOON  # not the national registry
    later = TUESDAY_NOON + timedelta(hours=1)
    frozen_clock.set(later)
    claimed = await claim(database, later)
    assert [c.dni for c in claimed] == ["20111111"]
    jobs = {j.dni: j for j in await jobs_of(database, batch)}
    assert (jobs["20222222"].last_outcome, jobs["20222222"].attempts) == ("do_not_call", 0)
    assert jobs["20333333"].wait_reason == PROVINCIAL_REGISTRY_WAIT


async def test_collection_batches_are_not_concerned(
    database: Database, new_account: NewAccount, frozen_clock: FrozenClock
) -> None:
    frozen_clock.set(TUESDAY_NOON)
    _acc, client = await sales_account(database, new_account)
    r = await client.post("/api/v1/batches", json={
        "account_id": _acc, "name": "Cobranza", "jobs": DEBTORS[:1] + DEBTORS[2:3]})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    claimed = await claim(database, TUESDAY_NOON)
    assert sorted(c.dni for c in claimed) == ["20111111", "20333333"]


async def test_a_provincial_holiday_closes_that_province_only(
    database: Database, new_account: NewAccount, frozen_clock: FrozenClock
) -> None:
    # Saturday 25 July 2026, Santiago Apóstol: a holiday of Mendoza (``holidays`` AR
    # subdivision M), not of the nation.
    at = datetime(2026, 7, 25, 10, 0, tzinfo=BSAS).astimezone(UTC)
    frozen_clock.set(at)
    acc, client = await sales_account(database, new_account)
    r = await client.post("/api/v1/batches", json={
        "account_id": acc, "name": "Cobranza",
        "call_settings": {"compliance_profile": "ar_cobranza"},
        "jobs": DEBTORS[2:]})  # fmt: skip
    assert r.status_code in (200, 201), r.text
    claimed = await claim(database, at)
    assert [c.dni for c in claimed] == ["20333333"]
    mendoza = {j.dni: j for j in await jobs_of(database, r.json()["batch_id"])}["20444444"]
    assert (mendoza.region, mendoza.wait_reason) == ("M", "compliance_local_window")
