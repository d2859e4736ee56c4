"""Spreadsheet cells as text: the one reading of a cell for uploads, do-not-call and
legal-stop imports, phone numbers and debtor ids. Pure."""

from __future__ import annotations


def cell_text(value: object) -> str:
    """A cell as the text it shows, trimmed.

    - Whole numbers lose their ``.0`` (Excel stores 123 and 56987654321 as floats).
    - A TRUE/FALSE cell reads ``"TRUE"`` / ``"FALSE"``, never ``"1"`` / ``"0"``: in a
      phone, RUT/DNI or instalment column it is a mistake, refused naming the value the
      user sees, not read as a digit they never typed (a TRUE instalment is not "1").
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class CellError(ValueError):
    """A cell value that cannot be read. ``code`` and ``params`` say what is wrong in
    any language (docs/ingestion.md lists the codes); the message is the English
    sentence the API has always given."""

    def __init__(self, code: str, message: str, **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params
