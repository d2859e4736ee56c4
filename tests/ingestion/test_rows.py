"""Row validation: the payload written as JSON member by member is exactly the JSON of
the payload dict the reference path builds, errors included."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ingestion import headers as hdr
from dialer.ingestion.rows import ContactRow, RowOptions, RowValidator, derived_dates

HEADERS = [
    "RUT", "Nombre", "Teléfono", "Monto", "Moneda", "Fecha Vencimiento", "Fecha Máxima",
    "Empresa", "N° Cuota", "Observación", "Días de retraso",
]  # fmt: skip

cell = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "$1.234.567", "1234567,50", "1.234", "-5000", "abc", "clp",
                     "21/03/2026", "31/02/2026", "2026-03-21", "46102", "Crédito \"Sur\"",
                     "línea\nnueva", "\\", "ñandú"]),
    st.text(max_size=12),
    st.integers(-10, 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.dates(min_value=date(1900, 1, 1)),
    st.datetimes(min_value=datetime(1900, 1, 1)),
)  # fmt: skip


def _validators(**options: Any) -> tuple[RowValidator, RowValidator]:
    mapping = hdr.detect([HEADERS], None)
    direct = RowValidator(mapping, RowOptions(country="CL", **options))
    reference = RowValidator(mapping, RowOptions(country="CL", **options))
    reference._json_direct = False
    assert direct._json_direct
    return direct, reference


@settings(max_examples=400, deadline=None)
@given(
    rows=st.lists(st.lists(cell, min_size=8, max_size=8), min_size=1, max_size=8),
    fixed=st.booleans(),
    consolidate=st.booleans(),
)
def test_direct_json_payload_equals_the_dict_path(
    rows: list[list[object]], fixed: bool, consolidate: bool
) -> None:
    options: dict[str, Any] = {"fecha_limite": date(2026, 4, 30)} if fixed else {}
    options["consolidate"] = consolidate
    direct, reference = _validators(**options)
    # Rows repeat so the per-column memos are exercised on their second sight too.
    for n, payload_cells in enumerate(rows + rows, start=2):
        cells = ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", *payload_cells]
        assert direct.validate(n, cells) == reference.validate(n, cells)


EXTRAS = ["RUT", "Nombre", "Teléfono", "Monto", "Sucursal", "Ejecutivo", "Tasa", "Gestor",
          "Observación", "Campaña"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    sample=st.lists(
        st.lists(st.sampled_from(["", "x", 0.0, None]), min_size=6, max_size=6), max_size=4
    ),
    rows=st.lists(st.lists(cell, min_size=6, max_size=6), min_size=1, max_size=6),
    blank_share=st.sampled_from([0.0, 0.5, 0.9]),
)
def test_extra_columns_blank_under_the_header_change_nothing(
    sample: list[list[object]], rows: list[list[object]], blank_share: float
) -> None:
    # The validator skips the extra columns that were blank in the sampled rows while
    # a row has them blank too: a row with a value there (of any type), a None or a
    # space is validated as without the sample, member order and errors included.
    mapping = hdr.detect([EXTRAS], None)
    head = ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", 1000.0]
    sampled = RowValidator(mapping, RowOptions(country="CL"), [[*head, *extra] for extra in sample])
    reference = RowValidator(mapping, RowOptions(country="CL"))
    reference._json_direct = False
    for n, extra in enumerate(rows, start=2):
        # Most rows of an export leave those columns blank: blank some cells.
        cut = int(len(extra) * blank_share)
        cells = [*head, *([""] * cut), *extra[cut:]]
        assert sampled.validate(n, cells) == reference.validate(n, cells)


def test_an_extra_column_named_like_a_payload_key_uses_the_dict_path() -> None:
    # "company" is both the Empresa column's payload key and an extra column's key: the
    # dict keeps the first, as before.
    mapping = hdr.detect([["RUT", "Teléfono", "Empresa", "company"]], None)
    validator = RowValidator(mapping, RowOptions(country="CL"))
    assert not validator._json_direct
    row = validator.validate(2, ["12.345.678-5", "+56 9 8765 4321", "Retail Andes", "otra"])
    assert row is not None
    assert not isinstance(row, list)
    assert row.payload == {"company": "Retail Andes"}


def test_derived_dates_follow_the_replaced_system() -> None:
    # Latest due + its days late + 3; earliest due + its days late + 7.
    limite, maxima = derived_dates([(date(2026, 1, 10), 50), (date(2026, 2, 10), 19)])
    assert (limite, maxima) == (date(2026, 3, 4), date(2026, 3, 8))
    # Without a days-late column: the latest due date, no fecha_maxima.
    assert derived_dates([(date(2026, 1, 10), None), (date(2026, 2, 10), None)]) == (
        date(2026, 2, 10), None,
    )  # fmt: skip


def test_merge_sums_counts_and_lists_instalments() -> None:
    mapping = hdr.detect([["RUT", "Teléfono", "Cuota", "Saldo", "Vencimiento", "Días de retraso"]])
    validator = RowValidator(mapping, RowOptions(country="CL", consolidate=True))
    rows = [
        validator.validate(2, ["12.345.678-5", "987654321", 1, 60029.0, "10/01/2026", 50]),
        validator.validate(3, ["12.345.678-5", "", 2, 77455.0, "10/02/2026", 19]),
        validator.validate(4, ["12.345.678-5", "987654321", 3, 77455.5, "10/03/2026", 0]),
    ]
    payloads = [r.payload_json for r in rows if isinstance(r, ContactRow)]
    assert len(payloads) == 3  # the phoneless row is kept for its debtor
    merged = json.loads(validator.merge(payloads))
    assert merged["amount"] == 214939.5
    assert merged["cuotas"] == 3
    assert merged["instalments"] == [
        {"number": 1, "amount": 60029, "due_date": "2026-01-10"},
        {"number": 2, "amount": 77455, "due_date": "2026-02-10"},
        {"number": 3, "amount": 77455.5, "due_date": "2026-03-10"},
    ]
    assert (merged["fecha_vencimiento"], merged["ultimo_vencimiento"]) == (
        "2026-01-10", "2026-03-10",
    )  # fmt: skip
    assert merged["dias_retraso"] == 50
    assert (merged["fecha_limite"], merged["fecha_maxima"]) == ("2026-03-13", "2026-03-08")


def test_inf_and_nan_cells_are_row_errors_naming_the_column() -> None:
    mapping = hdr.detect([["RUT", "Teléfono", "Saldo", "Tasa", "Días de retraso"]])
    validator = RowValidator(mapping, RowOptions(country="CL"))
    for cells, column in (
        (["12.345.678-5", "987654321", float("inf"), 0.1, 3], "Saldo"),
        (["12.345.678-5", "987654321", 1000.0, float("nan"), 3], "Tasa"),
        (["12.345.678-5", "987654321", 1000.0, 0.1, float("nan")], "Días de retraso"),
    ):
        result = validator.validate(2, cells)
        assert isinstance(result, list), result
        assert [e.column for e in result] == [column]


def test_a_superscript_instalment_number_is_kept_as_written() -> None:
    # "²" is a digit to str.isdigit but not a number to int(): the cuota stays text
    # (it was once stored as int()'s error message).
    mapping = hdr.detect([HEADERS], None)
    validator = RowValidator(mapping, RowOptions(country="CL"))
    cells = ["12.345.678-5", "Ana Pérez", "+56 9 8765 4321", "", "", "", "", "", "²"]
    row = validator.validate(2, cells)
    assert isinstance(row, ContactRow)
    assert row.payload["cuota"] == "²"
