"""Duplicate filtering: the shortcut for imports where only duplicates within the file can
skip a row gives exactly what the general filter gives."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.ingestion.reader import Chunk, dumps_phones
from dialer.ingestion.service import _Filter, _Tally

row = st.tuples(
    st.one_of(st.none(), st.sampled_from(["11111111-1", "22222222-2", "33333333-3"])),
    st.lists(st.sampled_from(["+56911111111", "+56922222222", "+56933333333"]), max_size=3),
)


def _chunk(rows: list[tuple[str | None, list[str]]], first_row: int) -> Chunk:
    chunk = Chunk.empty()
    for i, (dni, phones) in enumerate(rows):
        chunk.row_numbers.append(first_row + i)
        chunk.names.append(None)
        chunk.dnis.append(dni)
        chunk.emails.append(None)
        chunk.phones.append(dumps_phones(list(dict.fromkeys(phones))))
        chunk.payloads.append("{}")
        chunk.keys.append(dni)
    return chunk


def _state(f: _Filter) -> tuple[Any, ...]:
    t = f.tally
    return (t.duplicates, t.skipped, f.seen_ids, f.seen_phones)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(row, max_size=12), min_size=1, max_size=4))
def test_within_file_shortcut_agrees_with_the_general_filter(
    chunks: list[list[tuple[str | None, list[str]]]],
) -> None:
    shortcut = _Filter(None, "acc", _Tally(), allow_duplicates=False)  # type: ignore[arg-type]
    general = _Filter(None, "acc", _Tally(), allow_duplicates=False)  # type: ignore[arg-type]
    general.open_ids = {"an id no row has"}  # a non-empty open batch: the general path
    first_row = 2
    for rows in chunks:
        assert shortcut._keep(_chunk(rows, first_row), set()) == general._keep(
            _chunk(rows, first_row), set()
        )
        assert _state(shortcut) == _state(general)
        first_row += len(rows)
