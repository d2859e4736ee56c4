"""Structured business results of a call, parsed from what the voice agent reported. Pure.

This module is the ONE place that interprets the agent's analysis: Retell's
``call_analysis.custom_analysis_data`` and ``collected_dynamic_variables``, Vapi's
``analysis.structuredData``, ElevenLabs' ``analysis.data_collection_results``, the
simulated provider's ``extracted`` fields and the replaced system's ``fecha_pago_cliente``
/ ``monto_pago_cliente``. Everything that needs a promise's amount or date, a callback
time or "already paid" asks :func:`parse_outcome`.

The result (:class:`Outcome`) is one of the kinds below, with its structured part::

    promise_to_pay  {amount (integer, smallest unit of currency), currency, date, method?}
    callback        {at (UTC instant) | date (a day without an hour)}
    already_paid    {amount?, currency?, date?}
    dispute, wrong_person, refused, do_not_call, interested, not_interested, no_result

Rules (each one is tested):

* Amounts: ``$4.025.990``, ``4.025.990``, ``$ 1.234.567,50``, ``1234567``, ``50 mil``,
  ``50 lucas``, ``1,5 millones``, ``2 palos``; numbers as JSON numbers are amounts in
  the main unit. Chile and Argentina write ``.`` for thousands and ``,`` for decimals; a
  single ``.`` or ``,`` followed by exactly three digits is a thousands separator. The
  amount is stored in the currency's smallest unit (CLP 0 decimals, ARS/USD 2): never a
  float. A CLP amount with centavos, a negative amount or text that is not a number is
  *unparsed*.
* Dates: ISO ``2026-12-04``, ``04/12/2026``, ``4-12-26``, ``4/12`` (no year: the next
  such day on or after the call), ``4 de diciembre [de 2026]``, ``hoy``, ``mañana``,
  ``pasado mañana``, weekdays (``el viernes``, ``este viernes``, ``el próximo viernes``:
  the next such day AFTER the call's day), ``fin de mes`` (the month's last day),
  ``fin de mes próximo``, ``en N días`` / ``en una semana``, ``el 15`` (the next 15th on
  or after the call). Relative words are resolved in the debtor's timezone against the
  call's time.
* Times (callbacks): ISO instants with an offset, or a date expression plus ``a las 11``,
  ``11:30``, ``11 hrs``, ``3 pm``, ``3 de la tarde``, ``mediodía``, or ``en 2 horas``.
  An hour from 1 to 7 with no qualifier is the afternoon (nobody asks for a collection
  call at 3 a.m.; the calling windows start at 08:00). A time with no day is the next
  such time after the call.
* Anything else is kept raw in :attr:`Outcome.unparsed` with the field name and the
  reason, and the structured value stays empty: a value is never guessed.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dialer.job.states import BusinessResult

# ISO 4217 minor-unit exponents of the currencies the product deals in.
CURRENCY_EXPONENT: dict[str, int] = {"CLP": 0, "ARS": 2, "USD": 2, "EUR": 2, "CLF": 4}
DEFAULT_CURRENCY = {"CL": "CLP", "AR": "ARS"}


class Kind(StrEnum):
    """The business result kinds. Values are the ones stored in ``business_result``."""

    PROMISE_TO_PAY = BusinessResult.PROMISE_TO_PAY.value
    CALLBACK = BusinessResult.CALL_BACK_LATER.value
    PAID = BusinessResult.PAID.value
    DISPUTE = BusinessResult.DISPUTE.value
    WRONG_PERSON = BusinessResult.WRONG_PERSON.value
    REFUSED = BusinessResult.REFUSED.value
    DO_NOT_CALL = BusinessResult.DO_NOT_CALL.value
    INTERESTED = BusinessResult.INTERESTED.value
    NOT_INTERESTED = BusinessResult.NOT_INTERESTED.value
    NO_RESULT = BusinessResult.NO_RESULT.value


# --- field names the agents use (normalised: lower case ASCII, "_" between words) ----------

RESULT_KEYS = ("business_result", "resultado", "result", "resultado_llamada", "outcome")
PROMISE_DATE_KEYS = (
    "promise_date",
    "promise_to_pay_date",
    "fecha_promesa",
    "fecha_compromiso",
    "fecha_pago_cliente",
    "fecha_de_pago",
    "fecha_pago",
)
PROMISE_AMOUNT_KEYS = (
    "promise_amount",
    "promise_to_pay_amount",
    "monto_promesa",
    "monto_compromiso",
    "monto_pago_cliente",
    "monto_de_pago",
    "monto_pago",
)
METHOD_KEYS = ("payment_method", "metodo_pago", "medio_pago", "medio_de_pago", "forma_pago")
CURRENCY_KEYS = ("currency", "moneda", "promise_currency")
CALLBACK_KEYS = (
    "callback_at",
    "call_back_at",
    "call_back_on",
    "callback",
    "volver_a_llamar",
    "fecha_callback",
    "fecha_hora_callback",
    "fecha_rellamado",
    "hora_callback",
    "llamar_el",
)
PAID_AMOUNT_KEYS = ("paid_amount", "monto_pagado", "monto_pago_realizado")
PAID_DATE_KEYS = ("paid_date", "paid_on", "fecha_pagado", "fecha_pago_realizado")
FLAG_KEYS: dict[str, Kind] = {
    "wrong_person": Kind.WRONG_PERSON,
    "persona_equivocada": Kind.WRONG_PERSON,
    "do_not_call": Kind.DO_NOT_CALL,
    "no_llamar": Kind.DO_NOT_CALL,
    "dispute": Kind.DISPUTE,
    "disputa": Kind.DISPUTE,
    "already_paid": Kind.PAID,
    "ya_pago": Kind.PAID,
}

KIND_SYNONYMS: dict[str, Kind] = {
    **{
        k: Kind.PROMISE_TO_PAY
        for k in (
            "promise_to_pay",
            "promesa_de_pago",
            "promesa_pago",
            "promesa",
            "compromiso_de_pago",
            "compromiso_pago",
            "ptp",
        )
    },
    **{
        k: Kind.PAID
        for k in ("already_paid", "paid", "ya_pago", "pagado", "pago_realizado", "ya_pagado")
    },
    **{
        k: Kind.REFUSED
        for k in ("refused", "refuses", "rechaza", "rechazo", "se_niega", "no_paga", "negativa")
    },
    **{
        k: Kind.WRONG_PERSON
        for k in (
            "wrong_person",
            "wrong_number",
            "persona_equivocada",
            "numero_equivocado",
            "no_es_titular",
            "tercero",
        )
    },
    **{
        k: Kind.CALLBACK
        for k in (
            "call_back_later",
            "callback",
            "call_back",
            "volver_a_llamar",
            "llamar_mas_tarde",
            "rellamar",
            "reagendar",
            "agendar_llamada",
        )
    },
    **{
        k: Kind.DISPUTE
        for k in (
            "dispute",
            "disputa",
            "reclamo",
            "no_reconoce_deuda",
            "desconoce_deuda",
            "deuda_en_disputa",
        )
    },
    **{
        k: Kind.DO_NOT_CALL
        for k in ("do_not_call", "dnc", "no_llamar", "no_volver_a_llamar", "no_llamar_mas", "stop")
    },
    **{k: Kind.INTERESTED for k in ("interested", "interesado")},
    **{k: Kind.NOT_INTERESTED for k in ("not_interested", "no_interesado")},
    **{k: Kind.NO_RESULT for k in ("no_result", "sin_resultado", "none", "ninguno")},
}

METHOD_SYNONYMS: dict[str, str] = {
    "transferencia": "transfer",
    "transferencia_bancaria": "transfer",
    "transfer": "transfer",
    "bank_transfer": "transfer",
    "efectivo": "cash",
    "cash": "cash",
    "tarjeta": "card",
    "tarjeta_de_credito": "card",
    "tarjeta_de_debito": "card",
    "card": "card",
    "webpay": "webpay",
    "mercadopago": "mercadopago",
    "mercado_pago": "mercadopago",
    "deposito": "deposit",
    "pago_facil": "pago_facil",
    "rapipago": "rapipago",
    "servipag": "servipag",
}


@dataclass(frozen=True)
class Unparsed:
    """A value the agent reported that could not be read; kept as said."""

    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class Promise:
    amount: int | None = None  # smallest unit of ``currency``
    currency: str | None = None
    date: date | None = None
    method: str | None = None


@dataclass(frozen=True)
class Callback:
    at: datetime | None = None  # UTC instant
    date: date | None = None  # a day without an hour (the window's opening that day)


@dataclass(frozen=True)
class Paid:
    amount: int | None = None
    currency: str | None = None
    date: date | None = None


@dataclass(frozen=True)
class Outcome:
    """A call's business result: its kind, structured parts and what could not be read."""

    kind: Kind | None
    promise: Promise | None = None
    callback: Callback | None = None
    paid: Paid | None = None
    unparsed: tuple[Unparsed, ...] = ()

    @property
    def needs_review(self) -> bool:
        return bool(self.unparsed)

    def to_json(self) -> dict[str, Any]:
        """The JSON stored on attempts and jobs (``result.outcome``) and sent in webhooks."""
        out: dict[str, Any] = {"kind": self.kind.value if self.kind else None}
        if self.promise is not None:
            p = self.promise
            out["promise_to_pay"] = {
                "amount": p.amount,
                "currency": p.currency,
                "date": p.date.isoformat() if p.date else None,
                "method": p.method,
            }
        if self.callback is not None:
            c = self.callback
            out["callback"] = {
                "at": c.at.astimezone(UTC).isoformat().replace("+00:00", "Z") if c.at else None,
                "date": c.date.isoformat() if c.date else None,
            }
        if self.paid is not None:
            out["paid"] = {
                "amount": self.paid.amount,
                "currency": self.paid.currency,
                "date": self.paid.date.isoformat() if self.paid.date else None,
            }
        out["unparsed"] = [
            {"field": u.field, "value": u.value, "reason": u.reason} for u in self.unparsed
        ]
        out["needs_review"] = self.needs_review
        return out


def outcome_from_json(data: Mapping[str, Any] | None) -> Outcome:
    """The inverse of :meth:`Outcome.to_json` (for stored results)."""
    if not data:
        return Outcome(kind=None)
    kind = data.get("kind")
    promise = paid = callback = None
    if isinstance(p := data.get("promise_to_pay"), Mapping):
        promise = Promise(
            amount=p.get("amount"),
            currency=p.get("currency"),
            date=date.fromisoformat(p["date"]) if p.get("date") else None,
            method=p.get("method"),
        )
    if isinstance(c := data.get("callback"), Mapping):
        callback = Callback(
            at=datetime.fromisoformat(c["at"].replace("Z", "+00:00")) if c.get("at") else None,
            date=date.fromisoformat(c["date"]) if c.get("date") else None,
        )
    if isinstance(q := data.get("paid"), Mapping):
        paid = Paid(
            amount=q.get("amount"),
            currency=q.get("currency"),
            date=date.fromisoformat(q["date"]) if q.get("date") else None,
        )
    unparsed = tuple(
        Unparsed(str(u.get("field")), str(u.get("value")), str(u.get("reason")))
        for u in data.get("unparsed") or ()
        if isinstance(u, Mapping)
    )
    return Outcome(
        kind=Kind(str(kind)) if kind in Kind._value2member_map_ else None,
        promise=promise,
        callback=callback,
        paid=paid,
        unparsed=unparsed,
    )


# --- text helpers ------------------------------------------------------------------------


def norm_key(value: str) -> str:
    """``Fecha Pago Cliente`` / ``fecha-pago-cliente`` -> ``fecha_pago_cliente``."""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


def _plain(value: str) -> str:
    """Lower case, no accents, single spaces."""
    text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", " ", text).strip()


class ParseError(ValueError):
    """A value that cannot be read without guessing; the message says why."""


# --- amounts -----------------------------------------------------------------------------

_CURRENCY_MARKS: tuple[tuple[str, str], ...] = (
    ("us$", "USD"),
    ("usd", "USD"),
    ("dolares", "USD"),
    ("dolar", "USD"),
    ("u$s", "USD"),
    ("clp", "CLP"),
    ("ars", "ARS"),
    ("pesos", ""),
    ("peso", ""),
    ("$", ""),
)
_MULTIPLIERS: tuple[tuple[str, int], ...] = (
    ("millones", 1_000_000),
    ("millon", 1_000_000),
    ("palos", 1_000_000),
    ("palo", 1_000_000),
    ("lucas", 1_000),
    ("luca", 1_000),
    ("mil", 1_000),
    ("k", 1_000),
)
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")


def _decimal(text: str, *, has_multiplier: bool) -> Decimal:
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        # Whichever comes last is the decimal mark: 1.234,50 (CL/AR) or 1,234.50.
        dec = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if dec == "," else ","
        head, _, tail = text.rpartition(dec)
        if thousands in tail or not _grouped(head, thousands):
            raise ParseError("mixed separators")
        return Decimal(head.replace(thousands, "") + "." + tail)
    sep = "." if dots else "," if commas else ""
    if not sep:
        return Decimal(text)
    parts = text.split(sep)
    if len(parts) > 2:
        if not _grouped(text, sep):
            raise ParseError("misplaced thousands separators")
        return Decimal(text.replace(sep, ""))
    head, tail = parts
    if len(tail) == 3 and not has_multiplier and 1 <= len(head) <= 3:
        return Decimal(head + tail)  # 4.025 / 4,025: thousands
    if len(tail) in (1, 2) or has_multiplier:
        return Decimal(head + "." + tail)  # 1234,50 / 1,5 millones
    raise ParseError("ambiguous separator")


def _grouped(text: str, sep: str) -> bool:
    groups = text.split(sep)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def parse_amount(value: object, currency: str) -> tuple[int, str]:
    """``(amount in the smallest unit, currency)`` or ParseError. ``currency`` is the default."""
    if isinstance(value, bool) or value is None:
        raise ParseError("not an amount")
    found = currency
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ParseError("not a number")
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = _plain(value)
        if not text:
            raise ParseError("empty")
        if text.startswith("-") or "menos" in text:
            raise ParseError("negative amount")
        for mark, code in _CURRENCY_MARKS:
            if mark in text:
                if code:
                    found = code
                text = text.replace(mark, " ")
        multiplier = 1
        compact = text.replace(" ", "")
        for word, factor in _MULTIPLIERS:
            if compact.endswith(word):
                compact = compact[: -len(word)]
                multiplier = factor
                break
        compact = compact.rstrip(".-").replace("'", "")
        if compact.startswith("medio") and multiplier > 1 and compact == "medio":
            number = Decimal(multiplier) / 2
        elif compact.startswith("un") and compact in ("un", "una") and multiplier > 1:
            number = Decimal(multiplier)
        else:
            if not _NUMBER.match(compact):
                raise ParseError("not a number")
            number = _decimal(compact, has_multiplier=multiplier > 1) * multiplier
    else:
        raise ParseError("not an amount")
    if number < 0:
        raise ParseError("negative amount")
    exponent = CURRENCY_EXPONENT.get(found)
    if exponent is None:
        raise ParseError(f"unknown currency '{found}'")
    scaled = number.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ParseError(f"more decimals than {found} has")
    return int(scaled), found


# --- dates and times ---------------------------------------------------------------------

MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12, "ene": 1, "feb": 2, "mar": 3, "abr": 4, "may": 5, "jun": 6, "jul": 7,
    "ago": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dic": 12,
}  # fmt: skip
WEEKDAYS = {
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5,
    "domingo": 6,
}  # fmt: skip
_NUMBER_WORDS = {
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "quince": 15, "veinte": 20, "treinta": 30,
}  # fmt: skip

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})(?:[/.-](\d{2}|\d{4}))?$")
_TEXT_DATE = re.compile(r"^(\d{1,2}) de ([a-z]+)(?: (?:de|del) (\d{4}))?$")
_DAY_OF_MONTH = re.compile(r"^(?:el )?(?:dia )?(\d{1,2})(?: de este mes| de cada mes)?$")
_IN_N = re.compile(r"^(?:en|dentro de) (\d+|[a-z]+) (dias?|semanas?|horas?|minutos?)$")
_FILLER = re.compile(r"^(?:para |el |la |este |esta |a |al |los |las |en )+")
_TIME = re.compile(
    r"(?:a las |a la |las |la )?(\d{1,2})(?:[:.h](\d{2}))?\s*"
    r"(am|pm|a\.m\.|p\.m\.|hrs|hr|horas|h|de la manana|de la tarde|de la noche)?$"
)


def _local_today(call_at: datetime, tz: tzinfo) -> date:
    return call_at.astimezone(tz).date()


def _next_day_of_month(day: int, today: date) -> date:
    y, m = today.year, today.month
    for _ in range(13):
        if day <= calendar.monthrange(y, m)[1]:
            candidate = date(y, m, day)
            if candidate >= today:
                return candidate
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    raise ParseError(f"no month has day {day}")


def _month_end(d: date, months_ahead: int = 0) -> date:
    y, m = d.year, d.month + months_ahead
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, calendar.monthrange(y, m)[1])


def _count(word: str) -> int:
    if word.isdigit():
        return int(word)
    if word in _NUMBER_WORDS:
        return _NUMBER_WORDS[word]
    raise ParseError(f"'{word}' is not a number")


def _date_expr(text: str, today: date) -> date:
    """A day from text already lower-cased and stripped of accents."""
    text = text.strip(" .,")
    if m := _ISO_DATE.match(text):
        return _checked(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := _DMY.match(text):
        d, mth = int(m.group(1)), int(m.group(2))
        if m.group(3) is None:
            candidate = _checked(today.year, mth, d)
            return candidate if candidate >= today else _checked(today.year + 1, mth, d)
        y = int(m.group(3))
        return _checked(y + 2000 if y < 100 else y, mth, d)
    stripped = _FILLER.sub("", text)
    if stripped in ("hoy", "hoy dia", "dia de hoy"):
        return today
    if stripped in ("manana", "dia de manana"):
        return today + timedelta(days=1)
    if stripped in ("pasado manana", "pasado"):
        return today + timedelta(days=2)
    if stripped in (
        "fin de mes",
        "fines de mes",
        "final de mes",
        "fin del mes",
        "ultimo dia del mes",
    ):
        return _month_end(today)
    if stripped in ("fin de mes proximo", "fin del proximo mes", "fin del mes que viene",
                    "fines del proximo mes", "fin de mes que viene"):  # fmt: skip
        return _month_end(today, 1)
    words = stripped.replace("proximo ", "").replace(" que viene", "").replace(" proximo", "")
    words = words.removeprefix("este ").removeprefix("el ")
    if words in WEEKDAYS:
        ahead = (WEEKDAYS[words] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    if m := _IN_N.match(text.removeprefix("para ")):
        n, unit = _count(m.group(1)), m.group(2)
        if unit.startswith("dia"):
            return today + timedelta(days=n)
        if unit.startswith("semana"):
            return today + timedelta(weeks=n)
    if m := _TEXT_DATE.match(stripped):
        month = MONTHS.get(m.group(2))
        if month is None:
            raise ParseError(f"unknown month '{m.group(2)}'")
        d = int(m.group(1))
        if m.group(3):
            return _checked(int(m.group(3)), month, d)
        candidate = _checked(today.year, month, d)
        return candidate if candidate >= today else _checked(today.year + 1, month, d)
    # "el lunes 15" / "viernes 4": the day number decides; the weekday must agree.
    parts = stripped.split()
    if len(parts) == 2 and parts[0] in WEEKDAYS and parts[1].isdigit():
        candidate = _next_day_of_month(int(parts[1]), today)
        if candidate.weekday() != WEEKDAYS[parts[0]]:
            raise ParseError(f"{candidate.isoformat()} is not a {parts[0]}")
        return candidate
    if m := _DAY_OF_MONTH.match(text):
        return _next_day_of_month(int(m.group(1)), today)
    raise ParseError("not a date the parser can read without guessing")


def _checked(y: int, m: int, d: int) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        raise ParseError("no such day") from None


def parse_date(value: object, *, call_at: datetime, tz: tzinfo) -> date:
    """A payment day from what the debtor said, resolved in ``tz`` against ``call_at``."""
    if isinstance(value, datetime):
        return value.astimezone(tz).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ParseError("not a date")
    text = _plain(value)
    today = _local_today(call_at, tz)
    # An ISO instant ("2026-12-04T00:00:00Z") carries a day.
    if re.match(r"^\d{4}-\d{2}-\d{2}[t ]\d", text):
        try:
            instant = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ParseError("not a valid ISO date-time") from None
        return instant.astimezone(tz).date() if instant.tzinfo else instant.date()
    return _date_expr(text, today)


def _time_expr(text: str) -> time:
    text = text.strip(" .,")
    if text in ("mediodia", "medio dia", "al mediodia"):
        return time(12, 0)
    m = _TIME.match(text)
    if not m:
        raise ParseError("not a time")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    qual = (m.group(3) or "").replace(".", "")
    if qual in ("pm", "de la tarde", "de la noche") and hour < 12:
        hour += 12
    elif qual in ("am", "de la manana") and hour == 12:
        hour = 0
    elif not qual and 1 <= hour <= 7:
        hour += 12  # "a las 3": the afternoon; see the module docstring
    if hour > 23 or minute > 59:
        raise ParseError("no such time")
    return time(hour, minute)


_TIME_START = re.compile(
    r"(?:^| )(?:a las|a la|las|tipo|como a las) \d|(?:^| )\d{1,2}(?:[:.h]\d{2})"
)


def parse_callback(value: object, *, call_at: datetime, tz: tzinfo) -> Callback:
    """When the debtor asked to be called back: an instant, or a day without an hour."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return Callback(at=value.astimezone(UTC))
    if isinstance(value, date):
        return Callback(date=value)
    if not isinstance(value, str) or not value.strip():
        raise ParseError("not a time")
    raw = value.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d", raw):
        try:
            instant = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ParseError("not a valid ISO date-time") from None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=tz)
        return Callback(at=instant.astimezone(UTC))
    text = _plain(raw)
    local_now = call_at.astimezone(tz)
    if m := _IN_N.match(text.removeprefix("para ")):
        n, unit = _count(m.group(1)), m.group(2)
        if unit.startswith("hora"):
            return Callback(at=(call_at + timedelta(hours=n)).astimezone(UTC))
        if unit.startswith("minuto"):
            return Callback(at=(call_at + timedelta(minutes=n)).astimezone(UTC))
    if text in ("mas tarde", "luego", "despues", "otro dia", "la proxima semana"):
        raise ParseError("no day or hour given")
    # Split "<day> [a las] <time>" at the time's start.
    day_text, time_text = text, ""
    if (m := _TIME_START.search(text)) is not None:
        day_text, time_text = text[: m.start()].strip(), text[m.start() :].strip()
    elif " al mediodia" in text or text.endswith("mediodia"):
        day_text, _, rest = text.partition("mediodia")
        day_text, time_text = day_text.strip().removesuffix(" al").strip(), "mediodia" + rest
    day_text = re.sub(r"\b(?:en la|por la) (?:manana|tarde)$", "", day_text).strip()
    if not time_text:
        if re.fullmatch(r"\d{1,2}\s*(?:am|pm|hrs|h)", text):
            day_text, time_text = "", text
        else:
            return Callback(date=_date_expr(day_text, local_now.date()))
    at = _time_expr(time_text)
    if day_text:
        day = _date_expr(day_text, local_now.date())
        local = datetime.combine(day, at, tzinfo=tz)
    else:
        local = datetime.combine(local_now.date(), at, tzinfo=tz)
        if local <= local_now:
            local += timedelta(days=1)
    return Callback(at=local.astimezone(UTC))


# --- the whole analysis ------------------------------------------------------------------


def analysis_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The agent-reported fields of any provider's call payload, flattened.

    Reads Retell ``call_analysis.custom_analysis_data`` and ``collected_dynamic_variables``,
    Vapi ``analysis.structuredData``, ElevenLabs ``analysis.data_collection_results``
    (``{name: {"value": ...}}``) and plain ``extracted`` dicts. Later sources do not
    override earlier ones: the post-call analysis wins over in-call variables.
    """
    out: dict[str, Any] = {}

    def take(source: object) -> None:
        if isinstance(source, Mapping):
            for key, value in source.items():
                if isinstance(value, Mapping) and "value" in value:
                    value = value["value"]  # ElevenLabs data collection item
                out.setdefault(norm_key(str(key)), value)

    analysis = raw.get("call_analysis") or raw.get("analysis") or {}
    if isinstance(analysis, Mapping):
        take(analysis.get("custom_analysis_data"))
        take(analysis.get("structuredData") or analysis.get("structured_data"))
        take(analysis.get("data_collection_results"))
    take(raw.get("extracted"))
    take(raw.get("collected_dynamic_variables"))
    return out


def _first(fields: Mapping[str, Any], keys: Iterable[str]) -> tuple[str, Any] | None:
    for key in keys:
        value = fields.get(key)
        if value is not None and value != "":
            return key, value
    return None


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _plain(value) in ("true", "si", "yes", "1", "verdadero")
    return False


def parse_outcome(
    fields: Mapping[str, Any],
    *,
    call_at: datetime,
    tz: tzinfo,
    currency: str,
    declared: str | None = None,
) -> Outcome:
    """The call's business result from the agent's fields (see :func:`analysis_fields`).

    ``declared`` is a result word the adapter already read (its own field); an explicit
    result field in ``fields`` wins over it. ``currency`` is the debt's currency, used
    when the amount names none. Never raises on the agent's input.
    """
    fields = {norm_key(str(k)): v for k, v in fields.items()}
    unparsed: list[Unparsed] = []
    kind: Kind | None = None
    for key in RESULT_KEYS:
        value = fields.get(key)
        if isinstance(value, str) and value.strip():
            kind = KIND_SYNONYMS.get(norm_key(value))
            if kind is None:
                unparsed.append(Unparsed(key, value, "unknown business result"))
            break
    if kind is None and declared:
        kind = KIND_SYNONYMS.get(norm_key(declared))
    if kind is None:
        for key, flagged in FLAG_KEYS.items():
            if _truthy(fields.get(key)):
                kind = flagged
                break
    if isinstance(c := _first(fields, CURRENCY_KEYS), tuple) and isinstance(c[1], str):
        code = c[1].strip().upper()
        if code in CURRENCY_EXPONENT:
            currency = code
        else:
            unparsed.append(Unparsed(c[0], c[1], "unknown currency"))

    def amount_of(keys: Iterable[str]) -> tuple[int | None, str | None]:
        found = _first(fields, keys)
        if found is None:
            return None, None
        try:
            return parse_amount(found[1], currency)
        except ParseError as exc:
            unparsed.append(Unparsed(found[0], str(found[1]), f"amount: {exc}"))
            return None, None

    def date_of(keys: Iterable[str]) -> date | None:
        found = _first(fields, keys)
        if found is None:
            return None
        try:
            return parse_date(found[1], call_at=call_at, tz=tz)
        except ParseError as exc:
            unparsed.append(Unparsed(found[0], str(found[1]), f"date: {exc}"))
            return None

    promise = paid = callback = None
    has_promise_fields = _first(fields, (*PROMISE_DATE_KEYS, *PROMISE_AMOUNT_KEYS)) is not None
    if kind is None and has_promise_fields:
        kind = Kind.PROMISE_TO_PAY
    if kind is None and _first(fields, CALLBACK_KEYS) is not None:
        kind = Kind.CALLBACK
    if kind == Kind.PROMISE_TO_PAY:
        amount, cur = amount_of(PROMISE_AMOUNT_KEYS)
        method = None
        if (m := _first(fields, METHOD_KEYS)) is not None:
            method = METHOD_SYNONYMS.get(norm_key(str(m[1])), norm_key(str(m[1])) or None)
        promise = Promise(
            amount=amount, currency=cur or currency, date=date_of(PROMISE_DATE_KEYS), method=method
        )
    elif kind == Kind.CALLBACK:
        found = _first(fields, CALLBACK_KEYS)
        if found is not None:
            try:
                callback = parse_callback(found[1], call_at=call_at, tz=tz)
            except ParseError as exc:
                unparsed.append(Unparsed(found[0], str(found[1]), f"callback: {exc}"))
        callback = callback or Callback()
    elif kind == Kind.PAID:
        amount, cur = amount_of(PAID_AMOUNT_KEYS)
        paid = Paid(amount=amount, currency=cur, date=date_of(PAID_DATE_KEYS))
    if kind is None and fields:
        kind = Kind.NO_RESULT
    return Outcome(
        kind=kind, promise=promise, callback=callback, paid=paid, unparsed=tuple(unparsed)
    )


def format_amount(amount: int, currency: str) -> str:
    """``4025990, CLP`` -> ``$4.025.990``; ``123450, ARS`` -> ``$ 1.234,50`` (es-CL / es-AR)."""
    exponent = CURRENCY_EXPONENT.get(currency, 0)
    whole, frac = divmod(amount, 10**exponent) if exponent else (amount, 0)
    grouped = f"{whole:,}".replace(",", ".")
    if currency == "CLP":
        return f"${grouped}"
    if currency == "ARS":
        return f"$ {grouped},{frac:0{exponent}d}"
    return f"{currency} {grouped},{frac:0{exponent}d}" if exponent else f"{currency} {grouped}"
