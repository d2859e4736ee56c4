"""The do-not-call API: add, list, search, remove, import; tenant isolation; bad input."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
from openpyxl import Workbook

from tests.factories import NewAccount


def _url(account_id: str, rest: str = "") -> str:
    return f"/api/v1/accounts/{account_id}/do-not-call{rest}"


class TestAdd:
    async def test_numbers_are_normalised_with_the_account_country(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        r = await client.post(_url(acc), json={"phones": ["9 8765 4321", "+56 9 6123 4567"]})
        assert r.status_code == 201, r.text
        assert r.json() == {"added": ["+56961234567", "+56987654321"], "duplicates": []}

        r = await client.post(
            _url(acc), json={"phone": "+56987654321", "reason": "pidió no llamar"}
        )
        assert r.status_code == 201
        assert r.json() == {"added": [], "duplicates": ["+56987654321"]}

        listed = (await client.get(_url(acc))).json()
        assert listed["total"] == 2
        assert {i["phone"] for i in listed["items"]} == {"+56961234567", "+56987654321"}

    async def test_argentine_spellings_of_one_line_are_one_entry(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("AR")
        r = await client.post(_url(acc), json={"phone": "11 4567-8901"})
        assert r.json()["added"] == ["+541145678901"]
        # The international mobile spelling is the same line: already covered.
        r = await client.post(_url(acc), json={"phone": "+54 9 11 4567-8901"})
        assert r.json() == {"added": [], "duplicates": ["+5491145678901"]}
        r = await client.get(_url(acc, "/+5491145678901"))
        assert r.status_code == 200
        assert r.json()["phone"] == "+541145678901"

    async def test_an_unreadable_number_rejects_the_request_naming_it(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        r = await client.post(_url(acc), json={"phones": ["+56987654321", "12"]})
        assert r.status_code == 422
        body = r.json()
        assert body["field"] == "phones[1]"
        assert "'12'" in body["detail"]
        assert (await client.get(_url(acc))).json()["total"] == 0

    async def test_empty_body_is_a_422(self, new_account: NewAccount) -> None:
        acc, client = await new_account()
        r = await client.post(_url(acc), json={})
        assert r.status_code == 422
        assert "phone" in r.json()["detail"]


class TestListAndRemove:
    async def test_search_and_paging(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        phones = [f"+5698765{i:04d}" for i in range(30)]
        await client.post(_url(acc), json={"phones": phones})
        page = (await client.get(_url(acc), params={"limit": 10, "skip": 25})).json()
        assert page["total"] == 30
        assert len(page["items"]) == 5
        found = (await client.get(_url(acc), params={"search": "9 8765 0012"})).json()
        assert [i["phone"] for i in found["items"]] == ["+56987650012"]

    async def test_remove_then_404(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        await client.post(_url(acc), json={"phone": "+56987654321"})
        r = await client.delete(_url(acc, "/987654321"))
        assert r.status_code == 204
        assert (await client.get(_url(acc, "/+56987654321"))).status_code == 404
        r = await client.delete(_url(acc, "/+56987654321"))
        assert r.status_code == 404
        assert r.json()["field"] == "phone"

    async def test_bad_phone_in_path_is_a_422(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.delete(_url(acc, "/abc"))
        assert r.status_code == 422
        assert r.json()["field"] == "phone"


class TestTenantIsolation:
    async def test_another_accounts_list_is_invisible(self, new_account: NewAccount) -> None:
        acc_a, client_a = await new_account("CL")
        acc_b, client_b = await new_account("CL")
        await client_a.post(_url(acc_a), json={"phone": "+56987654321"})
        for method, path in [
            ("GET", _url(acc_a)),
            ("POST", _url(acc_a)),
            ("GET", _url(acc_a, "/+56987654321")),
            ("DELETE", _url(acc_a, "/+56987654321")),
        ]:
            r = await client_b.request(
                method, path, json={"phone": "+56911111111"} if method == "POST" else None
            )
            assert r.status_code == 404, (method, path)
        r = await client_b.post(
            _url(acc_a, "/import"), files={"file": ("l.csv", b"telefono\n987654321\n")}
        )
        assert r.status_code == 404
        # B's own list is separate; A's entry is untouched.
        assert (await client_b.get(_url(acc_b))).json()["total"] == 0
        assert (await client_a.get(_url(acc_a))).json()["total"] == 1

    async def test_admin_sees_any_account_and_unknown_is_404(
        self, new_account: NewAccount, admin: httpx.AsyncClient
    ) -> None:
        acc, _ = await new_account("CL")
        r = await admin.post(_url(acc), json={"phone": "+56987654321"})
        assert r.status_code == 201
        assert (await admin.get(_url("acc-missing"))).status_code == 404

    async def test_no_key_is_401(self, client: httpx.AsyncClient, new_account: NewAccount) -> None:
        acc, _ = await new_account()
        assert (await client.get(_url(acc))).status_code == 401


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


class TestImport:
    async def test_a_file_past_the_upload_limit_is_a_413(
        self, new_account: NewAccount, app: Any
    ) -> None:
        acc, client = await new_account("AR")
        app.state.settings = app.state.settings.model_copy(update={"MAX_UPLOAD_BYTES": 100})
        content = b"1145678901\n" * 20  # 220 bytes
        r = await client.post(_url(acc, "/import"), files={"file": ("no_llame.txt", content)})
        assert (r.status_code, r.json()["field"]) == (413, "file")
        assert (await client.get(_url(acc))).json()["total"] == 0
        r = await client.post(_url(acc, "/import"), files={"file": ("n.txt", content[:99])})
        assert r.status_code == 200, r.text

    async def test_no_llame_export_one_number_per_row(self, new_account: NewAccount) -> None:
        acc, client = await new_account("AR")
        await client.post(_url(acc), json={"phone": "+5491145678901"})
        content = b"1145678901\n2214567890\n\n12\n2214567890\n3514567890\n"
        r = await client.post(
            _url(acc, "/import"), files={"file": ("no_llame.txt", content, "text/plain")}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["format"] == "no_llame"
        assert body["total_rows"] == 5
        assert body["added"] == 2
        assert body["duplicates"] == 2  # row 1 already listed as +549..., row 5 repeats row 2
        assert body["duplicate_rows"] == [1, 5]
        assert body["invalid"] == 1
        assert body["invalid_rows"] == [
            {
                "row": 4,
                "column": "A",
                "value": "12",
                "reason": "'12' is not a valid AR phone number: only 2 digit(s)",
            }
        ]
        found = (await client.get(_url(acc), params={"limit": 100})).json()
        assert {i["phone"] for i in found["items"]} == {
            "+5491145678901", "+542214567890", "+543514567890",
        }  # fmt: skip
        assert {i["source"] for i in found["items"]} == {"api", "import"}

    async def test_csv_with_spanish_header_semicolons_and_latin1(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("CL")
        content = "Nombre;Teléfono Celular;Motivo\nAna;9 8765 4321;pidió\nJosé;;x\nLuis;+56 9 6123 4567;\n"
        r = await client.post(
            _url(acc, "/import"), files={"file": ("lista.csv", content.encode("latin-1"))}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["format"], body["column"]) == ("header", "Teléfono Celular")
        assert (body["added"], body["invalid"]) == (2, 1)
        assert body["invalid_rows"][0] == {
            "row": 3, "column": "Teléfono Celular", "value": "", "reason": "empty",
        }  # fmt: skip

    async def test_xlsx_with_numeric_cells(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        data = _xlsx([["RUT", "Fono 1"], ["1-9", 987654321], ["2-7", "961234567"]])
        r = await client.post(_url(acc, "/import"), files={"file": ("l.xlsx", data)})
        assert r.status_code == 200, r.text
        assert r.json()["added"] == 2
        assert (await client.get(_url(acc, "/+56987654321"))).status_code == 200

    async def test_a_true_or_false_cell_in_the_phone_column_is_refused_with_its_row(
        self, new_account: NewAccount
    ) -> None:
        """A checkbox column pasted over the phones is a mistake: each TRUE/FALSE cell is
        refused naming its row, column and value, never read as the number 1 or 0."""
        acc, client = await new_account("CL")
        data = _xlsx([["RUT", "Fono 1"], ["1-9", 987654321], ["2-7", True], ["3-5", False]])
        r = await client.post(_url(acc, "/import"), files={"file": ("l.xlsx", data)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["added"], body["invalid"]) == (1, 2)
        problems = {p["row"]: (p["column"], p["value"]) for p in body["invalid_rows"]}
        assert problems == {3: ("Fono 1", "TRUE"), 4: ("Fono 1", "FALSE")}
        assert all("not a valid CL phone number" in p["reason"] for p in body["invalid_rows"])
        assert (await client.get(_url(acc))).json()["total"] == 1

    async def test_file_without_a_phone_column_is_a_422(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.post(
            _url(acc, "/import"), files={"file": ("l.csv", b"nombre,rut\nAna,1-9\n")}
        )
        assert r.status_code == 422
        assert r.json()["field"] == "file"
        assert "row 1" in r.json()["detail"]

    async def test_empty_and_corrupt_files_are_4xx(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        for name, content in [
            ("l.csv", b""),
            ("l.xlsx", b"PK\x03\x04garbage"),
            ("l.xls", b"\xd0\xcf\x11\xe0rest"),
            ("l.csv", b"telefono\n"),
        ]:
            r = await client.post(_url(acc, "/import"), files={"file": (name, content)})
            assert r.status_code == 422, (name, r.text)
            assert r.json()["field"] == "file"

    async def test_zip_bomb_is_refused_before_unpacking(
        self, new_account: NewAccount, tmp_path: Path
    ) -> None:
        from tests.hostile.test_spreadsheets import _zip_bomb

        acc, client = await new_account("CL")
        bomb = _zip_bomb(tmp_path / "lista.xlsx", unpacked_mb=200).read_bytes()
        r = await client.post(_url(acc, "/import"), files={"file": ("lista.xlsx", bomb)})
        assert r.status_code == 413, r.text
        assert r.json()["field"] == "file"
        assert "zip bomb" in r.json()["detail"]
        listed = await client.get(_url(acc, ""))
        assert listed.json()["total"] == 0

    async def test_missing_file_field_is_a_422(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.post(_url(acc, "/import"), data={"country": "AR"})
        assert r.status_code == 422
        assert "file" in r.json()["detail"]

    async def test_country_override_for_a_foreign_registry(self, new_account: NewAccount) -> None:
        acc, client = await new_account("CL")
        r = await client.post(
            _url(acc, "/import"),
            files={"file": ("no_llame.csv", b"1145678901\n")},
            data={"country": "AR"},
        )
        assert r.json()["added"] == 1
        assert (await client.get(_url(acc, "/+5491145678901"))).status_code == 200


class TestProfiles:
    async def test_profiles_list_their_rules(self, new_account: NewAccount) -> None:
        _, client = await new_account()
        r = await client.get("/api/v1/compliance/profiles")
        assert r.status_code == 200
        profiles = {p["name"]: p for p in r.json()}
        assert set(profiles) == {"none", "cl_cobranza", "ar_cobranza"}
        assert "Ley 21.320" in profiles["cl_cobranza"]["citation"]
        assert len(profiles["cl_cobranza"]["rules"]) == 4
        ar = {r["rule"]: r["text"] for r in profiles["ar_cobranza"]["rules"]}
        assert "Sat 09:00-13:00" in ar["ar_cobranza.hours"]
        assert "AR" in ar["ar_cobranza.holidays"]


class TestLargeImport:
    async def test_registry_sized_import_reports_duplicates_and_blocks_numbers(
        self, new_account: NewAccount
    ) -> None:
        acc, client = await new_account("AR")
        await client.post(_url(acc), json={"phone": "+5491120000007"})
        lines = [f"11{20_000_000 + i}" for i in range(6_000)]
        content = ("\n".join([*lines, lines[10]]) + "\n").encode()
        r = await client.post(_url(acc, "/import"), files={"file": ("no_llame.csv", content)})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total_rows"], body["added"], body["duplicates"]) == (6_001, 5_999, 2)
        assert body["duplicate_rows"] == [8, 6_001]
        again = await client.post(_url(acc, "/import"), files={"file": ("no_llame.csv", content)})
        assert (again.json()["added"], again.json()["duplicates"]) == (0, 6_001)
        assert (await client.get(_url(acc, "/+5491120005999"))).status_code == 200
