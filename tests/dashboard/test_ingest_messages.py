"""The import's English row messages shown in Spanish on the review and preview pages:
bad cells go through the real parsers (so a changed English wording fails here), and a
real upload's review page shows the Spanish sentence while the API keeps its English."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dialer.dashboard.ingest_messages import row_message, spanish
from dialer.ingestion import normalize as nz
from dialer.kit import phone
from tests.dashboard.helpers import csrf_token, login
from tests.events.factories import create_account, create_user


def _message(parse: Callable[[], object]) -> str:
    try:
        parse()
    except (ValueError, phone.PhoneInvalid) as exc:
        return str(exc)
    raise AssertionError("the cell was accepted")


CELLS: list[tuple[Callable[[], object], str]] = [
    (lambda: nz.normalize_rut("12.345.678-9"), "el RUT '12.345.678-9' tiene mal el dígito verificador"),
    (lambda: nz.normalize_rut("hola"), "'hola' no es un RUT válido (por ejemplo 12.345.678-5)"),
    (lambda: nz.normalize_ar_id("123"), "'123' no es un DNI (7 u 8 dígitos) ni un CUIT (11 dígitos) válido"),
    (lambda: nz.parse_amount("mucho"), "'mucho' no es un monto (por ejemplo $1.234.567 o 1234567,50)"),
    (lambda: nz.parse_amount("-5000"), "el monto '-5000' es negativo"),
    (lambda: nz.parse_days("tres"), "'tres' no es un número de días"),
    (lambda: nz.parse_days("-2"), "los días de atraso '-2' son negativos"),
    (lambda: nz.parse_date("31/02/2026"), "'31/02/2026' no es una fecha válida"),
    (lambda: nz.parse_date("mañana"), "'mañana' no es una fecha (se espera dd/mm/aaaa)"),
    (lambda: nz.normalize_email("ana@"), "'ana@' no es un correo electrónico"),
    (lambda: phone.normalize("12", "CL"), "'12' no es un teléfono válido de Chile: solo 2 dígito(s)"),
    (lambda: phone.normalize("+56 9 1234", "CL"), None),
    (lambda: phone.normalize("abc", "AR"), "'abc' no es un teléfono válido de Argentina: tiene caracteres que no son dígitos"),
]  # fmt: skip


@pytest.mark.parametrize(("parse", "expected"), CELLS)
def test_each_parser_message_has_its_spanish_sentence(parse, expected) -> None:
    english = _message(parse)
    es = spanish(english)
    assert es is not None, english
    assert es != english
    if expected is not None:
        assert es == expected
    assert row_message(english, "en") == english


def test_a_repaired_phone_warning_reads_in_spanish() -> None:
    found = phone.normalize("0 9 8765 4321", "CL")
    assert found.warning
    es = spanish(found.warning)
    assert es is not None, found.warning
    assert "se leyó como +56987654321" in es
    assert "se quitó el prefijo 0" in es


def test_an_unknown_message_is_shown_as_the_api_words_it() -> None:
    assert row_message("something new", "es") == "something new"


@pytest.fixture
async def supervisor(app: Any, database: Any) -> Any:
    async with database.write() as s:
        account, key = await create_account(s)
        user = await create_user(s, account, "supervisor")
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    assert (await login(c, user.username)).status_code == 303
    yield c, key
    await c.aclose()


async def test_the_review_page_shows_row_errors_in_spanish(supervisor) -> None:
    c, _key = supervisor
    sheet = (
        "rut;nombre;telefono;monto\n"
        "12.345.678-5;Ana Pérez;+56987654321;150000\n"
        "11.111.111-2;Beto Soto;+56911112222;10000\n"  # wrong check digit
        "22.222.222-2;Carla Díaz;12;5000\n"  # no usable phone
    ).encode()
    token = await csrf_token(c, "/dashboard/upload")
    r = await c.post(
        "/dashboard/upload/create",
        data={"csrf_token": token, "batch_name": "Errores"},
        files={"file": ("deudores.csv", sheet, "text/csv")},
    )
    assert r.status_code == 303, r.text[:500]
    page = await c.get(r.headers["location"])
    rejected = page.text.split('id="review-rejected"')[1].split("</table>")[0]
    assert "el RUT &#39;11.111.111-2&#39; tiene mal el dígito verificador" in rejected
    assert "no es un teléfono válido de Chile: solo 2 dígito(s)" in rejected
    assert "check digit" not in rejected
    download = await c.get(r.headers["location"] + "/rejected.csv")
    rows = list(csv.reader(io.StringIO(download.text.lstrip("\ufeff")), delimiter=";"))
    assert any("tiene mal el dígito verificador" in row[2] for row in rows[1:]), rows
    english = await c.get(r.headers["location"] + "?lang=en")
    assert re.search(r"RUT &#39;11\.111\.111-2&#39; has a wrong check digit", english.text)
