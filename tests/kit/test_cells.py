"""The one reading of a spreadsheet cell as text (kit/cells.py), shared by uploads, the
do-not-call and legal-stop imports, phone numbers and debtor ids."""

from __future__ import annotations

import pytest

from dialer.kit import phone
from dialer.kit.cells import cell_text
from dialer.kit.debtor_id import normalize_rut


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (56987654321.0, "56987654321"),  # a number cell: Excel stores it as a float
        (1145678901.0, "1145678901"),
        (12.5, "12.5"),
        (7, "7"),
        ("  +56 9 8765 4321 ", "+56 9 8765 4321"),
        # A TRUE/FALSE cell reads as what it shows, never as the digit 1 or 0.
        (True, "TRUE"),
        (False, "FALSE"),
    ],
)
def test_a_cell_reads_as_the_text_it_shows(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_a_boolean_cell_is_refused_as_a_phone_or_a_rut_naming_the_value() -> None:
    with pytest.raises(phone.PhoneInvalid) as refused:
        phone.normalize(True, "CL")
    assert refused.value.reason == "not_a_number"
    assert "'TRUE'" in str(refused.value)
    with pytest.raises(ValueError, match="'FALSE' is not a valid RUT"):
        normalize_rut(False)
