"""Header detection: which row holds the headers and which column is which field.

Headers are matched case- and accent-insensitively against Spanish and English synonyms
(``Rut Deudor``, ``Teléfono 2``, ``Monto Adeudado``...). Several phone columns become the
ordered ``phones`` list, in column order. Title rows above the header (often merged cells:
"Cartera Cobranza Marzo") are skipped by scoring the first rows. An explicit mapping
``{"<header in the file>": "<field>"}`` overrides detection for the columns it names.
Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Canonical fields a column can map to. "phone" may repeat; the others may not.
FIELDS = (
    "dni",
    "dv",
    "name",
    "first_name",
    "last_name",
    "phone",
    "email",
    "amount",
    "currency",
    "fecha_vencimiento",
    "dias_retraso",
    "cuota",
    "fecha_limite",
    "fecha_maxima",
    "company",
    # Where the debtor is (compliance.place reads them: zone, region, holidays).
    "comuna",
    "ciudad",
    "region",
    "zona_horaria",
    "ignore",
)
# Place fields: read for the debtor's place and, like unknown columns, kept in the payload
# under the column's own key (scripts may name them: {comuna}, {provincia}).
PLACE_FIELDS = frozenset({"comuna", "ciudad", "region", "zona_horaria"})

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "dni": (
        "rut", "ruts", "run", "rut del cliente", "rut completo", "rut deudor", "rut cliente", "rut titular", "rut afiliado", "rut dv",
        "rut con dv", "dni", "cuit", "cuil", "cuit cuil", "dni cuit", "documento",
        "nro documento", "numero documento", "numero de documento", "n documento",
        "documento identidad", "identificacion", "cedula", "id cliente", "national id",
        "document", "document number", "tax id",
    ),
    "dv": ("dv", "digito verificador", "digito", "dig verificador"),
    "name": (
        "nombre", "nombre completo", "nombre cliente", "nombre deudor", "nombre titular",
        "cliente", "deudor", "titular", "razon social", "contacto", "nombre contacto",
        "apellido y nombre", "apellidos y nombres", "nombre y apellido", "nombres y apellidos",
        "nombre apellido", "apellido nombre", "nombre del cliente", "nombre del deudor",
        "name", "full name", "customer", "customer name", "contact", "contact name",
        "debtor", "debtor name",
    ),
    "first_name": ("nombres", "primer nombre", "first name", "given name"),
    "last_name": (
        "apellido", "apellidos", "apellido paterno", "apellido materno", "last name",
        "surname", "family name",
    ),
    "phone": (
        "telefono", "fono", "celular", "movil", "telefono celular", "telefono movil",
        "telefono fijo", "fono celular", "fono fijo", "fono contacto", "telefono contacto",
        "numero telefono", "numero de telefono", "nro telefono", "tel", "cel", "whatsapp",
        "phone", "phone number", "mobile", "mobile phone", "cell", "cellphone", "telephone",
        "contact phone", "numero celular", "telefono residencial", "telefono particular",
        "telefono casa", "telefono trabajo", "telefono laboral", "telefono oficina", "fijo",
        "fono residencial", "fono particular", "fono casa", "fono trabajo", "celular 1",
        "telefono personal", "landline", "home phone", "work phone",
        # The replaced system's CSV upload columns.
        "telefonos", "phones",
    ),
    "email": (
        "email", "e mail", "correo", "correo electronico", "mail", "email address",
        "correo electronico personal", "correo personal", "email personal",
    ),
    "amount": (
        "saldo actualizado", "monto", "deuda", "saldo", "saldo total", "deuda actualizada",
        "monto actualizado", "saldo principal", "monto deuda", "monto adeudado", "monto total",
        "deuda total", "saldo deuda", "saldo insoluto", "saldo pendiente", "monto mora",
        "monto vencido", "total deuda", "importe", "importe adeudado", "valor", "valor deuda",
        "amount", "debt", "debt amount", "balance", "amount due", "outstanding",
    ),
    "currency": ("moneda", "divisa", "currency"),
    "fecha_vencimiento": (
        "fecha vencimiento", "fecha de vencimiento", "vencimiento", "fecha venc",
        "f vencimiento", "f venc", "fecha vto", "vto", "vencimiento cuota",
        "fecha vencimiento cuota", "fecha_vencimiento", "due date", "due",
        # Last: often an always-empty column in exports (demoted when empty).
        "fecha pago", "fecha de pago", "payment date",
    ),
    "dias_retraso": (
        "dias de retraso", "dias retraso", "dias atraso", "dias de atraso", "dias mora",
        "dias de mora", "dias vencido", "dias vencidos", "mora dias", "dias_retraso",
        "days late", "days overdue", "days past due",
    ),
    "cuota": (
        "cuota", "n cuota", "nro cuota", "numero cuota", "numero de cuota", "num cuota",
        "cuota n", "cupon", "instalment", "installment", "installment number",
    ),
    "fecha_limite": (
        "fecha limite", "fecha limite pago", "fecha limite de pago", "fecha_limite",
    ),
    "fecha_maxima": (
        "fecha maxima", "fecha maxima pago", "fecha maxima de pago", "fecha tope",
        "fecha tope pago", "fecha_maxima", "max date", "deadline", "last payment date",
    ),
    "comuna": (
        "comuna", "comuna deudor", "comuna cliente", "comuna del deudor", "comuna del cliente",
        "comuna particular", "comuna domicilio", "comuna residencia", "comuna titular",
        "municipio", "municipality", "commune",
    ),
    # Argentina's "localidad" (town) and "partido" (a Buenos Aires county) play the part
    # of Chile's comuna for the place: both name a town that belongs to one province.
    "ciudad": (
        "ciudad", "ciudad deudor", "ciudad cliente", "ciudad domicilio", "localidad",
        "localidad deudor", "localidad cliente", "localidad domicilio", "partido", "city",
        "town",
    ),
    "region": (
        "region", "region deudor", "region cliente", "region domicilio", "nombre region",
        "provincia", "provincia deudor", "provincia cliente", "provincia domicilio",
        "state", "province",
    ),
    "zona_horaria": (
        "zona horaria", "huso horario", "timezone", "time zone", "zona_horaria",
    ),
    "company": (
        "origen empresa", "empresa origen", "empresa", "compania", "acreedor", "institucion", "cartera", "comercio", "company",
        "creditor", "client company",
    ),
}  # fmt: skip

_WORDS = re.compile(r"[^a-z0-9]+")
# "Fono 2", "Teléfono_3", "phone#1", "Celular N° 2": a phone column with its order.
_NUMBER_SUFFIX = re.compile(r"(?:\s+(?:n|nro|no|num|numero))?\s*\d+$")


_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def normalize_header(text: object) -> str:
    """'Teléfono N° 1 ' -> 'telefono n 1', 'FechaVencimiento' -> 'fecha vencimiento':
    lower case, no accents, words only (camelCase split into words)."""
    raw = "" if text is None else str(text)
    decomposed = unicodedata.normalize("NFKD", raw)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORDS.sub(" ", _CAMEL.sub(" ", ascii_text).lower()).strip()


_LOOKUP: dict[str, str] = {}
# How good a synonym is for its field (0 best): when two columns could be the same
# field, the better synonym wins ("Saldo actualizado" over "Saldo Total").
_RANK: dict[str, int] = {}
for _field_name, _syns in _SYNONYMS.items():
    for _rank, _syn in enumerate(_syns):
        _LOOKUP.setdefault(normalize_header(_syn), _field_name)
        _RANK.setdefault(normalize_header(_syn), _rank)
for _f in FIELDS:
    _LOOKUP.setdefault(_f, _f)
# Words that make a phone column a landline: landlines are dialed after mobiles.
_LANDLINE_WORDS = frozenset(
    "residencial fijo fija casa particular trabajo laboral oficina comercial landline home "
    "work office".split()
)


def field_for(header: object) -> str | None:
    """The canonical field of a header, or None when it is not a known column."""
    key = normalize_header(header)
    if not key:
        return None
    if key in _LOOKUP:
        return _LOOKUP[key]
    stripped = _NUMBER_SUFFIX.sub("", key).strip()
    if stripped != key and _LOOKUP.get(stripped) == "phone":
        return "phone"
    # "fono1", "telefono2": the number glued to the word.
    glued = key.rstrip("0123456789").strip()
    if glued != key and _LOOKUP.get(glued) == "phone":
        return "phone"
    return None


def extra_key(header: str) -> str:
    """Payload key for a column we do not know: 'N° Cuota' -> 'n_cuota'."""
    return normalize_header(header).replace(" ", "_") or "column"


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    field: str | None  # None: kept in the payload under ``key``
    key: str
    landline: bool = False  # a phone column named as a landline (dialed after mobiles)


@dataclass(frozen=True)
class Ignored:
    """A column of the header the import does not read, and why."""

    index: int
    header: str
    reason: str  # English
    code: str = "ignored"  # the reason's stable code (docs/ingestion.md)
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HeaderMapping:
    """Where the header is and what each column means."""

    header_row: int  # 0-based index among the rows read
    columns: tuple[Column, ...]
    phone_columns: tuple[int, ...] = field(default=())  # dialing order: mobiles, landlines
    ignored: tuple[Ignored, ...] = field(default=())

    def as_dict(self) -> list[dict[str, object]]:
        return [
            {
                "column": c.index + 1,
                "header": c.header,
                "field": c.field or "extra",
                "key": c.key,
                "landline": c.landline,
            }
            for c in self.columns
        ]

    def ignored_dict(self) -> list[dict[str, object]]:
        return [
            {
                "column": i.index + 1,
                "header": i.header,
                "reason": i.reason,
                "code": i.code,
                "params": dict(i.params),
            }
            for i in self.ignored
        ]


class HeaderError(ValueError):
    """The header row could not be found or the mapping is inconsistent."""


def resolve_field(name: object) -> str:
    """A field name given in an explicit mapping (canonical or any synonym)."""
    if name is None or (isinstance(name, str) and not name.strip()):
        return "ignore"
    resolved = field_for(name)
    if resolved is None:
        raise HeaderError(
            f"unknown field '{name}' in column_mapping (use one of: {', '.join(FIELDS)})"
        )
    return resolved


def _score(cells: Sequence[object], explicit: Mapping[str, str | None]) -> tuple[int, bool]:
    seen: set[str] = set()
    has_phone = False
    for cell in cells:
        key = normalize_header(cell)
        f = explicit.get(key) or field_for(cell)
        if f and f != "ignore":
            seen.add(f)
            has_phone = has_phone or f == "phone"
    return len(seen), has_phone


def detect(
    rows: Sequence[Sequence[object]], explicit: Mapping[str, str | None] | None = None
) -> HeaderMapping:
    """Find the header among the first ``rows`` and map its columns.

    ``explicit`` maps file headers to fields; it wins over synonyms for those columns.
    Raises HeaderError naming what is missing when no usable header is found.
    """
    norm_explicit = {normalize_header(k): resolve_field(v) for k, v in (explicit or {}).items()}
    best: tuple[int, int] | None = None  # (score, row index)
    for i, cells in enumerate(rows):
        score, has_phone = _score(cells, norm_explicit)
        # A real header names a phone and at least one other field; title rows do not.
        if has_phone and score >= 2:
            best = (score, i)
            break
        if has_phone and (best is None or score > best[0]):
            best = (score, i)
    if best is None:
        raise HeaderError(
            "no header row with a phone column found in the first "
            f"{len(rows)} rows (expected headers such as RUT, Nombre, Teléfono, Monto)"
        )
    header_idx = best[1]
    header_cells = rows[header_idx]
    missing = set(norm_explicit) - {normalize_header(c) for c in header_cells}
    if missing:
        raise HeaderError(
            "column_mapping names columns that are not in the header: " + ", ".join(sorted(missing))
        )
    sample = rows[header_idx + 1 :]

    def empty_in_sample(idx: int) -> bool:
        # Only a judgement when there are data rows to judge by.
        return bool(sample) and all(
            idx >= len(r) or r[idx] is None or not str(r[idx]).strip() for r in sample
        )

    # First pass: what each column could be.
    candidates: list[tuple[int, str, str, str | None, int, bool]] = []
    ignored: list[Ignored] = []
    for idx, cell in enumerate(header_cells):
        header = "" if cell is None else str(cell).strip()
        if not header:
            continue
        key = normalize_header(header)
        explicit_field = norm_explicit.get(key)
        f = explicit_field or field_for(header)
        if f == "ignore":
            ignored.append(Ignored(idx, header, "column_mapping says ignore", "ignored_by_mapping"))
            continue
        rank = -1 if explicit_field else _RANK.get(key, len(_RANK))
        candidates.append((idx, header, key, f, rank, explicit_field is not None))
    # A field that may appear once goes to its best column: one with data in the first
    # rows before an empty one ("Fecha de pago" is empty in every row of some exports),
    # then the better synonym, then the leftmost. The others are kept as extra columns.
    chosen: dict[str, int] = {}
    for f in {c[3] for c in candidates if c[3] and c[3] not in ("phone", "last_name")}:
        options = [c for c in candidates if c[3] == f]
        best_col = min(options, key=lambda c: (not c[5] and empty_in_sample(c[0]), c[4], c[0]))
        if not best_col[5] and empty_in_sample(best_col[0]) and len(options) == 1:
            ignored.append(
                Ignored(
                    best_col[0],
                    best_col[1],
                    f"empty in the first rows; not read as {f}",
                    "empty_not_read",
                    (("field", f),),
                )
            )
            continue
        chosen[f] = best_col[0]
        for c in options:
            if c is not best_col:
                empty = empty_in_sample(c[0])
                why = "empty in the first rows" if empty else "another column"
                ignored.append(
                    Ignored(
                        c[0],
                        c[1],
                        f"{f} read from '{best_col[1]}' ({why}); kept as extra",
                        "kept_as_extra",
                        (
                            ("field", f),
                            ("read_from", best_col[1]),
                            ("because", "empty" if empty else "another_column"),
                        ),
                    )
                )
    columns: list[Column] = []
    used_keys: set[str] = set()
    for idx, header, key, f, _, _ in candidates:
        if f is not None and f not in ("phone", "last_name") and chosen.get(f) != idx:
            f = None
        ekey = extra_key(header)
        while ekey in used_keys:
            ekey += "_2"
        used_keys.add(ekey)
        landline = f == "phone" and bool(_LANDLINE_WORDS & set(key.split()))
        columns.append(Column(index=idx, header=header, field=f, key=ekey, landline=landline))
    phones = tuple(
        c.index
        for c in sorted((c for c in columns if c.field == "phone"), key=lambda c: c.landline)
    )
    return HeaderMapping(
        header_row=header_idx,
        columns=tuple(columns),
        phone_columns=phones,
        ignored=tuple(sorted(ignored, key=lambda i: i.index)),
    )
