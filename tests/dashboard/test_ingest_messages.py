"""The import's row messages shown in Spanish on the review and preview pages, chosen by
their codes: every code ingestion lists has its Spanish sentence, bad cells go through
the real parsers and validator (so a message without its code, or a code without a
sentence, fails here), and a real upload's review page shows the Spanish sentence while
the API keeps its English."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialer.dashboard import ingest_messages as es
from dialer.dashboard.codes import code_label
from dialer.dashboard.ingest_messages import ignored_reason, row_message, spanish
from dialer.ingestion import codes
from dialer.ingestion import headers as hdr
from dialer.ingestion.rows import RowError, RowOptions, RowValidator
from dialer.kit import phone
from tests.dashboard.helpers import csrf_token, login
from tests.factories import add_account, add_user

SRC = Path(__file__).resolve().parents[2] / "src" / "dialer"


def test_every_code_has_its_spanish_sentence() -> None:
    assert set(es.ROW) == set(codes.ROW_CODES)
    assert set(es.PHONE_DETAILS) == set(codes.PHONE_DETAILS)
    assert set(es.PHONE_NOTES) == set(codes.PHONE_NOTES)
    assert set(es.PHONE_KINDS) == set(codes.PHONE_KINDS)
    assert set(es.IGNORED) == set(codes.IGNORED_CODES)
    # Skipped rows are worded by the dashboard's code table ("skip").
    assert all(code_label("es", "skip", c) for c in codes.SKIP_CODES)


def test_every_code_the_source_gives_is_listed() -> None:
    # A code written where a message is made (CellError("code", ...), RowError(..., "code",
    # ...), Ignored(..., "code")) must be in ingestion.codes, hence translated.
    text = "".join(
        (SRC / f).read_text()
        for f in ("ingestion/rows.py", "ingestion/normalize.py", "ingestion/service.py",
                  "ingestion/headers.py", "kit/debtor_id.py", "kit/phone.py")
    )  # fmt: skip
    given = set(re.findall(r'CellError\(\s*"(\w+)"', text))
    given |= set(re.findall(r'RowError\((?:[^()]|\([^()]*\))*?,\s*"(\w+)",\s*[{]', text))
    assert given, "no code found: the pattern is stale"
    assert given <= set(codes.ROW_CODES), given - set(codes.ROW_CODES)
    headers = (SRC / "ingestion/headers.py").read_text()
    assert all(f'"{code}"' in headers for code in codes.IGNORED_CODES)
    assert headers.count("Ignored(") == len(codes.IGNORED_CODES)  # one code each


HEADERS = ["RUT", "Nombre", "Teléfono", "Correo", "Monto", "Fecha Vencimiento",
           "Días de retraso", "Observación"]  # fmt: skip
GOOD = ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", "", 1000.0, "", "", ""]

# (column, bad cell, the Spanish sentence expected, or None: just translated)
CELLS: list[tuple[int, object, str | None]] = [
    (0, "12.345.678-9", "el RUT '12.345.678-9' tiene mal el dígito verificador"),
    (0, "hola", "'hola' no es un RUT válido (por ejemplo 12.345.678-5)"),
    (0, "", "falta el RUT"),
    (2, "12", "'12' no es un teléfono válido de Chile: solo 2 dígito(s)"),
    (2, "abc", "'abc' no es un teléfono válido de Chile: tiene caracteres que no son dígitos"),
    (2, "112345678", None),
    (2, "800 123 456", "'800 123 456' no es un teléfono válido de Chile: un número gratuito"),
    (2, "600 123 4567", None),
    (2, "98765432101", "'98765432101' no es un teléfono válido de Chile: 11 dígitos; "
                       "los números chilenos tienen 9"),
    (2, "+1 555 0100", None),
    (3, "ana@", "'ana@' no es un correo electrónico"),
    (4, "mucho", "'mucho' no es un monto (por ejemplo $1.234.567 o 1234567,50)"),
    (4, "-5000", "el monto '-5000' es negativo"),
    (4, "1.2.3", "'1.2.3' no es un monto"),
    (4, float("inf"), None),
    (5, "31/02/2026", "'31/02/2026' no es una fecha válida"),
    (5, "mañana", "'mañana' no es una fecha (se espera dd/mm/aaaa)"),
    (5, 60.0, "el número de serie 60 de Excel es el 29 de febrero de 1900, un día que no existió"),
    (5, True, None),
    (6, "tres", "'tres' no es un número de días"),
    (6, "-2", "los días de atraso '-2' son negativos"),
    (6, 2.5, "'2.5' no es un número entero de días"),
    (6, "99999", "los días de atraso '99999' son más de cien años"),
    (7, float("nan"), "'nan' no es un número"),
    (1, "x" * 201, "el nombre tiene más de 200 caracteres"),
]  # fmt: skip


@pytest.mark.parametrize(("column", "value", "expected"), CELLS)
def test_each_refused_cell_is_worded_in_spanish_by_its_code(
    column: int, value: object, expected: str | None
) -> None:
    validator = RowValidator(hdr.detect([HEADERS], None), RowOptions(country="CL"))
    cells = list(GOOD)
    cells[column] = value
    result = validator.validate(7, cells)
    assert isinstance(result, list), result
    [error] = [e for e in result if e.column == HEADERS[column]]
    assert error.code in codes.ROW_CODES
    assert set(codes.ROW_CODES[error.code]) <= set(error.params)
    entry = {"message": error.message, "code": error.code, "params": dict(error.params)}
    sentence = row_message(entry, "es")
    assert sentence == spanish(error.code, error.params) != error.message
    if expected is not None:
        assert sentence == expected
    assert row_message(entry, "en") == error.message


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("0 9 8765 4321", "CL", "'0 9 8765 4321' se leyó como +56987654321: se quitó el prefijo 0 "
                                "(no se marca desde 2016)"),
        ("8765 4321", "CL", None),
        ("2 698 1234", "CL", None),
        ("56987654321.0", "CL", None),
        ("+56 9 6912 3456", "CL", "'+56 9 6912 3456' se leyó como +56969123456: número móvil bien "
                                  f"formado, en un rango que {phone.LIBRARY} no registra"),
        ("+54 9 11 9367-5983", "AR", None),
    ],
)  # fmt: skip
def test_a_repaired_or_unlisted_phone_warning_reads_in_spanish(
    raw: str, country: str, expected: str | None
) -> None:
    found = phone.normalize(raw, country)
    warning = RowError.phone_warning(3, "Teléfono", raw, found)
    assert warning.code in ("phone_repaired", "phone_unlisted_range")
    assert warning.params["original"] == raw
    assert warning.params["result"] == found.e164
    sentence = spanish(warning.code, warning.params)
    assert sentence is not None
    assert sentence != warning.message
    if expected is not None:
        assert sentence == expected


def test_every_phone_refusal_detail_and_kind_reads_in_spanish() -> None:
    for detail in codes.PHONE_DETAILS:
        params = {"value": "x", "country": "AR", "reason": "too_short", "detail": detail,
                  "digits": 3, "prefix": "15", "country_code": 1, "kind": "pager"}  # fmt: skip
        assert spanish("phone_invalid", params), detail
    for kind in codes.PHONE_KINDS:
        params = {"value": "x", "country": "CL", "reason": "not_mobile_or_landline",
                  "detail": "number_kind", "kind": kind}  # fmt: skip
        assert (
            spanish("phone_invalid", params)
            == f"'x' no es un teléfono válido de Chile: {es.PHONE_KINDS[kind]}"
        )


def test_ignored_columns_are_worded_by_their_code() -> None:
    mapping = hdr.detect(
        [["RUT", "Nombre", "Teléfono", "Saldo Total", "Saldo actualizado", "Fecha de pago"],
         ["12.345.678-5", "Ana", "987654321", 10.0, 9.0, ""]],
        None,
    )  # fmt: skip
    notes = {i["header"]: i for i in mapping.ignored_dict()}
    assert ignored_reason(notes["Saldo Total"], "es") == (
        "amount se leyó de 'Saldo actualizado' (otra columna); se guarda como dato extra"
    )
    assert ignored_reason(notes["Fecha de pago"], "es").startswith("vacía en las primeras filas")
    assert ignored_reason(notes["Saldo Total"], "en") == notes["Saldo Total"]["reason"]


def test_a_message_without_a_code_is_shown_as_the_api_words_it() -> None:
    # A report stored before messages had codes: its English, never a guess.
    assert row_message({"message": "something new"}, "es") == "something new"
    assert row_message({"message": "x", "code": "unknown_code", "params": {}}, "es") == "x"


@pytest.fixture
async def supervisor(app: Any, database: Any) -> Any:
    async with database.write() as s:
        account, key = await add_account(s)
        user = await add_user(s, account, "supervisor")
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
