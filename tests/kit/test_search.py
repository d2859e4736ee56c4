"""The contact search key: the folded text an operator's query is matched against.

The key is written for every imported job, so its functions have fast paths (a
character table for accented Latin letters, the stored RUT and E.164 forms read as
they are); each must give what the plain definition gives, for any text.
"""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from dialer.kit import search


def _fold_reference(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"\s+", " ", stripped.casefold()).strip().replace("|", " ")


def test_names_fold_to_lower_case_without_accents() -> None:
    assert search.fold("  JOSÉ  Ñuñoa  Müller|Çelik ") == "jose nunoa muller celik"
    assert search.fold("ZÚÑIGA ÑANCO") == "zuniga nanco"
    assert search.fold("") == ""
    assert search.fold(None) == ""


@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=20))
def test_fold_is_the_nfkd_definition_for_any_text(text: str) -> None:
    assert search.fold(text) == _fold_reference(text)


@given(st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=20))
def test_fold_is_the_nfkd_definition_for_latin1_text(text: str) -> None:
    # Latin-1 text takes a byte table of its own.
    assert search.fold(text) == _fold_reference(text)


@given(st.text(alphabet="áéíóúñÑÁÉÍÓÚüÜ \t|abcXYZ\u0301\u00a0ǅﬁ", max_size=20))
def test_fold_is_the_nfkd_definition_for_spanish_names(text: str) -> None:
    assert search.fold(text) == _fold_reference(text)


@given(st.text(alphabet="0123456789kK-.x ²", max_size=14))
def test_bare_id_keeps_the_ascii_digits_and_k(dni: str) -> None:
    assert search.bare_id(dni) == re.sub(r"[^0-9k]", "", dni.lower())


@given(st.lists(st.text(alphabet="+0123456789 ", max_size=14), max_size=4))
@example(["+0 0"])  # a space inside a number is not the separator between two
def test_phone_digits_of_the_stored_json_are_the_numbers_digits(phones: list[str]) -> None:
    phones_json = '["' + '","'.join(phones) + '"]' if phones else "[]"
    expected = " ".join(re.sub(r"\D", "", p) for p in phones_json.split(",") if p)
    assert search.phone_digits_of_json(phones_json) == expected[: search.MAX_PHONES_CHARS].strip()
    e164 = [f"+569{n:08d}" for n in range(len(phones))]
    stored = '["' + '","'.join(e164) + '"]' if e164 else "[]"
    assert search.phone_digits_of_json(stored) == search.phone_digits(e164)
