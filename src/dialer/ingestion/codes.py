"""The codes of an import report's messages, with the parameters each carries. Pure.

Every row error and warning (``errors[]``, ``warnings[]``), every skipped row
(``skipped[].reason``) and every ignored column (``ignored_columns[]``) of an import
report has a stable ``code`` and its ``params`` besides the English ``message``/``reason``,
so a client words it in its own language (the dashboard does, in Spanish). The codes
are listed in docs/ingestion.md ("Message codes"); tests/dashboard/test_ingest_messages
checks that each one here is produced by the code that names it and has a Spanish
sentence.
"""

from __future__ import annotations

from typing import get_args

from dialer.ingestion.schemas import SkipReason
from dialer.kit import phone

# Row errors and warnings: code -> the parameters it carries.
ROW_CODES: dict[str, tuple[str, ...]] = {
    "id_required": ("label",),
    "id_empty": ("label",),
    "id_check_digit": ("label", "value"),
    "rut_invalid": ("value",),
    "cuit_invalid": ("value",),
    "dni_invalid": ("value",),
    "no_phone": (),
    "phone_invalid": ("value", "country", "reason", "detail"),
    "phone_repaired": ("original", "result", "notes"),
    "phone_unlisted_range": ("original", "result", "notes", "library"),
    "dnc_dropped": ("phones",),
    "name_too_long": ("max",),
    "email_invalid": ("value",),
    "email_too_long": ("max",),
    "amount_unreadable": ("value",),
    "amount_invalid": ("value",),
    "amount_negative": ("value",),
    "amount_too_large": ("value",),
    "days_invalid": ("value",),
    "days_not_whole": ("value",),
    "days_negative": ("value",),
    "days_too_large": ("value",),
    "date_unreadable": ("value",),
    "date_impossible": ("value",),
    "date_invalid": ("value",),
    "date_excel_serial_60": (),
    "number_invalid": ("value",),
    # A cell refused by a check without a code of its own (none today).
    "invalid_value": ("message",),
}
# ``phone_invalid``: params ``detail`` (a key of kit.phone.DETAILS, with its own values:
# ``digits``, ``prefix``, ``country_code``, ``kind``); phone warnings: ``notes`` (keys of
# kit.phone.NOTES).
PHONE_DETAILS = tuple(phone.DETAILS)
PHONE_NOTES = tuple(phone.NOTES)
PHONE_KINDS = tuple(phone.KIND_NAMES)
# Skipped rows: ``reason`` is the code; params ``dni`` or ``phone`` (and ``first_row``
# for a duplicate within the file), ``phones`` for do_not_call.
SKIP_CODES = get_args(SkipReason)
# Ignored columns: code -> params.
IGNORED_CODES: dict[str, tuple[str, ...]] = {
    "ignored_by_mapping": (),
    "empty_not_read": ("field",),
    "kept_as_extra": ("field", "read_from", "because"),
}
