"""The one phone normaliser: what every way of writing a number becomes."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dialer.kit import phone


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [("+56 9 8765 4321", "CL", "+56987654321"), ("987654321", "CL", "+56987654321"),
     ("56987654321", "CL", "+56987654321"), (56987654321.0, "CL", "+56987654321"),
     ("  56987654321", "CL", "+56987654321"), ("9-8765-4321", "CL", "+56987654321"),
     ("22 345 6789", "CL", "+56223456789"), ("(32) 212 3456", "CL", "+56322123456"),
     ("0056 9 8765 4321", "CL", "+56987654321"), ("٩٨٧٦٥٤٣٢١", "CL", "+56987654321"),
     ("011 15 2345-6789", "AR", "+5491123456789"), ("+54 9 11 2345-6789", "AR", "+5491123456789"),
     ("351 15 456 7890", "AR", "+5493514567890"), ("0351 4567890", "AR", "+543514567890"),
     ("11 2345 6789", "AR", "+541123456789"), ("+1 212 555 0100", "CL", "+12125550100")],
)  # fmt: skip
def test_clean_numbers_have_no_warning(raw: object, country: str, e164: str) -> None:
    assert phone.normalize(raw, country) == phone.Phone(e164)
    if isinstance(raw, str):
        assert phone.normalize_text(raw.strip(), country) == phone.Phone(e164)


@pytest.mark.parametrize(
    ("raw", "country", "e164", "why"),
    [
        # Ranges newer than libphonenumber's metadata (the refused numbers).
        ("+56 9 6912 3456", "CL", "+56969123456", "does not list"),
        ("+56 9 7012 3456", "CL", "+56970123456", "does not list"),
        ("970395221", "CL", "+56970395221", "does not list"),
        ("+54 9 11 9367-5983", "AR", "+5491193675983", "does not list"),
        # Legacy Chilean spellings.
        ("09 8765 4321", "CL", "+56987654321", "trunk prefix 0"),
        ("(02) 2345 6789", "CL", "+56223456789", "trunk prefix 0"),
        ("+56 09 8765 4321", "CL", "+56987654321", "trunk prefix 0"),
        ("8765 4321", "CL", "+56987654321", "before 2012"),
        ("56 8765 4321", "CL", "+56987654321", "before 2012"),
        ("2 698 1234", "CL", "+56226981234", "before 2013"),
        ("56987654321.0", "CL", "+56987654321", "'.0'"),
    ],
)
def test_repairs_and_unlisted_ranges_are_accepted_with_a_warning(
    raw: str, country: str, e164: str, why: str
) -> None:
    found = phone.normalize(raw, country)
    assert found.e164 == e164
    assert found.warning is not None
    # The warning names the original and the result, and says what was done.
    assert f"'{raw}'" in found.warning
    assert e164 in found.warning
    assert why in found.warning
    assert phone.normalize_text(raw.strip(), country) == found  # the cells' entry point


@pytest.mark.parametrize(
    ("raw", "country", "reason", "why"),
    [
        ("", "CL", "empty", "empty"),
        ("sin número", "CL", "not_a_number", "characters"),
        ("12345", "CL", "too_short", "Chilean numbers have 9"),
        ("2234567", "CL", "too_short", "Chilean numbers have 9"),
        ("98765432101", "CL", "too_long", "Chilean numbers have 9"),
        ("112345678", "CL", "unassigned_range", "starts 11"),
        ("800 123 456", "CL", "not_mobile_or_landline", "toll-free"),
        ("600 123 4567", "CL", "not_mobile_or_landline", "shared-cost"),
        ("15 5555 1234", "AR", "unassigned_range", "area code before it"),
        ("4555 1234", "AR", "too_short", "10 with the area code"),
        ("0800 123 4567", "AR", "not_mobile_or_landline", "toll-free"),
        ("5123456789", "AR", "unassigned_range", "no Argentine area code"),
        ("+1 555", "CL", "too_short", "digit"),
    ],
)
def test_refusals_say_why(raw: str, country: str, reason: str, why: str) -> None:
    with pytest.raises(phone.PhoneInvalid, match=f"is not a valid {country} phone number") as exc:
        phone.normalize(raw, country)
    assert exc.value.reason == reason
    assert why in str(exc.value)
    with pytest.raises(phone.PhoneInvalid) as cell:
        phone.normalize_text(raw.strip(), country)
    assert str(cell.value) == str(exc.value)


def _phonenumbers_callable(compact: str) -> str | None:
    try:
        parsed = phonenumbers.parse(compact, "CL")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.VOIP,
    ):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=2000, deadline=None)
@given(
    prefix=st.sampled_from(["", "56", "+56", "+", "5", "0"]),
    digits=st.one_of(
        st.text(alphabet="0123456789", min_size=7, max_size=11),
        st.integers(200_000_000, 999_999_999).map(str),
    ),
)
def test_fast_chilean_path_is_libphonenumbers_answer(prefix: str, digits: str) -> None:
    # The one-regex path of the usual number answers exactly what phonenumbers does,
    # and never takes a number the full rules would repair or warn about.
    compact = prefix + digits
    m = phone._CL_FAST.match(compact)
    if m is not None:
        e164 = "+56" + m.group(1)
        assert _phonenumbers_callable(compact) == e164
        assert phone._normalize_compact(compact, "CL") == (e164, (), None)


def test_formatting_is_dropped_as_the_formatting_expression_says() -> None:
    # The number's formatting is deleted by a translation table instead of the
    # expression: over every code point, the two delete the same characters.
    every = "".join(map(chr, range(0x110000)))
    assert phone._FORMATTING.sub("", every) == every.translate(phone._DROP_FORMATTING)


@settings(max_examples=1500, deadline=None)
@given(
    country=st.sampled_from(["CL", "AR"]),
    text=st.text(alphabet="0123456789 +-()./", max_size=20),
)
def test_normalize_is_total_and_idempotent(country: str, text: str) -> None:
    # Every text is either a number in E.164 (which normalises to itself, cleanly) or
    # a PhoneInvalid with a reason: never another exception, never a half-parsed value.
    try:
        found = phone.normalize(text, country)
    except phone.PhoneInvalid as exc:
        reason = exc.reason
        assert reason
        return
    assert found.e164.startswith("+")
    assert found.e164[1:].isdigit()
    assert phone.normalize(found.e164, country).e164 == found.e164
    assert phone.normalize_text(text.strip(), country) == found


def test_argentine_mobile_and_landline_spellings_are_one_line() -> None:
    assert phone.line_variants("+5491123456789") == ("+5491123456789", "+541123456789")
    assert phone.line_variants("+541123456789") == ("+541123456789", "+5491123456789")
    assert phone.line_variants("+56987654321") == ("+56987654321",)


def _libphonenumber_type(national: str) -> int:
    number = phonenumbers.PhoneNumber(country_code=56, national_number=int(national))
    kind = phonenumbers.number_type(number)
    # is_valid_number is "a known type", which the fast path relies on.
    assert phonenumbers.is_valid_number(number) == (kind != phonenumbers.PhoneNumberType.UNKNOWN)
    return kind  # type: ignore[no-any-return]


def test_number_type_on_compiled_metadata_is_libphonenumbers() -> None:
    # Every 4-digit start of a 9-digit national number (the ranges are set by the first
    # 4-6 digits), each with three random endings, and the other lengths libphonenumber
    # knows for Chile (10 and 11 digits: shared-cost, toll-free): the same type, always.
    rng = random.Random(56)
    nationals = [
        f"{head}{rng.randrange(100_000):05d}" for head in range(1000, 10_000) for _ in range(3)
    ]
    nationals += [f"{rng.randrange(10**9, 10**11)}" for _ in range(2000)]
    nationals += ["80012345678", "12300123456", "6001234567", "60012345678", "441234567"]
    mismatches = [n for n in nationals if phone._CL_TYPE(n) != _libphonenumber_type(n)]
    assert mismatches == []


_SPELLINGS = [
    "{n}", "+56{n}", "56{n}", "+56 {a} {b} {c}", "{a} {b} {c}", " 56{n}", "56{n}.0",
    "0{n}", "(0{a}) {b}-{c}", "+56-{a}-{b}-{c}", "0056{n}", "{n8}", "56 {n8}", "{n}/{n}",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    national=st.one_of(
        st.integers(100_000_000, 999_999_999).map(str),
        st.sampled_from(["969", "970", "971", "9", "22", "23", "32", "44", "800", "41"]).flatmap(
            lambda head: st.text(alphabet="0123456789", min_size=9 - len(head),
                                 max_size=9 - len(head)).map(lambda tail: head + tail)
        ),
    ),
    spelling=st.sampled_from(_SPELLINGS),
)  # fmt: skip
def test_normalize_on_compiled_metadata_answers_as_with_libphonenumber(
    national: str, spelling: str
) -> None:
    # The whole normaliser, fast type check against libphonenumber's own, on the
    # spellings files use: the same number, the same warning, the same refusal.
    text = spelling.format(
        n=national, a=national[:1], b=national[1:5], c=national[5:], n8=national[1:]
    )
    fast = _outcome(text)
    with _libphonenumber_types():
        reference = _outcome(text)
    assert fast == reference


def _outcome(text: str) -> tuple[str, str | None] | tuple[str, str]:
    phone._normalize_compact.cache_clear()
    try:
        found = phone.normalize(text, "CL")
    except phone.PhoneInvalid as exc:
        return ("refused", str(exc))
    return (found.e164, found.warning)


@contextmanager
def _libphonenumber_types() -> Iterator[None]:
    """A context in which kit.phone asks libphonenumber itself for a number's type."""
    fast = phone._CL_TYPE
    phone._CL_TYPE = _libphonenumber_type  # type: ignore[assignment]
    try:
        yield
    finally:
        phone._CL_TYPE = fast
        phone._normalize_compact.cache_clear()
