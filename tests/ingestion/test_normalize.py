"""Cell normalisers: what an operator's spreadsheet values become."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ingestion import normalize as nz
from dialer.kit import phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12.345.678-5", "12345678-5"), ("12345678-5", "12345678-5"), ("123456785", "12345678-5"),
     (" 5.000.368-k ", "5000368-K"), ("5000368K", "5000368-K")],
)  # fmt: skip
def test_rut_is_normalised(raw: str, expected: str) -> None:
    assert nz.normalize_rut(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"), [("12.345.678-9", "check digit"), ("abc", "not a valid RUT")]
)
def test_bad_rut_says_why(raw: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        nz.normalize_rut(raw)


def test_argentine_dni_and_cuit() -> None:
    assert nz.normalize_ar_id("20.123.456") == "20123456"
    assert nz.normalize_ar_id("20-12345678-6") == "20-12345678-6"
    assert nz.normalize_ar_id(20123456786.0 if False else "20123456786") == "20-12345678-6"
    with pytest.raises(ValueError, match="check digit"):
        nz.normalize_ar_id("20-12345678-0")
    with pytest.raises(ValueError, match="DNI"):
        nz.normalize_ar_id("12")
    # The CUIL of a person and their DNI identify the same debtor.
    assert nz.person_key("20-12345678-6") == nz.person_key("12345678")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("$1.234.567", Decimal(1234567)), ("1.234.567", Decimal(1234567)), ("1234567,50", Decimal("1234567.50")),
     ("$ 1.234,5", Decimal("1234.5")), ("1,234,567.50", Decimal("1234567.50")), (1234567.0, Decimal(1234567)),
     (990, Decimal(990)), ("CLP 25.000", Decimal(25000)), ("1.234", Decimal(1234))],
)  # fmt: skip
def test_amounts_in_chilean_and_argentine_notation(raw: object, expected: Decimal) -> None:
    assert nz.parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["mil pesos", "1.23.4", "-5000", ""])
def test_bad_amounts(raw: str) -> None:
    with pytest.raises(ValueError, match="amount"):
        nz.parse_amount(raw)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [("+56 9 8765 4321", "CL", "+56987654321"), ("987654321", "CL", "+56987654321"),
     ("56987654321", "CL", "+56987654321"), (56987654321.0, "CL", "+56987654321"),
     ("9-8765-4321", "CL", "+56987654321"), ("22 345 6789", "CL", "+56223456789"),
     ("(32) 212 3456", "CL", "+56322123456"),
     ("011 15 2345-6789", "AR", "+5491123456789"), ("+54 9 11 2345-6789", "AR", "+5491123456789"),
     ("351 15 456 7890", "AR", "+5493514567890"), ("0351 4567890", "AR", "+543514567890"),
     ("11 2345 6789", "AR", "+541123456789")],
)  # fmt: skip
def test_phones_become_e164(raw: object, country: nz.Country, e164: str) -> None:
    assert phone.e164(raw, country) == e164


@pytest.mark.parametrize("raw", ["12345", "sin número", "112345678", "0"])
def test_bad_phones(raw: str) -> None:
    with pytest.raises(ValueError, match="not a valid CL phone"):
        phone.e164(raw, "CL")


def test_split_phone_cells() -> None:
    assert nz.split_phones("9 8765 4321 / 2 2345 6789") == ["9 8765 4321", "2 2345 6789"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(46102, date(2026, 3, 21)), (46102.0, date(2026, 3, 21)),
     (datetime(2026, 3, 21, 0, 0), date(2026, 3, 21)), (date(2026, 3, 21), date(2026, 3, 21)),
     ("21/03/2026", date(2026, 3, 21)), ("21-03-2026", date(2026, 3, 21)), ("2026-03-21", date(2026, 3, 21)),
     ("1/3/26", date(2026, 3, 1))],
)  # fmt: skip
def test_dates(raw: object, expected: date) -> None:
    assert nz.parse_date(raw) == expected


@pytest.mark.parametrize(
    "raw", ["31/02/2026", "mañana", "13/13/2026", -5, "46102", 60, float("inf"), float("nan")]
)
def test_bad_dates(raw: object) -> None:
    with pytest.raises(ValueError, match="date"):
        nz.parse_date(raw)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="0123456789 +-/;|,.()\t\u00a0\u2003\x1c\u0660\u00b2x", max_size=24))
def test_phone_cell_shortcut_agrees_with_the_separator_regex(text: str) -> None:
    # single_phone's character pre-check answers exactly what the separator regex would.
    assert nz.single_phone(text) == (nz._PHONE_SPLIT.search(text) is None)
    assert nz.single_phone(text.strip()) == (nz._PHONE_SPLIT.search(text.strip()) is None)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("31/12/99", date(1999, 12, 31)), ("01/01/30", date(2030, 1, 1)),
     ("01/01/49", date(2049, 1, 1)), ("01/01/50", date(1950, 1, 1)),
     # Excel's 1900 system: serial 1 is 1900-01-01, 59 is 1900-02-28, 61 is 1900-03-01.
     (1, date(1900, 1, 1)), (59, date(1900, 2, 28)), (61, date(1900, 3, 1))],
)  # fmt: skip
def test_two_digit_years_and_early_excel_serials(raw: object, expected: date) -> None:
    assert nz.parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "amount", "currency"),
    [("USD 100", Decimal(100), "USD"), ("US$ 100", Decimal(100), "USD"),
     ("U$S 1.500", Decimal(1500), "USD"), ("$ 1.500", Decimal(1500), None),
     ("CLP 25.000", Decimal(25000), None)],
)  # fmt: skip
def test_dollar_amounts_name_their_currency(
    raw: str, amount: Decimal, currency: str | None
) -> None:
    assert nz.parse_amount(raw) == amount
    assert nz.amount_currency(raw) == currency


@pytest.mark.parametrize("raw", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_amounts_are_refused(raw: float) -> None:
    with pytest.raises(ValueError, match="amount"):
        nz.parse_amount(raw)


@pytest.mark.parametrize(("raw", "days"), [(12, 12), (12.0, 12), ("12", 12), ("0", 0)])
def test_days_late(raw: object, days: int) -> None:
    assert nz.parse_days(raw) == days


@pytest.mark.parametrize("raw", ["-3", "doce", 1.5, float("nan")])
def test_bad_days_late(raw: object) -> None:
    with pytest.raises(ValueError, match="days"):
        nz.parse_days(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(156789011.0, "15678901-1"), ("156789011.0", "15678901-1"), ("7000013K", "7000013-K"),
     ("07.000.013-K", "7000013-K"), ("007000013K", "7000013-K")],
)  # fmt: skip
def test_rut_from_number_cells_and_with_leading_zeros(raw: object, expected: str) -> None:
    # Exports store the RUT as a number with body and check digit run together.
    assert nz.normalize_rut(raw) == expected
