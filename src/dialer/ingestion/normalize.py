"""Cell normalisers for Chile and Argentina. Pure: each takes a raw cell value and returns
the canonical value or raises ``ValueError`` with a message fit for an operator.

Conventions (CL/AR): ``.`` groups thousands and ``,`` marks decimals; dates are day-first.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Literal

from dialer.kit.cells import CellError
from dialer.kit.cells import cell_text as cell_text
from dialer.kit.debtor_id import normalize_ar_id as normalize_ar_id
from dialer.kit.debtor_id import normalize_id as normalize_id
from dialer.kit.debtor_id import normalize_rut as normalize_rut
from dialer.kit.debtor_id import person_key as person_key
from dialer.kit.debtor_id import rut_check_digit as rut_check_digit

Country = Literal["CL", "AR"]
CURRENCY: dict[str, str] = {"CL": "CLP", "AR": "ARS"}

# Excel's day zero (1900 date system, including its fictitious 1900-02-29).
_EXCEL_EPOCH = date(1899, 12, 30)
_MIN_SERIAL, _MAX_SERIAL = 1, 2958465  # 1900-01-01 .. 9999-12-31


# ---------------------------------------------------------------- amounts

_AMOUNT_JUNK = re.compile(r"U\$[SD]|US\$|USD|[\s\u00a0$]|CLP|ARS", re.IGNORECASE)
# Dollar amounts in CL/AR files: "USD 100", "US$ 100", "U$S 1.500" (a bare "$" is pesos).
_USD = re.compile(r"U\$[SD]|US\$|USD", re.IGNORECASE)
MAX_AMOUNT = Decimal(10**15)  # beyond any debt in pesos: a corrupt cell
_AMOUNT_SHAPE = re.compile(r"^-?[\d.,]+$")


def parse_amount(value: object) -> Decimal:
    """``$1.234.567``, ``1.234.567``, ``1234567,50``, ``1,234,567.50`` or a number cell."""
    if isinstance(value, bool):
        raise CellError("amount_invalid", f"'{value}' is not an amount", value=str(value))
    if isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CellError("amount_invalid", f"'{value}' is not an amount", value=str(value))
        result = Decimal(repr(value))
    else:
        text = _AMOUNT_JUNK.sub("", str(value))
        if not text or not _AMOUNT_SHAPE.match(text):
            raise CellError(
                "amount_unreadable",
                f"'{value}' is not an amount (expected e.g. $1.234.567 or 1234567,50)",
                value=str(value),
            )
        result = _decimal_from_text(text, str(value))
    if result < 0:
        raise CellError("amount_negative", f"amount '{value}' is negative", value=str(value))
    if result >= MAX_AMOUNT:
        shown = cell_text(value)[:40]
        raise CellError("amount_too_large", f"amount '{shown}' is too large", value=shown)
    return result


def _decimal_from_text(text: str, original: str) -> Decimal:
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        # Whichever comes last is the decimal mark: 1.234,50 (CL/AR) or 1,234.50 (US).
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif commas:
        head, _, tail = text.rpartition(",")
        if commas == 1 and len(tail) != 3:
            text = f"{head}.{tail}"  # 1234567,50
        elif all(len(g) == 3 for g in text.split(",")[1:]):
            text = text.replace(",", "")  # 1,234,567
        else:
            raise CellError("amount_invalid", f"'{original}' is not an amount", value=original)
    elif dots:
        groups = text.split(".")
        if dots > 1 or len(groups[1]) == 3:
            # Chilean/Argentine thousands: 1.234 is one thousand two hundred thirty-four.
            if not all(len(g) == 3 for g in groups[1:]):
                raise CellError("amount_invalid", f"'{original}' is not an amount", value=original)
            text = text.replace(".", "")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError(
            "amount_invalid", f"'{original}' is not an amount", value=original
        ) from None


def amount_currency(value: object) -> str | None:
    """The currency an amount cell names (``USD 100`` -> ``USD``); None: the account's."""
    if type(value) is not str:
        return None
    return "USD" if _USD.search(value) else None


def parse_days(value: object) -> int:
    """Days late: a whole number of days, 0 or more (``12``, ``12.0``, ``"12"``)."""
    if isinstance(value, bool):
        raise CellError("days_invalid", f"'{value}' is not a number of days", value=str(value))
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CellError(
                "days_not_whole", f"'{value}' is not a whole number of days", value=str(value)
            )
        value = int(value)
    text = str(value).strip()
    if not text.lstrip("-").isdigit():
        raise CellError("days_invalid", f"'{text}' is not a number of days", value=text)
    days = int(text)
    if days < 0:
        raise CellError("days_negative", f"days late '{text}' is negative", value=text)
    if days > 36_500:
        raise CellError(
            "days_too_large", f"days late '{text}' is more than a hundred years", value=text
        )
    return days


def amount_json(amount: Decimal) -> int | float:
    """A JSON-friendly amount: whole pesos as int, otherwise two decimals."""
    if amount == amount.to_integral_value():
        return int(amount)
    return float(round(amount, 2))


# ---------------------------------------------------------------- phones

_PHONE_SPLIT = re.compile(r"\s*[/;|]\s*|\s+-\s+|\s*,\s+")


def split_phones(value: object) -> list[str]:
    """One cell may hold several numbers: ``9 8765 4321 / 2 2345 6789``."""
    text = cell_text(value)
    if not text:
        return []
    if _PHONE_SPLIT.search(text) is None:
        return [text]  # the usual cell: one number
    return [p for p in _PHONE_SPLIT.split(text) if p]


def single_phone(text: str) -> bool:
    """Whether a stripped phone cell holds one number (``split_phones`` would not split it)."""
    # Every separator _PHONE_SPLIT knows contains one of these characters, and "-" or ","
    # only separates next to whitespace (split() changes a text exactly when it holds a
    # character \s matches). Checking first is ten times cheaper than the regex, which
    # then runs on few cells ("9-8765-4321" is one number and never reaches it).
    if "/" in text or ";" in text or "|" in text:
        return _PHONE_SPLIT.search(text) is None
    if ("-" in text or "," in text) and text.split(None, 1) != [text]:
        return _PHONE_SPLIT.search(text) is None
    return True


# ---------------------------------------------------------------- dates

_DMY = re.compile(r"^(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{2}|\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")


# Two-digit years: 00-49 are 2000-2049, 50-99 are 1950-1999 (the window current
# spreadsheet software and Windows use by default): 31/12/99 is 1999, 01/01/30 is 2030.
TWO_DIGIT_YEAR_PIVOT = 50


def excel_serial_to_date(serial: float) -> date:
    """An Excel date serial (1900 date system). Excel counts the non-existent
    1900-02-29 as serial 60 (Lotus 1-2-3's leap-year bug), so serials 1-59 are
    1900-01-01..1900-02-28, 60 is refused, and 61 onwards is the epoch 1899-12-30 + n."""
    if not math.isfinite(serial) or not (_MIN_SERIAL <= serial <= _MAX_SERIAL):
        shown = cell_text(serial)
        raise CellError("date_invalid", f"'{shown}' is not a date", value=shown)
    days = int(serial)
    if days == 60:
        raise CellError(
            "date_excel_serial_60", "Excel serial 60 is 29 February 1900, a date that did not exist"
        )
    if days < 60:
        return date(1899, 12, 31) + timedelta(days=days)
    return _EXCEL_EPOCH + timedelta(days=days)


def parse_date(value: object) -> date:
    """Date cells, Excel serial numbers (number cells only: digits in a text cell are not
    a serial), ``dd/mm/yyyy``, ``dd-mm-yyyy``, ``dd.mm.yy`` or ISO."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise CellError("date_invalid", f"'{value}' is not a date", value=str(value))
    if isinstance(value, int | float):
        return excel_serial_to_date(value)
    text = str(value).strip()
    try:
        if m := _DMY.match(text):
            d, mth, y = (int(g) for g in m.groups())
            if len(m.group(3)) == 2:
                y += 2000 if y < TWO_DIGIT_YEAR_PIVOT else 1900
            return date(y, mth, d)
        if m := _ISO.match(text):
            y, mth, d = (int(g) for g in m.groups())
            return date(y, mth, d)
    except ValueError:
        raise CellError("date_impossible", f"'{text}' is not a valid date", value=text) from None
    raise CellError("date_unreadable", f"'{text}' is not a date (expected dd/mm/yyyy)", value=text)


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_email(value: object) -> str:
    text = cell_text(value).lower()
    if not _EMAIL.match(text):
        raise CellError("email_invalid", f"'{text}' is not an email address", value=text)
    return text
