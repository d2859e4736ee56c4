"""Variables and prompt rendering (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from dialer.script.render import (
    MissingVariable,
    TemplateError,
    available_variables,
    format_amount,
    format_date,
    job_variables,
    render_prompt,
    template_variables,
)


@dataclass
class Tpl:
    template: str
    first_message: str | None = None


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (1234567, "CLP", "$1.234.567"),
        ("1234567", "CLP", "$1.234.567"),
        ("$1.234.567", "CLP", "$1.234.567"),
        (1234567.5, "CLP", "$1.234.568"),  # pesos chilenos have no cents
        (999, "CLP", "$999"),
        (1234567.5, "ARS", "$ 1.234.567,50"),
        ("1234567,5", "ARS", "$ 1.234.567,50"),
        ("1.234.567,50", "ARS", "$ 1.234.567,50"),
        (0, "ARS", "$ 0,00"),
    ],
)
def test_amounts_are_formatted_the_local_way(value: object, currency: str, expected: str) -> None:
    assert format_amount(value, currency) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-15", "15/03/2026"),
        (date(2026, 3, 5), "05/03/2026"),
        ("5/3/2026", "05/03/2026"),
        (46096, "15/03/2026"),  # Excel serial
    ],
)
def test_dates_are_dd_mm_yyyy(value: object, expected: str) -> None:
    assert format_date(value) == expected


def test_job_variables_fill_standard_names_and_extra_columns() -> None:
    variables = job_variables(
        contact_name="María José Pérez",
        dni="12.345.678-5",
        payload={
            "amount": 1234567,
            "currency": "CLP",
            "fecha_limite": "2026-03-15",
            "fecha_maxima": "2026-03-31",
            "company": "Cobranzas Andes",
            "Número Cliente": "A-77",
        },
    )
    assert variables["nombre"] == "María José Pérez"
    assert variables["rut"] == "12.345.678-5"
    assert variables["monto"] == "$1.234.567"
    assert variables["fecha_limite"] == "15/03/2026"
    assert variables["fecha_maxima"] == "31/03/2026"
    assert variables["empresa"] == variables["company"] == "Cobranzas Andes"
    assert variables["numero_cliente"] == "A-77"
    assert all(isinstance(v, str) for v in variables.values())


def test_currency_defaults_from_the_country() -> None:
    variables = job_variables(
        contact_name="Juan", dni=None, payload={"monto": 1500.5}, country="AR"
    )
    assert variables["monto"] == "$ 1.500,50"
    assert variables["moneda"] == "ARS"


def test_declared_variables_the_job_lacks_are_blank_not_missing() -> None:
    variables = job_variables(
        contact_name="Juan", dni=None, payload={}, template_vars=["nombre", "sucursal"]
    )
    assert variables["sucursal"] == ""
    assert variables["nombre"] == "Juan"


def test_template_variables_are_computed_from_the_template() -> None:
    assert template_variables("Hola {{nombre}}, debe {{ monto }}.", "¿{{nombre}}?") == [
        "monto",
        "nombre",
    ]


def test_bad_template_reports_the_line() -> None:
    with pytest.raises(TemplateError) as info:
        template_variables("línea uno\nHola {{nombre")
    assert info.value.line == 2


def test_render_prompt_is_strict_about_missing_variables() -> None:
    assert render_prompt(Tpl("Hola {{nombre}}"), {"nombre": "Ana"}) == "Hola Ana"
    with pytest.raises(MissingVariable) as info:
        render_prompt(Tpl("Hola {{nombre}}, debe {{monto}}"), {"nombre": "Ana"})
    assert info.value.name == "monto"


def test_templates_cannot_reach_python_internals() -> None:
    evil = Tpl("{{ nombre.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises((TemplateError, MissingVariable)):
        render_prompt(evil, {"nombre": "Ana"})


def test_available_variables_from_payload_keys() -> None:
    names = available_variables(["amount", "fecha_limite", "company", "Sucursal"])
    assert {"nombre", "rut", "monto", "fecha_limite", "empresa", "sucursal"} <= names
    assert "fecha_maxima" not in names
