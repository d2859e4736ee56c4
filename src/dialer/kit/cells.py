"""Spreadsheet cells as text. Pure."""

from __future__ import annotations


def cell_text(value: object) -> str:
    """A cell as text: numbers that are whole lose their ``.0`` (Excel stores 123 as 123.0)."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value).strip()
