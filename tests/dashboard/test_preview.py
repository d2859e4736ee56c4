"""The upload preview names each file column by the field it was read as, and shows the
first debtors as the campaign will use them: RUT with dots and hyphen, phones grouped
(mobile / landline), money with $ and es-CL grouping, days as dd-mm-aaaa."""

from __future__ import annotations

import csv
import re
from html import unescape
from pathlib import Path

import httpx
import pytest

from dialer.dashboard.contacts import payload_label
from tests.dashboard.helpers import csrf_token, hx_post, login
from tests.factories import add_account, add_user

HEADER = [
    "Rut Deudor", "Nombre Cliente", "Celular", "Fono Fijo", "Saldo actualizado",
    "Fecha Vencimiento", "Comuna", "Producto Financiero",
]  # fmt: skip
ROWS = [
    ["12345678-5", "Ana Rojas", "987654321", "222334455", "1234567", "05/03/2026",
     "Punta Arenas", "Tarjeta"],
    ["11111111-1", "Luis Soto", "+56 9 1234 5678", "", "49900", "2026-04-30", "", "Crédito"],
]  # fmt: skip


@pytest.fixture
async def client(app, database):
    async with database.write() as s:
        account, _key = await add_account(s)
        user = await add_user(s, account, "supervisor")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await login(c, user.username)).status_code == 303
        yield c


def _cells(html: str, table: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body, html
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body[1], re.S)
    return [
        [" ".join(unescape(re.sub(r"<[^>]+>", " ", c)).split()) for c in re.findall(
            r"<td[^>]*>(.*?)</td>", r, re.S)]
        for r in rows
    ]  # fmt: skip


async def _preview(c: httpx.AsyncClient, tmp_path: Path, lang: str = "es") -> str:
    path = tmp_path / "cartera.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=";").writerows([HEADER, *ROWS])
    r = await hx_post(
        c,
        f"/dashboard/upload/preview?lang={lang}",
        await csrf_token(c),
        data={"batch_name": "Vista previa"},
        files={"file": ("cartera.csv", path.read_bytes())},
    )
    assert r.status_code == 200, r.text
    return r.text


async def test_each_column_is_shown_beside_the_field_it_is_read_as(client, tmp_path) -> None:
    html = await _preview(client, tmp_path)
    mapping = dict(map(tuple, _cells(html, "preview-columns")))
    assert mapping["Rut Deudor"] == "RUT"
    assert mapping["Nombre Cliente"] == "Nombre"
    assert mapping["Celular"] == "Teléfono móvil"
    assert mapping["Fono Fijo"] == "Teléfono fijo"
    assert mapping["Saldo actualizado"] == "Monto deuda"
    assert mapping["Fecha Vencimiento"] == "Fecha de vencimiento"
    assert mapping["Comuna"] == "Comuna"
    assert mapping["Producto Financiero"].startswith("Dato adicional")
    # The sample's headings carry the file's own header under the field's name.
    assert re.search(
        r'data-key="amount">Monto deuda<br><small class="muted">Saldo actualizado', html
    )


async def test_the_first_debtors_read_as_the_campaign_will_use_them(client, tmp_path) -> None:
    html = await _preview(client, tmp_path)
    first, second = _cells(html, "preview-rows")
    row, name, rut, phones, amount, due, _cuotas, zone, other = first
    assert (row, name, rut) == ("2", "Ana Rojas", "12.345.678-5")
    assert phones == "+56 9 8765 4321 móvil +56 2 2233 4455 fijo"
    assert (amount, due) == ("$1.234.567", "05-03-2026")
    assert zone.startswith("Punta Arenas (Magallanes")  # the commune's region and zone
    assert "comuna: Punta Arenas" in zone
    assert "Producto Financiero: Tarjeta" in other
    assert second[2:6] == ["11.111.111-1", "+56 9 1234 5678 móvil", "$49.900", "30-04-2026"]
    assert "data-untranslated" not in html
    # No raw payload or ISO day is left on the page.
    assert "2026-04-30" not in html
    assert "'amount'" not in html


async def test_in_english_the_same_preview_is_in_english(client, tmp_path) -> None:
    html = await _preview(client, tmp_path, lang="en")
    mapping = dict(map(tuple, _cells(html, "preview-columns")))
    assert mapping["Celular"] == "Mobile phone"
    assert mapping["Saldo actualizado"] == "Amount owed"
    first = _cells(html, "preview-rows")[0]
    assert first[4:6] == ["$1,234,567", "2026-03-05"]


async def test_rows_already_in_a_campaign_are_one_line_per_reason(client, tmp_path) -> None:
    """A second upload of the same file: every debtor is already in an active campaign,
    said once with the count and the rows, not once per row."""
    await _preview(client, tmp_path)  # writes the file
    created = await hx_post(
        client,
        "/dashboard/upload/create",
        await csrf_token(client),
        data={"batch_name": "Primera"},
        files={"file": ("cartera.csv", (tmp_path / "cartera.csv").read_bytes())},
    )
    assert created.status_code == 204, created.text
    # The draft is started, so its debtors are "in an active campaign".
    batch_id = created.headers["HX-Redirect"].rsplit("/", 1)[-1]
    started = await client.post(
        f"/dashboard/batches/{batch_id}/start",
        data={"csrf_token": await csrf_token(client)},
    )
    assert started.status_code == 303
    html = await _preview(client, tmp_path)
    items = re.findall(r'<li data-reason="([^"]+)">([^<]+)</li>', html)
    assert len(items) == 1, items
    reason, text = items[0]
    assert reason == "duplicate_in_active_batch"
    assert text.endswith(": 2 filas (2, 3)")


def test_what_an_agent_reports_is_named_by_the_keys_the_outcome_parser_reads() -> None:
    assert payload_label("es", "call_back_on") == "Volver a llamar"
    assert payload_label("es", "monto_promesa") == "Monto prometido"
    assert payload_label("en", "fecha_promesa") == "Promised date"
    assert payload_label("es", "n_pedido") == "n_pedido"  # unknown: as imported
