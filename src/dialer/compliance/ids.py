"""Debtor ids (Chilean RUT, Argentine DNI/CUIT/CUIL) for legal stops. Pure.

Normalised to the spelling ingestion stores on jobs: ``12345678-5`` for a RUT, plain
digits for a DNI, ``20-12345678-6`` for a CUIT/CUIL.
"""

from __future__ import annotations

import re

from stdnum import exceptions as stdnum_errors
from stdnum.ar import cuit as ar_cuit
from stdnum.ar import dni as ar_dni
from stdnum.cl import rut as cl_rut

_JUNK = re.compile(r"[\s.\-/]")


def normalise_debtor_id(raw: str, country: str) -> str:
    """The stored spelling of a RUT (CL) or DNI/CUIT (AR). Raises ValueError naming what
    is wrong."""
    text = raw.strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]  # a number cell read from a spreadsheet
    if not text:
        raise ValueError("empty")
    if country == "CL":
        try:
            compact = cl_rut.validate(text)
        except stdnum_errors.InvalidChecksum:
            raise ValueError(f"RUT '{text}' has a wrong check digit") from None
        except stdnum_errors.ValidationError:
            raise ValueError(f"'{text}' is not a valid RUT (e.g. 12.345.678-5)") from None
        return f"{compact[:-1]}-{compact[-1]}"
    digits = _JUNK.sub("", text)
    if len(digits) == 11:
        try:
            return str(ar_cuit.format(ar_cuit.validate(digits)))
        except stdnum_errors.ValidationError:
            raise ValueError(f"'{text}' is not a valid CUIT/CUIL") from None
    try:
        return str(ar_dni.validate(digits))
    except stdnum_errors.ValidationError:
        raise ValueError(f"'{text}' is not a valid DNI (7-8 digits) or CUIT (11 digits)") from None
