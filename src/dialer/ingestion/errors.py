"""Ingestion errors (all 4xx: a bad file is the operator's to fix, never a 500)."""

from __future__ import annotations

from dialer.errors import AppError, InvalidInput


class UploadTooLarge(AppError):
    """The file is larger than the upload limit."""

    status_code = 413


class UnsupportedFile(AppError):
    """Unsupported file type: upload .xlsx, .xls or .csv."""

    status_code = 415


class UnreadableFile(InvalidInput):
    """The file could not be read as a spreadsheet."""


class NoValidRows(InvalidInput):
    """No row of the file can become a job; nothing was created."""
