"""Legal stops (``/api/v1/accounts/{id}/legal-stops``): the API, file import, upload
skipping and the dial-time check across batches; and the rules a batch must meet to
start (Chile's caller ID, Argentina's No Llame registry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]

from dialer.compliance.service import _stop_id
from dialer.db.session import Database
from dialer.ingestion.normalize import normalize_id, person_key
from dialer.job.states import JobStatus
from dialer.kit.clock import FrozenClock
from dialer.models import Account, LegalStop
from tests.compliance.test_dial_time import claim
from tests.factories import (
    NewAccount,
    cl_cobranza_settings,
    jobs_of,
    make_account,
    make_debtor_batch,
)

RUT = "12345678-5"


def _url(account_id: str, rest: str = "") -> str:
    return f"/api/v1/accounts/{account_id}/legal-stops{rest}"


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


class TestApi:
    async def test_add_get_list_delete(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.post(_url(acc), json={"debtor_id": "12.345.678-5", "reason": "judicial",
                                              "note": "Rol C-1234-2026"})  # fmt: skip
        assert r.status_code == 201, r.text
        assert r.json() == {"added": [RUT], "duplicates": [], "jobs_stopped": 0}
        again = await client.post(_url(acc), json={"debtor_id": RUT, "reason": "judicial"})
        assert again.json()["duplicates"] == [RUT]
        got = await client.get(_url(acc, "/123456785"))
        assert got.status_code == 200
        assert (got.json()["reason"], got.json()["note"]) == ("judicial", "Rol C-1234-2026")
        await client.post(_url(acc), json={"debtor_ids": ["11.111.111-1"], "reason": "deceased"})
        page = (await client.get(_url(acc), params={"reason": "deceased"})).json()
        assert [i["debtor_id"] for i in page["items"]] == ["11111111-1"]
        assert page["total"] == 1
        assert (await client.delete(_url(acc, f"/{RUT}"))).status_code == 204
        assert (await client.get(_url(acc, f"/{RUT}"))).status_code == 404
        assert (await client.delete(_url(acc, f"/{RUT}"))).status_code == 404

    async def test_bad_input_is_a_422_naming_it(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.post(_url(acc), json={"debtor_ids": [RUT, "12.345.678-9"],
                                              "reason": "insolvency"})  # fmt: skip
        assert r.status_code == 422
        assert "debtor_ids[1]" in r.json()["detail"]
        assert "check digit" in r.json()["detail"]
        r = await client.post(_url(acc), json={"debtor_id": RUT, "reason": "sued"})
        assert r.status_code == 422
        assert (await client.get(_url(acc))).json()["total"] == 0  # nothing half-applied

    async def test_another_account_is_invisible(self, new_account: NewAccount) -> None:
        _acc, client = await new_account("CL")
        other, _ = await new_account("CL")
        r = await client.post(_url(other), json={"debtor_id": RUT, "reason": "other"})
        assert r.status_code == 404

    async def test_argentine_dni_covers_the_cuil(self, new_account: NewAccount) -> None:
        acc, client = await new_account("AR")
        r = await client.post(_url(acc), json={"debtor_id": "20-12345678-6", "reason": "dispute"})
        assert r.json()["added"] == ["12345678"]
        assert (await client.get(_url(acc, "/12.345.678"))).status_code == 200

    async def test_import_csv_and_xlsx_with_reasons_and_bad_rows(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        csv = "RUT;Motivo;Detalle\n12.345.678-5;Demanda;rol 1\n11.111.111-1;Quiebra;\n" \
              "9.999.999-3;Fallecido;\n1-8;Fallecido;\n7.654.321-6;sued;\n12345678-5;juicio;\n"  # fmt: skip
        r = await client.post(_url(acc, "/import"), files={"file": ("s.csv", csv.encode())})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["added"], body["duplicates"], body["invalid"]) == (3, 1, 2)
        assert body["duplicate_rows"] == [7]
        problems = {p["row"]: (p["column"], p["reason"]) for p in body["invalid_rows"]}
        assert problems[5][0] == "RUT"
        assert "not a valid RUT" in problems[5][1]
        assert problems[6][0] == "reason"
        items = (await client.get(_url(acc))).json()["items"]
        reasons = {i["debtor_id"]: (i["reason"], i["note"]) for i in items}
        assert reasons == {
            RUT: ("judicial", "rol 1"),
            "11111111-1": ("insolvency", None),
            "9999999-3": ("deceased", None),
        }
        data = _xlsx([["Documento"], ["5.555.555-9"]])
        r = await client.post(
            _url(acc, "/import"), files={"file": ("s.xlsx", data)}, data={"reason": "other"}
        )
        assert r.json()["added"] == 1
        # A TRUE cell in the RUT column is refused with its row, not read as RUT "1".
        data = _xlsx([["RUT"], [True], ["6.666.666-2"]])
        r = await client.post(
            _url(acc, "/import"), files={"file": ("b.xlsx", data)}, data={"reason": "other"}
        )
        assert (r.json()["added"], r.json()["invalid"]) == (1, 1)
        refused = r.json()["invalid_rows"][0]
        assert (refused["row"], refused["column"], refused["value"]) == (2, "RUT", "TRUE")
        assert "not a valid RUT" in refused["reason"]
        r = await client.post(_url(acc, "/import"), files={"file": ("s.csv", b"Nombre\nAna\n")})
        assert r.status_code == 422
        assert "RUT" in r.json()["detail"]


def test_a_stop_in_any_spelling_has_the_key_of_the_ingested_debtor() -> None:
    # What the operator types for a stop and what a portfolio cell holds for the same
    # debtor, spelled differently: the stop's key is the ingested job's key.
    same = [
        ("CL", "07.000.013-K", "7000013-k"),
        ("CL", "12.345.678-5", 123456785.0),
        ("CL", "123456785.0", " 12345678-5"),
        ("AR", "20-12345678-6", "12.345.678"),
        ("AR", "20123456.0", 20123456.0),
        ("AR", "30-71234567-1", "30712345671"),
    ]
    for country, typed, cell in same:
        assert _stop_id(typed, country) == person_key(normalize_id(cell, country)), typed


class TestEnforcement:
    async def test_a_stop_blocks_the_debtor_in_every_batch(
        self, database: Database, frozen_clock: FrozenClock, new_account: NewAccount
    ) -> None:
        now = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # Tuesday 10:00 in Santiago
        frozen_clock.set(now)
        acc = await make_account(database, cap=100)
        none = cl_cobranza_settings(compliance_profile="none")
        a = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"]), ("11111111-1", ["+56987654322"])],
                             now=now, settings=none)  # fmt: skip
        b = await make_debtor_batch(
            database, acc, [(RUT, ["+56987654323"])], now=now, settings=none
        )
        async with database.write() as s:
            # A stop written without the API's immediate cancel (as if it committed while
            # the claim was reading): the dial-time check alone must block the debtor.
            s.add(LegalStop(account_id=acc, debtor_id=RUT, reason="judicial", created_at=now))
        claimed = await claim(database, now)
        assert [c.dni for c in claimed] == ["11111111-1"]
        for batch in (a, b):
            stopped = [j for j in await jobs_of(database, batch) if j.dni == RUT]
            assert [(j.status, j.last_outcome, j.attempts) for j in stopped] == [
                (JobStatus.CANCELLED, "legal_stop", 0)
            ]

    async def test_adding_a_stop_cancels_waiting_jobs_at_once(
        self, database: Database, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL", max_concurrent_calls=5)
        now = datetime.now(UTC)
        batch = await make_debtor_batch(database, acc, [(RUT, ["+56987654321"])], now=now)
        r = await client.post(_url(acc), json={"debtor_id": RUT, "reason": "insolvency"})
        assert r.json()["jobs_stopped"] == 1
        [job] = await jobs_of(database, batch)
        assert (job.status, job.last_outcome) == (JobStatus.CANCELLED, "legal_stop")

    async def test_upload_skips_stopped_debtors(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        await client.post(_url(acc), json={"debtor_id": RUT, "reason": "judicial"})
        csv = "RUT,Nombre,Telefono,Monto\n12.345.678-5,Ana,987654321,1000\n" \
              "11.111.111-1,Luis,987654322,2000\n"  # fmt: skip
        r = await client.post(
            "/api/v1/batches/excel/create",
            data={"account_id": acc, "batch_name": "Marzo"},
            files={"file": ("cartera.csv", csv.encode())},
        )
        assert r.status_code in (200, 201), r.text
        body = r.json()
        assert body["accepted"] == 1
        skipped = body.get("skipped_rows") or body.get("skipped") or []
        assert any(s["reason"] == "legal_stop" and s["row"] == 2 for s in skipped), body


class TestStartRules:
    async def test_cl_cobranza_needs_a_600_caller_id(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        base = {"account_id": acc, "name": "Marzo", "call_settings": cl_cobranza_settings()}
        r = await client.post("/api/v1/batches", json={
            **base, "provider_options": {"from_number": "+56229998888"}})  # fmt: skip
        assert r.status_code == 422
        assert "Res. Exenta" in r.json()["detail"]
        assert r.json()["rule"] == "cl.caller_id_600"
        r = await client.post("/api/v1/batches", json={
            **base, "provider_options": {"from_number": "+56 600 123 4567"}})  # fmt: skip
        assert r.status_code in (200, 201), r.text

    async def test_chilean_sales_need_an_809_caller_id(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        body = {"account_id": acc, "name": "Ventas", "processing_type": "acquisition",
                "provider_options": {"from_number": "+56600123456"}}  # fmt: skip
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 422
        assert r.json()["rule"] == "cl.caller_id_809"

    async def test_argentine_sales_need_a_recent_no_llame_import(
        self, database: Database, new_account: NewAccount, frozen_clock: FrozenClock
    ) -> None:
        now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
        frozen_clock.set(now)
        acc, client = await new_account("AR")
        body = {"account_id": acc, "name": "Ventas", "processing_type": "acquisition"}
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 409
        assert "never imported" in r.json()["detail"]
        assert r.json()["rule"] == "ar.no_llame_30_days"
        # A header-less registry export counts as a No Llame import.
        imp = await client.post("/api/v1/accounts/" + acc + "/do-not-call/import",
                                files={"file": ("nollame.csv", b"1145678901\n")})  # fmt: skip
        assert imp.status_code == 200, imp.text
        assert (await client.post("/api/v1/batches", json=body)).status_code in (200, 201)
        frozen_clock.set(now + timedelta(days=31))
        r = await client.post("/api/v1/batches", json=body)
        assert r.status_code == 409
        assert "31 days old" in r.json()["detail"]
        # Collection batches are not concerned.
        r = await client.post("/api/v1/batches", json={**body, "processing_type": "basic"})
        assert r.status_code in (200, 201)
        async with database.read() as s:
            account = await s.get(Account, acc)
            assert account is not None
            assert account.no_llame_imported_at == now
