"""Debtor identity documents: Chilean RUT/RUN, Argentine DNI and CUIT/CUIL. Pure.

The one spelling every part of dialer stores and matches: ``12345678-5`` for a RUT (check
digit verified, ``K`` upper case), plain digits for a DNI, ``20-12345678-6`` for a CUIT.
Ingestion stores it on jobs, the legal stops are keyed by it.
"""

from __future__ import annotations

import re

from stdnum import exceptions as stdnum_errors
from stdnum.ar import cuit as ar_cuit
from stdnum.ar import dni as ar_dni
from stdnum.cl import rut as cl_rut

from dialer.kit.cells import CellError, cell_text

_ID_JUNK = re.compile(r"[\s.\-_/]")


_RUT_TEXT_FLOAT = re.compile(r"(?<=\d)\.0+$")
_RUT_FAST = re.compile(r"^(\d{1,2}\.\d{3}\.\d{3}|\d{7,8})-?([\dkK])$")


def _rut_weight_table(weights: tuple[int, int, int, int]) -> list[int]:
    # The weighted digit sum of every 4-digit group, so a body needs two lookups.
    return [
        sum(int(d) * w for d, w in zip(f"{n:04d}", weights, strict=True)) for n in range(10_000)
    ]


# stdnum's weights, 9 8 7 6 5 4 repeating from the right, for the two halves of an
# 8-digit body (shorter bodies are zero-padded on the left, which adds nothing).
_RUT_HIGH = _rut_weight_table((8, 9, 4, 5))
_RUT_LOW = _rut_weight_table((6, 7, 8, 9))


def rut_check_digit(body: str) -> str:
    """The check digit of a RUT body of up to 8 digits; same result as stdnum's."""
    high, low = divmod(int(body), 10_000)
    return "0123456789K"[(_RUT_HIGH[high] + _RUT_LOW[low]) % 11]


def normalize_rut(value: object) -> str:
    """Chilean RUT/RUN -> ``12345678-5`` (check digit verified, ``K`` upper case)."""
    text = value.strip() if type(value) is str else cell_text(value)
    if not text:
        raise CellError("id_empty", "RUT is empty", label="RUT")
    if text[0] == "0" or text.endswith(".0"):
        # Leading zeros (07.000.013-K is 7000013-K) and a number cell pasted as text
        # (156789012.0: body and check digit run together).
        text = _RUT_TEXT_FLOAT.sub("", text).lstrip("0.") or text
    # Fast path for the usual spellings (12.345.678-5, 12345678-5, 123456785): the check
    # digit is computed by table lookups equal to stdnum's (a test compares them);
    # anything unusual, or a wrong digit, goes through stdnum's full validation.
    m = _RUT_FAST.match(text)
    if m is not None:
        body, dv = m.groups()
        body = body.replace(".", "")
        if dv == "k":
            dv = "K"
        # rut_check_digit, inlined: this runs once per row.
        high, low = divmod(int(body), 10_000)
        if body[0] != "0" and "0123456789K"[(_RUT_HIGH[high] + _RUT_LOW[low]) % 11] == dv:
            return f"{body}-{dv}"
    try:
        compact = cl_rut.validate(text)
    except stdnum_errors.InvalidChecksum:
        raise CellError(
            "id_check_digit", f"RUT '{text}' has a wrong check digit", label="RUT", value=text
        ) from None
    except stdnum_errors.ValidationError:
        raise CellError(
            "rut_invalid", f"'{text}' is not a valid RUT (expected e.g. 12.345.678-5)", value=text
        ) from None
    return f"{compact[:-1]}-{compact[-1]}"


def normalize_ar_id(value: object) -> str:
    """Argentine DNI (7-8 digits) or CUIT/CUIL (11 digits, check digit verified).

    A DNI is returned as plain digits; a CUIT as ``20-12345678-6``.
    """
    text = cell_text(value)
    if not text:
        raise CellError("id_empty", "DNI/CUIT is empty", label="DNI/CUIT")
    digits = _ID_JUNK.sub("", text)
    if len(digits) == 11:
        try:
            return str(ar_cuit.format(ar_cuit.validate(digits)))
        except stdnum_errors.InvalidChecksum:
            raise CellError(
                "id_check_digit", f"CUIT '{text}' has a wrong check digit", label="CUIT", value=text
            ) from None
        except stdnum_errors.ValidationError:
            raise CellError(
                "cuit_invalid", f"'{text}' is not a valid CUIT/CUIL", value=text
            ) from None
    try:
        return str(ar_dni.validate(digits))
    except stdnum_errors.ValidationError:
        raise CellError(
            "dni_invalid",
            f"'{text}' is not a valid DNI (7-8 digits) or CUIT (11 digits)",
            value=text,
        ) from None


def normalize_id(value: object, country: str) -> str:
    """A RUT (CL) or DNI/CUIT (AR), as stored on jobs and matched by legal stops."""
    return normalize_rut(value) if country == "CL" else normalize_ar_id(value)


def person_key(document: str) -> str:
    """The key that identifies a debtor: duplicates in ingestion, legal stops in compliance.

    An Argentine CUIT/CUIL of a person (prefix 20, 23, 24, 27) embeds the DNI, so a DNI in
    one file and the CUIL of the same person in another are the same debtor.
    """
    if len(document) == 13 and document[2] == "-" and document[:2] in ("20", "23", "24", "27"):
        return document[3:11].lstrip("0")
    return document.lstrip("0") if document.isdigit() else document
