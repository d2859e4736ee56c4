"""The one phone normaliser: every number that enters the product (spreadsheet cells,
JSON jobs, do-not-call entries and files, the dialer's own checks) goes through
``normalize`` and comes out in E.164, or is refused with a reason.

Pure: no I/O. Rules, for accounts in Chile (CL) and Argentina (AR):

* **Well-formed is enough.** A number whose length and prefix fit the country's numbering
  plan as a mobile or landline is accepted, even when libphonenumber's metadata does not
  list its range as assigned yet (the regulators allocate ahead of the metadata). Such a
  number carries a warning; a number that turns out unassigned is answered
  ``invalid_number`` by the provider and phone fallback moves on.
* **Chile** (9-digit national numbers since 2016: mobiles ``9 xxxx xxxx``, Santiago
  landlines ``2 2xxx xxxx``, regional landlines ``<area> xxx xxxx``). Legacy spellings
  still found in old portfolios are repaired, each with a warning naming the original:
  the national trunk ``0`` (``09 8765 4321``, ``(02) 2345 6789``), an 8-digit mobile from
  before the 2012 change (``8765 4321`` gains the leading 9), an 8-digit Santiago
  landline from before 2013 (``2 345 6789`` gains the 2), and a number stored as text
  with a float's ``.0`` (``56987654321.0``). Surrounding whitespace, spaces, dashes, dots
  and parentheses are formatting, not repairs.
* **Argentina**: libphonenumber's handling of the national ``0``, the local ``15`` mobile
  prefix and the international mobile ``9`` (``011 15 2345-6789`` -> ``+5491123456789``),
  with the same well-formedness leniency (area code ``11``, ``2xx`` or ``3xx``, 10 digits,
  plus the ``9`` for mobiles).
* Numbers of other countries (written with ``+`` or ``00``) must be valid for
  libphonenumber.

Refusals carry a ``reason`` code (``empty``, ``not_a_number``, ``too_short``,
``too_long``, ``unassigned_range``, ``not_mobile_or_landline``) and a message fit for an
operator.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal, NamedTuple

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonemetadata import PhoneMetadata

from dialer.kit.cells import CellError, cell_text

Country = Literal["CL", "AR"]
Reason = Literal[
    "empty", "not_a_number", "too_short", "too_long", "unassigned_range",
    "not_mobile_or_landline",
]  # fmt: skip

_LIB = f"libphonenumber {phonenumbers.__version__}"
LIBRARY = _LIB  # named in the unlisted-range notes
# Types a dialer may call: a debtor's mobile or landline (VoIP landlines included).
_CALLABLE = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.VOIP,
    }
)
# The kinds of number a dialer does not call, by the code a refusal's ``kind`` names.
_KINDS = {
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
}
KIND_NAMES = {
    "toll_free": "a toll-free number",
    "premium_rate": "a premium-rate number",
    "shared_cost": "a shared-cost number",
    "uan": "a company's universal access number",
    "pager": "a pager number",
    "voicemail": "a voicemail access number",
    "personal_number": "a personal-number service",
    "not_a_line": "not a line",
}
# Why a number is refused: the ``detail`` code of a refusal, its English (parameters in
# braces). docs/ingestion.md lists them; the dashboard words each in Spanish.
DETAILS = {
    "empty": "empty",
    "non_digits": "it contains characters other than digits",
    "too_few_digits": "only {digits} digit(s)",
    "too_many_digits": "{digits} digits, more than any phone number",
    "toll_free_or_shared_cost": "a toll-free or shared-cost number",
    "cl_digits": "{digits} digits; Chilean numbers have 9",
    "ar_digits": "{digits} digits; Argentine numbers have 10 with the area code",
    "cl_no_prefix": "no Chilean mobile (9...) or landline area code starts {prefix}",
    "ar_no_area_code": "no Argentine area code starts {prefix}",
    "ar_local_15": (
        "15 is the local mobile prefix: write the area code before it (11 15 2345 6789)"
    ),
    "not_a_phone": "not a phone number",
    "foreign_invalid": "not a valid number of country code +{country_code}",
    "number_kind": "{kind_name}",
}
# What was done to a number that is accepted with a warning: the note codes.
NOTES = {
    "text_float": "a number stored as text with a decimal '.0'",
    "trunk_zero": "dropped the trunk prefix 0 (not dialed since 2016)",
    "old_mobile": "8-digit mobile from before 2012: added the leading 9",
    "old_santiago_landline": "8-digit Santiago landline from before 2013: added the 2",
    "unlisted_mobile": "well-formed mobile number in a range {library} does not list",
    "unlisted_landline": "well-formed landline number in a range {library} does not list",
}
UNLISTED_NOTES = frozenset({"unlisted_mobile", "unlisted_landline"})
# The notes as a warning says them, worded once (a warning per repaired number).
_NOTE_TEXTS = {code: text.format(library=_LIB) for code, text in NOTES.items()}


class PhoneInvalid(CellError):
    """A text that cannot be normalised to a callable number; ``reason`` says why.

    Code ``phone_invalid``; ``params``: ``value``, ``country``, ``reason``, ``detail``
    (a key of DETAILS) and the detail's own parameters."""

    def __init__(
        self, text: str, country: str, reason: Reason, detail: str, **params: object
    ) -> None:
        if detail == "number_kind":
            params["kind_name"] = KIND_NAMES[str(params["kind"])]
        why = DETAILS[detail].format(**params)
        params.pop("kind_name", None)
        super().__init__(
            "phone_invalid",
            f"'{text}' is not a valid {country} phone number: {why}",
            value=text,
            country=country,
            reason=reason,
            detail=detail,
            **params,
        )
        self.text = text
        self.reason = reason
        self.why = why


class Phone(NamedTuple):
    """A normalised number; ``warning`` when it was repaired or its range is unlisted,
    ``notes`` the codes of what was done (keys of NOTES). A named tuple: one is made for
    every number of a file, and a frozen dataclass costs twice as much to build."""

    e164: str
    warning: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def message_code(self) -> str:
        """The row message's code: ``phone_repaired`` when the spelling was changed,
        ``phone_unlisted_range`` when only the range is unlisted."""
        return _message_code(self.notes)


@lru_cache(maxsize=64)  # a handful of combinations of notes
def _message_code(notes: tuple[str, ...]) -> str:
    repaired = any(n not in UNLISTED_NOTES for n in notes)
    return "phone_repaired" if repaired else "phone_unlisted_range"


# ---------------------------------------------------------------- the usual number, fast

# Formatting characters a written number may contain; anything else (letters) refuses it.
_FORMATTING = re.compile(r"[\s().\-/\u2010-\u2015]")
_NOT_A_NUMBER = re.compile(r"[^\d\s().\-/+\u2010-\u2015]")
# The characters _FORMATTING matches (whitespace as \s knows it, brackets, dots,
# hyphens, slashes, dashes), deleted by str.translate: about twice as fast as the
# substitution (tests/kit/test_phone.py compares the two over every code point).
_DROP_FORMATTING = dict.fromkeys(
    map(ord, "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ()-./\x85\xa0\u1680\u2000\u2001\u2002\u2003"
        "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2010\u2011\u2012\u2013\u2014\u2015"
        "\u2028\u2029\u202f\u205f\u3000"),
)  # fmt: skip
_TEXT_FLOAT = re.compile(r"^(\+?\d{5,15})\.0+$", re.ASCII)


def _fast_chile() -> re.Pattern[str]:
    """One regex answering "a clean, assigned Chilean mobile/landline" for a digit string.

    Built from libphonenumber's own metadata (its fixed-line, mobile and VoIP patterns),
    so it gives phonenumbers' answer in ~1 µs instead of ~15 µs; a test compares them.
    ``normalize_text`` answers a cell of digits that matches it without any other step.
    """
    meta = PhoneMetadata.metadata_for_region("CL")
    assert meta is not None
    types = [
        f"(?:{d.national_number_pattern})"
        for d in (meta.fixed_line, meta.mobile, meta.voip)
        if d is not None and d.national_number_pattern and 9 in (d.possible_length or (9,))
    ]
    assert meta.general_desc is not None
    general = meta.general_desc.national_number_pattern
    return re.compile(
        rf"(?:\+?56)?((?=[2-9]\d{{8}}\Z)(?=(?:{general})\Z)(?:{'|'.join(types)})\Z)", re.ASCII
    )


_CL_FAST = _fast_chile()


class _NumberTypes:
    """libphonenumber's type of a national number of one region, by one regex.

    The same decision ``phonenumbers.number_type`` takes (``_number_type_helper``: the
    general pattern and lengths first, then each type's lengths and pattern in
    libphonenumber's order, fixed line before mobile), built from the region's metadata
    into one expression whose first matching alternative names the type: ~1 µs instead
    of ~20 µs for a number in no listed range, which walks every type.
    ``is_valid_number`` is "the type is not UNKNOWN". tests/kit/test_phone.py compares
    the two over every 4-digit start of a national number.
    """

    _ORDER = (
        ("premium_rate", PhoneNumberType.PREMIUM_RATE),
        ("toll_free", PhoneNumberType.TOLL_FREE),
        ("shared_cost", PhoneNumberType.SHARED_COST),
        ("voip", PhoneNumberType.VOIP),
        ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
        ("pager", PhoneNumberType.PAGER),
        ("uan", PhoneNumberType.UAN),
        ("voicemail", PhoneNumberType.VOICEMAIL),
    )

    def __init__(self, region: str) -> None:
        meta = PhoneMetadata.metadata_for_region(region)
        assert meta is not None
        general = self._desc(meta.general_desc)
        fixed, mobile = self._desc(meta.fixed_line), self._desc(meta.mobile)
        same = bool(meta.same_mobile_and_fixed_line_pattern)
        kinds: list[tuple[str, int]] = [
            (d, kind) for name, kind in self._ORDER if (d := self._desc(getattr(meta, name)))
        ]
        if fixed:
            if same:
                kinds.append((fixed, PhoneNumberType.FIXED_LINE_OR_MOBILE))
            else:
                if mobile:
                    kinds.append((f"(?={mobile}){fixed}", PhoneNumberType.FIXED_LINE_OR_MOBILE))
                kinds.append((fixed, PhoneNumberType.FIXED_LINE))
        if mobile and not same:
            kinds.append((mobile, PhoneNumberType.MOBILE))
        self._kinds = [kind for _, kind in kinds]
        alternatives = "|".join(f"(?P<t{i}>{d})" for i, (d, _) in enumerate(kinds))
        self._pattern = (
            re.compile(f"(?={general})(?:{alternatives})", re.ASCII) if general and kinds else None
        )

    @staticmethod
    def _desc(desc: object) -> str | None:
        """A description as a lookahead-free expression matching a whole number (its
        possible lengths, then its pattern), or None: phonenumbers' description without
        a pattern matches nothing."""
        pattern = getattr(desc, "national_number_pattern", None)
        if not pattern:
            return None
        lengths = sorted(set(getattr(desc, "possible_length", None) or ()))
        length = f"(?=(?:{'|'.join(f'.{{{n}}}' for n in lengths)})\\Z)" if lengths else ""
        return f"(?:{length}(?:{pattern})\\Z)"

    def __call__(self, national: str) -> int:
        """The ``PhoneNumberType`` of a national significant number (ASCII digits)."""
        if self._pattern is None:
            return PhoneNumberType.UNKNOWN
        m = self._pattern.match(national)
        if m is None or m.lastgroup is None:
            return PhoneNumberType.UNKNOWN
        return self._kinds[int(m.lastgroup[1:])]


_CL_TYPE = _NumberTypes("CL")


def _compact(text: str) -> str | None:
    """Digits (and a leading ``+``) of a written number; None when it holds other text."""
    if _NOT_A_NUMBER.search(text) is not None:
        return None
    compact = text.translate(_DROP_FORMATTING)
    if "+" in compact[1:]:
        return None
    return compact


# ---------------------------------------------------------------- the rules


def normalize(value: object, country: str) -> Phone:
    """The number in E.164, with a warning when repaired or unlisted; raises PhoneInvalid."""
    return normalize_text(cell_text(value), country)


def normalize_text(text: str, country: str) -> Phone:
    """``normalize`` of a text already stripped (a spreadsheet cell's): the same answer."""
    if not text:
        raise PhoneInvalid(text, country, "empty", "empty")
    first: tuple[str, ...] = ()
    if text.isdecimal():
        # Digits only (the usual cell): no '.0' to drop, nothing to compact.
        compact: str | None = text
        if country == "CL" and (fast := _CL_FAST.match(text)) is not None:
            return Phone("+56" + fast.group(1))
    elif (m := _TEXT_FLOAT.match(text)) is not None:
        compact = m.group(1)
        first = ("text_float",)
    else:
        compact = _compact(text)
        # A clean number written with spaces or a +56 (most of them): the one regex.
        if compact is not None and country == "CL" and (fast := _CL_FAST.match(compact)):
            return Phone("+56" + fast.group(1))
    if compact is None:
        raise PhoneInvalid(text, country, "not_a_number", "non_digits")
    e164, more, failure = _normalize_compact(compact, country)
    if e164 is None:
        assert failure is not None
        reason, detail, params = failure
        raise PhoneInvalid(text, country, reason, detail, **dict(params))
    notes = first + more
    if not notes:
        return Phone(e164)
    said = "; ".join([_NOTE_TEXTS[n] for n in notes])
    return Phone(e164, f"'{text}' read as {e164}: {said}", notes)


def e164(value: object, country: str) -> str:
    """``normalize(value, country).e164``; raises PhoneInvalid."""
    return normalize(value, country).e164


# (reason, detail, the detail's parameters as pairs): hashable, for the cache.
_Failure = tuple[Reason, str, tuple[tuple[str, object], ...]]
# (E.164, note codes, None) or (None, (), the failure)
_Result = tuple[str | None, tuple[str, ...], _Failure | None]


def _refused(reason: Reason, detail: str, **params: object) -> _Result:
    return None, (), (reason, detail, tuple(params.items()))


# One entry per distinct compact number: files repeat numbers, and phonenumbers costs
# ~15 µs a parse. The fast regex above keeps the usual Chilean number out of it.
@lru_cache(maxsize=100_000)
def _normalize_compact(compact: str, country: str) -> _Result:
    """(e164, note codes, None) or (None, (), (reason, detail, params)) for a compact
    digit string."""
    if not compact.isascii():
        # Other scripts' digits (Arabic-Indic, full-width) as ASCII.
        compact = "".join(c if c == "+" else str(unicodedata.decimal(c)) for c in compact)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    digits = compact.lstrip("+")
    if len(digits) < 5:
        return _refused("too_short", "too_few_digits", digits=len(digits))
    if len(digits) > 15:
        return _refused("too_long", "too_many_digits", digits=len(digits))
    if compact.startswith("+"):
        if compact.startswith("+56"):
            return _chile(compact[3:])
        if compact.startswith("+54"):
            return _argentina(compact)
        return _foreign(compact)
    if country == "CL":
        if len(compact) in (10, 11) and compact.startswith("56"):
            # 56 987654321 (and 56 87654321, an old mobile): the country code without "+".
            return _chile(compact[2:])
        return _chile(compact)
    if country == "AR":
        return _argentina(compact)
    return _foreign(compact)


# Chilean landline area codes (single-digit 2 is Santiago), from Subtel's numbering plan.
_CL_AREAS = frozenset(
    "32 33 34 35 41 42 43 45 51 52 53 55 57 58 61 63 64 65 67 71 72 73 75".split()
)


def _chile(national: str) -> _Result:
    notes: list[str] = []
    if len(national) > 9 and national.startswith(("600", "12300")):
        return _refused("not_mobile_or_landline", "toll_free_or_shared_cost")
    if len(national) == 10 and national[0] == "0":
        national = national[1:]
        notes.append("trunk_zero")
    if len(national) == 8 and national[0] in "56789":
        national = "9" + national
        notes.append("old_mobile")
    elif len(national) == 8 and national[0] == "2":
        national = "2" + national
        notes.append("old_santiago_landline")
    if len(national) < 9:
        return _refused("too_short", "cl_digits", digits=len(national))
    if len(national) > 9:
        return _refused("too_long", "cl_digits", digits=len(national))
    e164 = "+56" + national
    # phonenumbers.number_type / is_valid_number, on compiled patterns (_NumberTypes).
    kind = _CL_TYPE(national) if national[0] != "0" else PhoneNumberType.UNKNOWN
    if kind != PhoneNumberType.UNKNOWN:
        if kind not in _CALLABLE:
            return _kind_refused(kind)
    elif national[0] == "9" or national[0] == "2" or national[:2] in _CL_AREAS:
        notes.append("unlisted_mobile" if national[0] == "9" else "unlisted_landline")
    else:
        return _refused("unassigned_range", "cl_no_prefix", prefix=national[:2])
    return e164, tuple(notes), None


def _kind_refused(kind: int) -> _Result:
    return _refused("not_mobile_or_landline", "number_kind", kind=_KINDS.get(kind, "not_a_line"))


def _argentina(compact: str) -> _Result:
    try:
        number = phonenumbers.parse(compact, "AR")
    except NumberParseException:
        return _refused("not_a_number", "not_a_phone")
    if number.country_code != 54:
        return _foreign(compact)
    national = phonenumbers.national_significant_number(number)
    e164 = f"+54{national}"
    if phonenumbers.is_valid_number(number):
        kind = phonenumbers.number_type(number)
        if kind not in _CALLABLE:
            return _kind_refused(kind)
        return e164, (), None
    subscriber = national[1:] if len(national) == 11 and national[0] == "9" else national
    if len(subscriber) == 10 and (subscriber.startswith("11") or subscriber[0] in "23"):
        note = "unlisted_mobile" if subscriber is not national else "unlisted_landline"
        return e164, (note,), None
    if national.startswith("15"):
        return _refused("unassigned_range", "ar_local_15")
    if len(subscriber) < 10:
        return _refused("too_short", "ar_digits", digits=len(subscriber))
    if len(subscriber) > 10:
        return _refused("too_long", "ar_digits", digits=len(subscriber))
    return _refused("unassigned_range", "ar_no_area_code", prefix=subscriber[:2])


def _foreign(compact: str) -> _Result:
    try:
        number = phonenumbers.parse(compact if compact.startswith("+") else "+" + compact)
    except NumberParseException:
        return _refused("not_a_number", "not_a_phone")
    if not phonenumbers.is_valid_number(number):
        return _refused("unassigned_range", "foreign_invalid", country_code=number.country_code)
    kind = phonenumbers.number_type(number)
    if kind not in _CALLABLE:
        return _kind_refused(kind)
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164)), (), None


# ---------------------------------------------------------------- identity of a line


def line_variants(e164: str) -> tuple[str, ...]:
    """Every E.164 spelling of the same line, for do-not-call matching.

    Argentina writes mobiles as +54 9 <area> <number> internationally, while the
    "No Llame" registry and many files list <area> <number> without the 9; the
    subscriber number is the same, so a listing of either spelling covers both.
    """
    if e164.startswith("+549") and len(e164) > 6:
        return (e164, "+54" + e164[4:])
    if e164.startswith("+54") and len(e164) > 5:
        return (e164, "+549" + e164[3:])
    return (e164,)
