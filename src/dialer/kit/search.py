"""The contact search key: one normalised text per job, written with the job, searched
with a plain LIKE that behaves the same on SQLite and PostgreSQL.

SQLite's ``lower()`` and ``LIKE`` fold ASCII only ("JOSÉ" is not "josé" there) and
PostgreSQL's ``LIKE`` folds nothing; neither drops accents. So the folding is done here,
in Python, once when a job is written (``jobs.search_text``) and once per query, and the
database only compares folded text with folded text.

Layout: ``<phone digits>|<name>|<bare RUT/DNI>``, e.g.
``56912345678 56221234567|jose perez nunez|12345678k``. The phones come first so an
import that merges a debtor's later rows (more phones, same name and RUT) can replace
them in SQL without knowing the rest (``PHONES_END``: the first ``|``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

SEPARATOR = "|"
MAX_PHONES_CHARS = 240  # ten numbers and more; the column holds name and RUT after them
MAX_CHARS = 512  # the column's size
_NOT_DIGIT = re.compile(r"\D")
_NOT_RUT = re.compile(r"[^0-9k]")


def _strip_marks(text: str) -> str:
    """``text`` decomposed (NFKD) without its combining marks: "Ñuñoa" -> "Nunoa"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# The same, one character at a time, for the Latin letters names are written with
# (accented vowels, ñ, ü, ç...): a character's decomposition does not depend on its
# neighbours, and the marks dropped are all the reordering could move, so mapping each
# character is _strip_marks of the whole text whenever every character is in the table
# (str.translate, in C, instead of a generator over the decomposed text).
_MARKS_TABLE = {
    c: folded
    for c in range(0x80, 0x250)
    if (folded := _strip_marks(chr(c))).isascii() and folded != chr(c)
}
# The same for Latin-1 text (most names: the Spanish letters are all below 0x100), where
# the table maps each character to one: bytes.translate, without a dictionary lookup per
# character. A character it does not fold stays (and the text then takes _strip_marks).
_LATIN1_TABLE = bytes(
    ord(_MARKS_TABLE[c]) if len(_MARKS_TABLE.get(c, "")) == 1 else c for c in range(256)
)


def fold(text: str | None) -> str:
    """Lower-case, without accents or other marks, single-spaced: "  JOSÉ  Ñuñoa" ->
    "jose nunoa". The same folding for what is stored and what is searched."""
    if not text:
        return ""
    if not text.isascii():
        try:
            quick = text.encode("latin-1").translate(_LATIN1_TABLE).decode("latin-1")
        except UnicodeEncodeError:
            quick = text.translate(_MARKS_TABLE)
        text = quick if quick.isascii() else _strip_marks(text)
    # split/join collapses the same whitespace as r"\s+" (str.isspace) and strips the ends.
    return " ".join(text.casefold().split()).replace(SEPARATOR, " ")


def bare_id(dni: str | None) -> str:
    """A RUT/DNI without dots, hyphen or spaces, lower-case: "12.345.678-K" -> "12345678k"."""
    if not dni:
        return ""
    bare = dni.lower().replace("-", "")
    if bare.isascii() and (bare.isdigit() or (bare[:-1].isdigit() and bare[-1] == "k")):
        return bare  # the stored form (``12345678-k``): digits and the check digit
    return _NOT_RUT.sub("", dni.lower())


def phone_digits(phones: Iterable[str]) -> str:
    """The numbers' digits, space-separated ("+56 9 1234 5678" -> "56912345678")."""
    return " ".join(d for d in (_NOT_DIGIT.sub("", p) for p in phones) if d)[:MAX_PHONES_CHARS]


def phone_digits_of_json(phones_json: str) -> str:
    """``phone_digits`` of a JSON list of numbers, read from the encoded text as is."""
    if phones_json.startswith('["+') and phones_json.endswith('"]') and " " not in phones_json:
        # The stored form, E.164 numbers: '["+569...","+562..."]' -> '569... 562...'.
        digits = phones_json[3:-2].replace('","+', " ")
        if digits.isascii() and digits.replace(" ", "").isdigit():
            return digits[:MAX_PHONES_CHARS].strip()
    return " ".join(_NOT_DIGIT.sub("", p) for p in phones_json.split(",") if p)[
        :MAX_PHONES_CHARS
    ].strip()


def search_text(name: str | None, dni: str | None, digits: str) -> str:
    """The stored key of a job (``digits``: ``phone_digits`` of its numbers)."""
    return f"{digits}{SEPARATOR}{fold(name)}{SEPARATOR}{bare_id(dni)}"[:MAX_CHARS]


def search_text_of_json(name: str | None, dni: str | None, phones_json: str | None) -> str:
    """``search_text`` of a job whose numbers are already encoded (a JSON list)."""
    return search_text(name, dni, phone_digits_of_json(phones_json or ""))


def needles(query: str) -> list[str]:
    """What to look for in the stored keys (any may match): the folded text (a name),
    and, when the query has three digits or more, its RUT form and its digits (a RUT
    typed with or without dots, a phone in any spacing)."""
    out = []
    text = fold(query)
    if text:
        out.append(text)
    digits = _NOT_DIGIT.sub("", query)
    if len(digits) >= 3:
        for n in (bare_id(query), digits):
            if n and n not in out:
                out.append(n)
    return out
