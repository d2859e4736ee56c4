"""Header detection: synonyms, accents, phone columns, title rows, explicit mapping."""

from __future__ import annotations

import pytest

from dialer.ingestion.headers import HeaderError, detect


def fields(
    rows: list[list[object]], explicit: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    mapping = detect(rows, explicit)
    return {c.header: c.field for c in mapping.columns}


def test_spanish_headers_with_accents_and_case() -> None:
    got = fields(
        [
            [
                "RUT DEUDOR",
                "nombre",
                "TELÉFONO",
                "Monto Adeudado",
                "Fecha de Vencimiento",
                "Correo Electrónico",
            ]
        ]
    )
    assert got == {
        "RUT DEUDOR": "dni", "nombre": "name", "TELÉFONO": "phone", "Monto Adeudado": "amount",
        "Fecha de Vencimiento": "fecha_vencimiento", "Correo Electrónico": "email",
    }  # fmt: skip


def test_english_headers() -> None:
    got = fields([["Document", "Full Name", "Mobile", "Debt", "Due Date"]])
    assert got == {
        "Document": "dni",
        "Full Name": "name",
        "Mobile": "phone",
        "Debt": "amount",
        "Due Date": "fecha_vencimiento",
    }


def test_several_phone_columns_keep_their_order() -> None:
    mapping = detect([["Fono 1", "Rut", "Celular", "Teléfono_3", "fono2", "Sucursal"]])
    assert [c.header for c in mapping.columns if c.field == "phone"] == [
        "Fono 1",
        "Celular",
        "Teléfono_3",
        "fono2",
    ]
    assert {c.header: c.key for c in mapping.columns if c.field is None} == {"Sucursal": "sucursal"}


def test_place_columns_are_recognised_and_kept_under_their_own_key() -> None:
    """Chile's comuna/región and Argentina's localidad/provincia name the debtor's place
    (compliance.place): recognised as such, and still in the payload as written."""
    cl = detect([["RUT", "Teléfono", "Comuna Deudor", "Región", "Zona Horaria"]])
    assert [(c.header, c.field, c.key) for c in cl.columns[2:]] == [
        ("Comuna Deudor", "comuna", "comuna_deudor"),
        ("Región", "region", "region"),
        ("Zona Horaria", "zona_horaria", "zona_horaria"),
    ]
    ar = detect([["DNI", "Celular", "Localidad", "Provincia"]])
    assert [(c.field, c.key) for c in ar.columns[2:]] == [
        ("ciudad", "localidad"),
        ("region", "provincia"),
    ]


def test_header_found_below_title_rows() -> None:
    rows: list[list[object]] = [
        ["Cartera Cobranza Marzo 2026", "", ""],
        ["", "", ""],
        ["Generado por: Sistema", "", ""],
        ["RUT", "Nombre", "Fono"],
        ["1-9", "Ana", "987654321"],
    ]
    assert detect(rows).header_row == 3


def test_explicit_mapping_wins() -> None:
    got = fields(
        [["ID Socio", "Contacto Principal", "Nombre", "Obs"]],
        {"id socio": "rut", "Contacto Principal": "phone", "Obs": None},
    )
    assert got == {"ID Socio": "dni", "Contacto Principal": "phone", "Nombre": "name"}


def test_missing_phone_column_is_explained() -> None:
    with pytest.raises(HeaderError, match="phone"):
        detect([["RUT", "Nombre", "Monto"]])


def test_mapping_naming_absent_column() -> None:
    with pytest.raises(HeaderError, match="not in the header"):
        detect([["RUT", "Fono"]], {"Celular 9": "phone"})


def test_mapping_with_unknown_field() -> None:
    with pytest.raises(HeaderError, match="unknown field"):
        detect([["RUT", "Fono"]], {"RUT": "shoe_size"})


def test_argentine_headers() -> None:
    for name in ("Apellido y Nombre", "Nombre y Apellido", "Razón Social"):
        got = fields([["DNI", name, "Celular", "Importe", "F. Vencimiento"]])
        assert got == {
            "DNI": "dni", name: "name", "Celular": "phone", "Importe": "amount",
            "F. Vencimiento": "fecha_vencimiento",
        }  # fmt: skip
    assert fields([["CUIT", "Teléfono", "Vencimiento"]])["Vencimiento"] == "fecha_vencimiento"


def test_camel_case_export_headers_and_the_best_amount_column() -> None:
    got = fields(
        [
            ["RUTS", "FechaVencimiento", "FechaVencimientoOriginal", "diasRetraso",
             "Saldo Total", "Saldo actualizado", "Teléfono móvil", "Origen Empresa"],
        ]
    )  # fmt: skip
    assert got == {
        "RUTS": "dni", "FechaVencimiento": "fecha_vencimiento",
        "FechaVencimientoOriginal": None, "diasRetraso": "dias_retraso",
        "Saldo Total": None, "Saldo actualizado": "amount", "Teléfono móvil": "phone",
        "Origen Empresa": "company",
    }  # fmt: skip


def test_a_column_empty_in_every_row_is_not_mapped() -> None:
    header = ["RUT", "Teléfono", "Fecha de pago", "FechaVencimiento"]
    rows: list[list[object]] = [header, ["1-9", "987654321", None, "01/04/2026"]] * 1
    rows += [["1-9", "987654321", "", "02/04/2026"]]
    mapping = detect(rows)
    assert {c.header: c.field for c in mapping.columns}["FechaVencimiento"] == "fecha_vencimiento"
    assert [i.header for i in mapping.ignored] == ["Fecha de pago"]
    # Alone, an empty date column is still not read as the due date.
    only = detect([["RUT", "Teléfono", "Fecha de pago"], ["1-9", "987654321", None]])
    assert {c.header: c.field for c in only.columns}["Fecha de pago"] is None
    assert "empty" in only.ignored[0].reason


def test_landline_columns_are_dialed_after_mobiles() -> None:
    mapping = detect([["RUT", "Teléfono Residencial", "Teléfono móvil", "Fono fijo", "Celular 2"]])
    order = [
        mapping.columns[[c.index for c in mapping.columns].index(i)].header
        for i in mapping.phone_columns
    ]
    assert order == ["Teléfono móvil", "Celular 2", "Teléfono Residencial", "Fono fijo"]
