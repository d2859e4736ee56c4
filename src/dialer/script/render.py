"""Script templates and the dynamic variables sent to the voice agent for one job. Pure.

Templates use ``{{variable}}`` placeholders, rendered by a sandboxed Jinja2 environment
with StrictUndefined: a template can read variables but never reach Python internals, and
a missing variable is an error rather than a silent blank in what the agent says.

Variables come from the job: ``nombre``, ``rut``/``dni``, ``monto`` (formatted for the
currency: CLP ``$1.234.567``, ARS ``$ 1.234.567,50``), ``fecha_limite`` and
``fecha_maxima`` (``dd/mm/yyyy``), ``empresa``/``company`` and every extra column.

The ``legacy`` variable set (chosen per batch or per script) adds the names the replaced
system's agents were written for, in its value formats: ``nombre``, ``RUT``, ``empresa``,
``monto_total`` (a plain number: ``1234567``, ``1234.5``), ``cantidad_cupones``,
``cuotas_adeudadas``, ``fecha_limite`` / ``fecha_maxima`` (ISO ``YYYY-MM-DD``),
``dias_vencidos``, ``tipo_llamada`` (``cobranza`` | ``marketing``) and the current time in
the batch's timezone as ``current_time_America/Santiago`` (also under its worker's
spelling ``current_time_America_Santiago``).

Templates come from tenants, so rendering is bounded (``BoundedEnvironment``): ``**`` with
an exponent above 64 or a result above 4,096 bits, ``*`` / ``+`` building a string or list
longer than 100,000 items, ``range()`` over more than 1,000 items, any call or filter given
an integer above 100,000 (``center``, ``ljust``, ``truncate`` widths), format widths of five
digits, more than 10,000 loop iterations in one render and output over 100,000 characters
are refused with ``TemplateError``. Macros, call blocks, imports, includes and
``namespace()`` (the ways to grow a value across iterations) are refused when the
template is parsed, so a saved template is checked before it is stored.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from dialer.kit import clock

MAX_EXPONENT = 64
MAX_INT_BITS = 4096
MAX_SEQUENCE = 100_000  # characters of a built string, items of a built list
MAX_RANGE = 1_000
MAX_INT_ARGUMENT = 100_000
MAX_ITERATIONS = 10_000
MAX_OUTPUT = 100_000
_WIDE_FORMAT = re.compile(r"(%[-#0 +]*\d{5,})|(\{[^{}]*:[^{}]*\d{5,}[^{}]*\})")
_REFUSED_TAGS = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Include: "includes",
    nodes.Extends: "extends",
}
_LOOP_GUARD = "__dialer_loop_guard__"
_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("template_budget")


class TemplateLimit(SecurityError):
    """A template that asks for more work or memory than a script may use."""


def _check_int(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT_ARGUMENT:
        raise TemplateLimit(f"number {value} is larger than {MAX_INT_ARGUMENT} allowed here")


def _check_format(value: Any) -> None:
    if isinstance(value, str) and _WIDE_FORMAT.search(value):
        raise TemplateLimit("format width over 9999 is not allowed")


def _check_arguments(args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    for value in (*args, *kwargs.values()):
        _check_int(value)
        _check_format(value)


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _bounded_range(*args: Any) -> range:
    for value in args:
        _check_int(value)
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise TemplateLimit(f"range() of {len(result)} items; at most {MAX_RANGE}")
    return result


def _loop_guard(iterable: Any) -> Iterator[Any]:
    budget = _budget.get(None)
    for item in iterable:
        if budget is not None:
            budget[0] -= 1
            if budget[0] < 0:
                raise TemplateLimit(f"more than {MAX_ITERATIONS} loop iterations")
        yield item


def _guard_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_arguments(args[1:], kwargs)
        if func.__name__ == "do_format" and args:
            _check_format(args[0])
        return func(*args, **kwargs)

    return guarded


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """A sandbox that also bounds the work and memory one render may take."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _guard_filter(f) for name, f in self.filters.items()}
        self.globals = {"range": _bounded_range, _LOOP_GUARD: _loop_guard}

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "**":
            if isinstance(right, int | float) and not isinstance(right, bool):
                if right > MAX_EXPONENT:
                    raise TemplateLimit(f"exponent {right} is larger than {MAX_EXPONENT}")
                if isinstance(left, int) and abs(left).bit_length() * max(right, 0) > MAX_INT_BITS:
                    raise TemplateLimit(f"{left} ** {right} is too large a number")
            return operator.pow(left, right)
        if op == "*":
            for seq, times in ((left, right), (right, left)):
                size = _sized(seq)
                if size is not None and isinstance(times, int) and size * times > MAX_SEQUENCE:
                    raise TemplateLimit(f"repetition builds more than {MAX_SEQUENCE} items")
            if isinstance(left, int) and isinstance(right, int):
                if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                    raise TemplateLimit("multiplication gives too large a number")
            return operator.mul(left, right)
        if op == "+":
            a, b = _sized(left), _sized(right)
            if a is not None and b is not None and a + b > MAX_SEQUENCE:
                raise TemplateLimit(f"concatenation builds more than {MAX_SEQUENCE} items")
            return operator.add(left, right)
        if op == "%":
            _check_format(left)
            return operator.mod(left, right)
        return super().call_binop(context, op, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _check_arguments(args, kwargs)
        if getattr(__obj, "__name__", "") in ("format", "format_map"):
            _check_format(getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None))
        return super().call(__context, __obj, *args, **kwargs)


_ENV = BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _parse(text: str) -> nodes.Template:
    """Parse and check a template: refused constructs raise TemplateError with the line."""
    try:
        ast = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", line=exc.lineno) from exc
    for kind, what in _REFUSED_TAGS.items():
        for node in ast.find_all(kind):
            raise TemplateError(f"{what} are not allowed in scripts", line=node.lineno)
    for call in ast.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "namespace":
            raise TemplateError("namespace() is not allowed in scripts", line=call.lineno)
    return ast


# Payload keys (as ingestion may store them) that feed each standard variable.
AMOUNT_KEYS = ("monto", "amount", "deuda", "saldo", "debt_amount")
COMPANY_KEYS = ("empresa", "company")
COLLECTOR_KEYS = ("empresa_cobranza", "agencia", "agencia_cobranza", "collector")
DATE_KEYS = ("fecha_limite", "fecha_maxima")
CURRENCY_BY_COUNTRY = {"CL": "CLP", "AR": "ARS"}
LEGACY_VARIABLES = (
    "nombre", "RUT", "empresa", "monto_total", "cantidad_cupones", "cuotas_adeudadas",
    "fecha_limite", "fecha_maxima", "dias_vencidos", "tipo_llamada",
    "current_time_America/Santiago", "current_time_America_Santiago",
)  # fmt: skip
# Payload keys that hold the number of instalments owed and the days past due.
INSTALMENT_KEYS = ("cantidad_cupones", "cuotas_adeudadas", "cuotas", "n_cuotas", "instalments")
DAYS_LATE_KEYS = (
    "dias_vencidos",
    "dias_retraso",
    "dias_mora",
    "dias_atraso",
    "overdue_days",
    "days_late",
)
# Variables the job itself provides (contact fields), whatever the payload holds.
CONTACT_VARIABLES = {"nombre": "contact_name", "rut": "dni", "dni": "dni"}


class TemplateError(ValueError):
    """A template that does not parse, with the line it fails on."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class MissingVariable(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"variable '{name}' has no value")
        self.name = name


class HasTemplate(Protocol):
    template: str
    first_message: str | None


def template_variables(*templates: str | None) -> list[str]:
    """The variables a template reads, sorted. Raises TemplateError on bad syntax."""
    names: set[str] = set()
    for text in templates:
        if not text:
            continue
        names |= meta.find_undeclared_variables(_parse(text))
    return sorted(names)


def render_text(text: str, variables: Mapping[str, Any]) -> str:
    """Render within the limits above; TemplateError names the limit a template crossed."""
    ast = _parse(text)
    for loop in ast.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_LOOP_GUARD, "load"), [loop.iter], [], None, None)
    values = {k: v for k, v in variables.items() if k != _LOOP_GUARD}
    token = _budget.set([MAX_ITERATIONS])
    try:
        out: list[str] = []
        size = 0
        for chunk in _ENV.from_string(ast).generate(values):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimit(f"output longer than {MAX_OUTPUT} characters")
            out.append(chunk)
        return "".join(out)
    except UndefinedError as exc:
        missing = re.search(r"'([^']+)' is undefined", str(exc.message))
        raise MissingVariable(missing.group(1) if missing else str(exc.message)) from exc
    except TemplateLimit as exc:
        raise TemplateError(f"template exceeds a limit: {exc}") from exc
    except SecurityError as exc:
        raise TemplateError(f"unsafe template: {exc}") from exc
    except TemplateSyntaxError as exc:
        raise TemplateError(exc.message or "syntax error", line=exc.lineno) from exc
    except (OverflowError, MemoryError, RecursionError) as exc:
        raise TemplateError(f"template exceeds a limit: {type(exc).__name__}") from exc
    finally:
        _budget.reset(token)


def check_limits(*templates: str | None) -> None:
    """Render each template once with every variable set to a sample value, so one that
    crosses a limit is refused when saved. Raises TemplateError only for limits."""
    for text in templates:
        if not text:
            continue
        sample = {name: "x" for name in template_variables(text)}
        try:
            render_text(text, sample)
        except TemplateError as exc:
            if "exceeds a limit" in str(exc) or "unsafe" in str(exc):
                raise
        except Exception:  # sample values may not fit the template's logic
            pass


def render_prompt(script: HasTemplate, variables: Mapping[str, Any]) -> str:
    """The script's prompt with ``variables`` filled in. Raises MissingVariable."""
    return render_text(script.template, variables)


def render_first_message(script: HasTemplate, variables: Mapping[str, Any]) -> str | None:
    return render_text(script.first_message, variables) if script.first_message else None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    text = re.sub(r"[^\d,.\-]", "", str(value))
    if not text:
        return None
    if "," in text and "." in text:
        # The later separator is the decimal one: 1.234,50 (es) or 1,234.50 (en).
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    elif "," in text:
        text = text.replace(",", ".") if len(text.rsplit(",", 1)[1]) != 3 else text.replace(",", "")
    elif text.count(".") > 1 or (len(text.rsplit(".", 1)[-1]) == 3 and "." in text):
        text = text.replace(".", "")  # thousands dots: 1.234.567
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _group(digits: str, sep: str) -> str:
    out = []
    while len(digits) > 3:
        out.append(digits[-3:])
        digits = digits[:-3]
    out.append(digits)
    return sep.join(reversed(out))


def format_amount(value: Any, currency: str = "CLP") -> str:
    """``$1.234.567`` for CLP (no cents); ``$ 1.234.567,50`` for ARS. Unparseable: as given."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if currency.upper() == "ARS":
        q = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        whole, cents = f"{q:.2f}".split(".")
        return f"{sign}$ {_group(whole, '.')},{cents}"
    whole = str(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    return f"{sign}${_group(whole, '.')}"


def format_date(value: Any) -> str:
    """``dd/mm/yyyy`` from a date, an ISO string, ``dd/mm/yyyy`` or an Excel serial."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value < 100000:
        return (date(1899, 12, 30) + timedelta(days=int(value))).strftime("%d/%m/%Y")
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]).strftime("%d/%m/%Y")
    except ValueError:
        pass
    m = re.match(r"^(\d{1,2})[/-](\d{1,2})[/-](\d{4})$", text)
    if m:
        return f"{int(m.group(1)):02d}/{int(m.group(2)):02d}/{m.group(3)}"
    return text


def variable_name(key: str) -> str:
    """A column name as a template variable: ``Número Cliente`` -> ``numero_cliente``."""
    ascii_key = unicodedata.normalize("NFKD", key).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-zA-Z0-9]+", "_", ascii_key).strip("_").lower()
    if name and name[0].isdigit():
        name = "col_" + name
    return name


def _first(payload: Mapping[str, Any], keys: Iterable[str]) -> Any:
    for k in keys:
        if payload.get(k) not in (None, ""):
            return payload[k]
    return None


def plain_number(value: Any) -> str:
    """An amount as the replaced system sent it: digits, a dot for decimals, no grouping."""
    amount = _decimal(value)
    if amount is None:
        return "" if value is None else str(value)
    text = format(amount.normalize(), "f")
    return text[:-2] if text.endswith(".0") else text


def iso_date(value: Any) -> str:
    """``YYYY-MM-DD`` from whatever ``format_date`` reads; unparseable values as given."""
    shown = format_date(value)
    m = re.match(r"^(\d{2})/(\d{2})/(\d{4})$", shown)
    return f"{m.group(3)}-{m.group(2)}-{m.group(1)}" if m else shown


def speech_time(now: datetime) -> str:
    """The replaced system's clock variable: ``Monday, March 02, 2026 at 12:00:00 PM -03``."""
    return now.strftime("%A, %B %d, %Y at %I:%M:%S %p ") + (now.tzname() or "UTC")


def legacy_variables(
    *,
    contact_name: str | None,
    dni: str | None,
    payload: Mapping[str, Any],
    processing_type: str,
    now: datetime,
) -> dict[str, str]:
    """The replaced system's variable names and value formats (``now`` in the batch's tz)."""
    out: dict[str, str] = {}
    if contact_name:
        out["nombre"] = contact_name
    if dni:
        out["RUT"] = dni
    company = _first(payload, COMPANY_KEYS)
    if company is not None:
        out["empresa"] = str(company)
    amount = _first(payload, AMOUNT_KEYS)
    if amount is not None:
        out["monto_total"] = plain_number(amount)
    instalments = _first(payload, INSTALMENT_KEYS)
    if instalments is not None:
        out["cantidad_cupones"] = out["cuotas_adeudadas"] = plain_number(instalments)
    for key in DATE_KEYS:
        if payload.get(key) not in (None, ""):
            out[key] = iso_date(payload[key])
    days = _first(payload, DAYS_LATE_KEYS)
    out["dias_vencidos"] = plain_number(days) if days is not None else "0"
    out["tipo_llamada"] = str(
        payload.get("tipo_llamada")
        or ("marketing" if processing_type == "acquisition" else "cobranza")
    )
    out["current_time_America/Santiago"] = out["current_time_America_Santiago"] = speech_time(now)
    return out


def job_variables(
    *,
    contact_name: str | None,
    dni: str | None,
    payload: Mapping[str, Any],
    template_vars: list[str] | None = None,
    country: str | None = None,
    variable_set: str = "standard",
    processing_type: str = "basic",
    now: datetime | None = None,
    collector: str | None = None,
) -> dict[str, str]:
    """A job's contact and payload as string variables for the agent.

    With ``template_vars`` (the pinned script's declared variables) every one of them is
    present: a value the job lacks becomes "" so the call still goes out; batch creation
    has already refused scripts whose variables the rows cannot fill. ``variable_set``
    ``legacy`` adds (and, for the dates, overrides with ISO values) the replaced system's
    names; ``now`` must then be the current time in the batch's timezone.
    """
    out: dict[str, str] = {}
    # Extra columns first, so the standard (formatted) variables win over raw values.
    for k, v in payload.items():
        if v is None or isinstance(v, dict | list):
            continue
        name = variable_name(str(k))
        if name:
            out[name] = str(v)
    if contact_name:
        out["nombre"] = contact_name
    if dni:
        out["rut"] = dni
        out["dni"] = dni
    currency = str(payload.get("currency") or payload.get("moneda") or "").upper() or (
        CURRENCY_BY_COUNTRY.get((country or "").upper(), "CLP")
    )
    out["moneda"] = currency
    amount = _first(payload, AMOUNT_KEYS)
    if amount is not None:
        out["monto"] = format_amount(amount, currency)
    for key in DATE_KEYS:
        if payload.get(key) not in (None, ""):
            out[key] = format_date(payload[key])
    company = _first(payload, COMPANY_KEYS)
    if company is not None:
        out["empresa"] = out["company"] = str(company)
    # Who is calling: the collecting company (the account), named apart from the
    # creditor (``empresa``); a row may name another agency.
    agency = _first(payload, COLLECTOR_KEYS)
    if agency is not None or collector:
        out["empresa_cobranza"] = str(agency if agency is not None else collector)
    if variable_set == "legacy":
        out.update(
            legacy_variables(
                contact_name=contact_name, dni=dni, payload=payload,
                processing_type=processing_type, now=now or clock.now(),
            )
        )  # fmt: skip
    for name in template_vars or ():
        out.setdefault(name, "")
    return out


def available_variables(
    payload_keys: Iterable[str], *, has_contact: bool = True, variable_set: str = "standard"
) -> set[str]:
    """The variable names jobs with these payload keys provide (for batch validation)."""
    keys = {str(k) for k in payload_keys}
    if variable_set == "legacy":
        # Always sent (empty when the row lacks the value), like the original's worker.
        return available_variables(keys, has_contact=has_contact) | set(LEGACY_VARIABLES)
    names = {variable_name(k) for k in keys} - {""}
    names.add("moneda")
    names.add("empresa_cobranza")  # the account's name when the row names no agency
    if has_contact:
        names |= set(CONTACT_VARIABLES)
    if "contact_name" in keys or "nombre" in keys:
        names.add("nombre")
    if keys & {"dni", "rut"}:
        names |= {"rut", "dni"}
    if keys & set(AMOUNT_KEYS):
        names.add("monto")
    if keys & set(COMPANY_KEYS):
        names |= {"empresa", "company"}
    return names
