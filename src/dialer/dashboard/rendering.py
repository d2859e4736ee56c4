"""Templates and the per-request context every page gets (language, labels, operator),
and the locale's formats: numbers and money (``4.900,00``, ``$1.234.567`` in es-CL),
RUTs with dots and hyphen, times in a named zone with the zone shown."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.responses import Response
from stdnum.cl import rut as cl_rut

from dialer.account.auth import Principal
from dialer.dashboard.auth import csrf_token_of
from dialer.dashboard.codes import code_label
from dialer.dashboard.contacts import MINOR_UNIT_FIELDS, MONEY_FIELDS
from dialer.dashboard.explain import refusal_in_words
from dialer.dashboard.i18n import LANG_COOKIE, pick_lang, translator
from dialer.dashboard.ingest_messages import ignored_reason, row_message
from dialer.dashboard.waiting import when_words, zone_name
from dialer.job.outcomes import CURRENCY_EXPONENT
from dialer.kit import clock

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))

ACCOUNT_COOKIE = "dialer_account"


def request_lang(request: Request) -> str:
    return pick_lang(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))


def current_account_id(request: Request, principal: Principal) -> str | None:
    """The account the pages show: a user's own; the admin's chosen one."""
    if not principal.is_admin:
        return principal.account_id
    chosen = request.query_params.get("account_id") or request.cookies.get(ACCOUNT_COOKIE)
    return chosen or None


zone_label = zone_name  # ``America/Santiago`` -> ``Santiago``; no zone -> ``UTC``


def format_number(value: float | int | None, lang: str, digits: int = 0) -> str:
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    if lang == "es":  # 1.234.567,89
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def format_money(
    value: float | int | None, lang: str, currency: str = "CLP", *, minor: bool = False
) -> str:
    """``$214.939`` (CLP, no decimals), ``$1.234,56 ARS`` (ARS, centavos): always ``$``
    with the locale's grouping; a currency other than CLP is named after the amount.
    ``minor``: ``value`` is in the currency's smallest unit (promises, payments)."""
    if value is None:
        return "—"
    digits = CURRENCY_EXPONENT.get(currency, 2)
    amount = value / 10**digits if minor else value
    sign = "-" if amount < 0 else ""
    text = f"{sign}${format_number(abs(amount), lang, digits)}"
    return text if currency == "CLP" else f"{text} {currency}"


def format_rut(value: str | None) -> str:
    """12345678-5 -> 12.345.678-5 (valid RUTs only; anything else as given)."""
    if not value:
        return ""
    try:
        return str(cl_rut.format(value))
    except Exception:  # stdnum raises its own ValidationError subclasses, or ValueError
        return value


def format_phone(value: str | None) -> str:
    """``+56987654322`` -> ``+56 9 8765 4322`` (E.164 in groups, as printed on a card);
    anything that is not a number as given."""
    if not value:
        return ""
    if len(value) == 12 and value.startswith("+56") and value[1:].isdigit():
        # Chile's plan is uniform (9 mobile, 2 Santiago, else a two-digit area); the
        # library leaves ranges it does not list ungrouped.
        rest = value[3:]
        if rest[0] in "29":
            return f"+56 {rest[0]} {rest[1:5]} {rest[5:]}"
        return f"+56 {rest[:2]} {rest[2:5]} {rest[5:]}"
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return value
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def phone_kind(value: str | None) -> str | None:
    """``mobile`` / ``landline``, else None. Chile and Argentina by their mobile prefix
    (``+569``, ``+549``: libphonenumber calls Chilean ranges "fixed line or mobile"),
    other countries by the range libphonenumber lists."""
    if not value:
        return None
    for country in ("+56", "+54"):
        if value.startswith(country):
            return "mobile" if value.startswith(country + "9") else "landline"
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(value, None))
    except phonenumbers.NumberParseException:
        return None
    if kind == phonenumbers.PhoneNumberType.MOBILE:
        return "mobile"
    if kind == phonenumbers.PhoneNumberType.FIXED_LINE:
        return "landline"
    return None


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def format_day(value: date | str | None, lang: str) -> str:
    """A calendar day as ``dd-mm-aaaa`` (es) or ISO (en); a text that is no day as given."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return value
    else:
        day = value
    return day.strftime("%d-%m-%Y" if lang == "es" else "%Y-%m-%d")


def format_value(key: str, value: object, lang: str, currency: str = "CLP") -> str:
    """An imported field's value as the pages show it: amounts as money, ISO days as
    ``dd-mm-aaaa``, numbers grouped, yes/no in words, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return translator(lang)["yes" if value else "no"]
    if key in MONEY_FIELDS and isinstance(value, int | float):
        return format_money(value, lang, currency, minor=key in MINOR_UNIT_FIELDS)
    if isinstance(value, int | float):
        return format_number(value, lang, 0 if float(value).is_integer() else 2)
    if isinstance(value, str) and _ISO_DAY.match(value):
        return format_day(value, lang)
    if isinstance(value, list):
        return ", ".join(format_value(key, v, lang, currency) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(k, v, lang, currency)}" for k, v in value.items())
    return str(value)


_PLACE_PARTS = re.compile(
    r"phone (?P<phone>\+\d+) \((?:area code (?P<area>\d+), (?:(?P<kind>region|province) "
    r"(?P<code>\w+)|(?P<metro>Buenos Aires metropolitan area))|(?P<easter>Easter Island "
    r"number range))\)|(?P<col>comuna|ciudad|region|zona horaria) '(?P<value>[^']*)'"
    r"|(?P<batch>batch timezone)"
)
_PLACE_WORDS = {
    "es": {
        "batch": "la zona horaria de la campaña",
        "area": "teléfono {phone} (código de área {area}, {where})",
        "region": "región {name}",
        "province": "provincia {name}",
        "metro": "área metropolitana de Buenos Aires",
        "easter": "teléfono {phone} (numeración de Isla de Pascua)",
        "col": "columna {col}: {value}",
        "cols": {"comuna": "comuna", "ciudad": "ciudad", "region": "región",
                 "zona horaria": "zona horaria"},
    },
    "en": {
        "batch": "the campaign's timezone",
        "area": "phone {phone} (area code {area}, {where})",
        "region": "region {name}",
        "province": "province {name}",
        "metro": "Buenos Aires metropolitan area",
        "easter": "phone {phone} (Easter Island number range)",
        "col": "{col} column: {value}",
        "cols": {"comuna": "commune", "ciudad": "city", "region": "region",
                 "zona horaria": "timezone"},
    },
}  # fmt: skip


def place_in_words(source: str | None, lang: str) -> str:
    """Where a debtor's zone was taken from (``compliance.place``'s ``place_source``),
    in the reader's words; a text it does not know as it is."""
    if not source:
        return ""
    w = _PLACE_WORDS.get(lang, _PLACE_WORDS["es"])
    parts = []
    for m in _PLACE_PARTS.finditer(source):
        phone = format_phone(m["phone"]) if m["phone"] else ""
        if m["batch"]:
            parts.append(str(w["batch"]))
        elif m["easter"]:
            parts.append(str(w["easter"]).format(phone=phone))
        elif m["area"]:
            if m["metro"]:
                where = str(w["metro"])
            else:
                name = code_label(lang, "region", m["code"]) or m["code"]
                where = str(w[m["kind"]]).format(name=name)
            parts.append(str(w["area"]).format(phone=phone, area=m["area"], where=where))
        elif m["col"]:
            col = w["cols"][m["col"]]  # type: ignore[index]
            parts.append(str(w["col"]).format(col=col, value=m["value"]))
    return "; ".join(parts) if parts else source


def format_dt(value: datetime | str | None, lang: str, tz: str | None, *, label: bool) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.astimezone(ZoneInfo(tz or "UTC"))
    text = value.strftime("%d-%m-%Y %H:%M" if lang == "es" else "%Y-%m-%d %H:%M")
    return f"{text} ({zone_label(tz)})" if label else text


@pass_context
def _num(ctx: Context, value: float | int | None, digits: int = 0) -> str:
    return format_number(value, ctx.get("lang", "es"), digits)


@pass_context
def _money(
    ctx: Context, value: float | int | None, currency: str | None = None, minor: bool = False
) -> str:
    """Money in the page's currency (``currency`` in the context, else CLP)."""
    return format_money(
        value, ctx.get("lang", "es"), currency or ctx.get("currency") or "CLP", minor=minor
    )


@pass_context
def _dt(ctx: Context, value: datetime | str | None, tz: str | None = None) -> str:
    """A time in ``tz`` (else the page's ``tz``), without the zone: pages name it once."""
    return format_dt(value, ctx.get("lang", "es"), tz or ctx.get("tz"), label=False)


@pass_context
def _dtz(ctx: Context, value: datetime | str | None, tz: str | None = None) -> str:
    """A time with its zone named: ``01-12-2026 09:00 (Santiago)``."""
    return format_dt(value, ctx.get("lang", "es"), tz or ctx.get("tz"), label=True)


@pass_context
def _code(ctx: Context, kind: str, value: object) -> Markup:
    """An internal code in words; an untranslated one is marked for the page test."""
    if value is None or value == "":
        return Markup("—")
    text = str(value)
    label = code_label(ctx.get("lang", "es"), kind, text)
    if label is None:
        return Markup('<span data-untranslated="{}">{}</span>').format(kind, text)
    return Markup(escape(label))


@pass_context
def _audit_details(ctx: Context, entry: Any) -> str:
    lang = ctx.get("lang", "es")
    parts = []
    for key, value in (entry.details or {}).items():
        if key in ("name", "username", "call_settings"):
            continue
        if key == "role":
            value = code_label(lang, "role", str(value)) or value
        elif key == "status":
            value = code_label(lang, "batch_status", str(value)) or value
        elif key == "start_at":
            value = format_dt(str(value), lang, ctx.get("tz"), label=True)
        elif key == "changed" and isinstance(value, list):
            value = ", ".join(translator(lang).get(f"field_{v}", str(v)) for v in value)
        parts.append(f"{translator(lang).get('detail_' + key, key)}: {value}")
    return "; ".join(parts)


def _instant(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@pass_context
def _waiting_sentence(ctx: Context, b: Any) -> str:
    """Why nothing is being dialed, in one sentence with a time when there is one: the
    time on the clock of the place that opens (``wait_tz``), the zone named when it is
    not the account's (``home_tz``)."""
    lang = ctx.get("lang", "es")
    t = translator(lang)
    get = b.get if isinstance(b, dict) else lambda k, d=None: getattr(b, k, d)
    tz = ctx.get("tz")
    home = ctx.get("home_tz") or tz
    now = clock.now()
    status, reason, until = get("status"), get("waiting_reason"), get("waiting_until")
    if status == "draft":
        return t["wait_draft"]
    if status != "active":
        return ""
    started = get("started_at")
    if started and (at := _instant(started)) > now:
        return t["wait_scheduled"].format(at=when_words(at, now, tz, lang, home_tz=home))
    if not reason:
        return ""
    label = t.get("wait_" + reason)
    if label is None:
        return str(code_label(lang, "waiting", reason) or reason).capitalize()
    if "{at}" not in label:
        return label
    if not until:
        return label.split(" — ")[0] + "."
    zone = ctx.get("wait_tz") or tz
    return label.format(at=when_words(_instant(until), now, zone, lang, home_tz=home))


def retry_sentence(
    lang: str, tz: str | None, wait: Any, now: datetime, *, home_tz: str | None = None
) -> str:
    """``6 contactos esperando reintento, el próximo hoy a las 17:05: 4 no contesta, 2
    ocupado.`` from a ``batch.service.RetryWait``; "" without one. The time is on the
    campaign's clock (``tz``), its zone named when it is not ``home_tz``."""
    if wait is None or not wait.jobs:
        return ""
    t = translator(lang)
    if wait.next_at <= now:
        when = t["retry_due_now"]
    else:
        when = when_words(wait.next_at, now, tz, lang, home_tz=home_tz or tz)
    why = ", ".join(
        f"{format_number(n, lang)} {code_label(lang, 'outcome', o) or o}"
        for o, n in wait.by_outcome.items()
    )
    key = "retry_wait_one" if wait.jobs == 1 else "retry_wait"
    return t[key].format(n=format_number(wait.jobs, lang), when=when, why=why)


@pass_context
def _when(ctx: Context, at: datetime | str | None) -> str:
    """``hoy a las 14:16`` on the page's clock (``tz``), its zone named when it is not
    the account's (``home_tz``); ``—`` without a time."""
    if at is None or at == "":
        return "—"
    tz = ctx.get("tz")
    return when_words(
        _instant(at), clock.now(), tz, ctx.get("lang", "es"), home_tz=ctx.get("home_tz") or tz
    )


@pass_context
def _retry_sentence(ctx: Context, wait: Any) -> str:
    tz = ctx.get("tz")
    return retry_sentence(
        ctx.get("lang", "es"), tz, wait, clock.now(), home_tz=ctx.get("home_tz") or tz
    )


@pass_context
def _date_only(ctx: Context, value: date | str | None) -> str:
    """A calendar day (no zone: a promise's date is the debtor's own day)."""
    return format_day(value, ctx.get("lang", "es"))


@pass_context
def _value(ctx: Context, value: object, key: str = "", currency: str | None = None) -> str:
    return format_value(key, value, ctx.get("lang", "es"), currency or ctx.get("currency") or "CLP")


@pass_context
def _region_name(ctx: Context, code: str | None) -> str:
    """A region code (``RM``) by its name; a code without one as it is (a place name)."""
    if not code:
        return "—"
    return code_label(ctx.get("lang", "es"), "region", code) or code


templates.env.filters["dt"] = _dt
templates.env.filters["dtz"] = _dtz
templates.env.filters["num"] = _num
templates.env.filters["money"] = _money
templates.env.filters["rut"] = format_rut
templates.env.filters["phone"] = format_phone
templates.env.filters["value"] = _value
templates.env.globals["phone_kind"] = phone_kind
templates.env.globals["place_in_words"] = place_in_words
templates.env.filters["wd"] = lambda day, lang: code_label(lang, "weekday", day) or day
templates.env.filters["date_only"] = _date_only
templates.env.globals["region_name"] = _region_name
templates.env.globals["code"] = _code
templates.env.globals["audit_details"] = _audit_details
templates.env.globals["zone_label"] = zone_label
templates.env.globals["waiting_sentence"] = _waiting_sentence
templates.env.globals["retry_sentence"] = _retry_sentence
templates.env.globals["when"] = _when
templates.env.globals["refusal_in_words"] = refusal_in_words
templates.env.filters["row_msg"] = pass_context(
    lambda ctx, entry: row_message(entry, ctx.get("lang", "es"))
)
templates.env.filters["ignored_msg"] = pass_context(
    lambda ctx, entry: ignored_reason(entry, ctx.get("lang", "es"))
)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> Response:
    """Render a template with the shared context (labels ``t``, ``lang``, operator)."""
    ctx = _context(request, context, principal)
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)


def render_text(request: Request, name: str, context: dict[str, Any] | None = None) -> str:
    """The same rendering as ``render``, as text (the body of a server-sent event)."""
    ctx = _context(request, context, None) | {"request": request}
    return templates.get_template(name).render(ctx)


def _context(
    request: Request, context: dict[str, Any] | None, principal: Principal | None
) -> dict[str, Any]:
    lang = request_lang(request)
    principal = principal or getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "user": principal,
        "account_id": current_account_id(request, principal) if principal else None,
        "path": request.url.path,
        "csrf": csrf_token_of(request),
        "tz": None,
    }
    ctx.update(context or {})
    ctx.setdefault("tz_label", "")
    if not ctx["tz_label"]:
        ctx["tz_label"] = f"({translator(lang)['times_in']} {zone_label(ctx['tz'])})"
    return ctx
