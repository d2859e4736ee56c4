"""A realistic Chilean collection spreadsheet, as operators send them: a merged title row,
a blank line, Spanish headers with accents, RUTs with dots, mobiles and Santiago
landlines written every which way, amounts with thousands dots, date cells, and (when
asked) a few deliberately bad rows. Used by the demo, the dashboard and the benchmarks.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import phonenumbers
import xlsxwriter  # type: ignore[import-untyped]
from stdnum.cl import rut as cl_rut

FIRST = (
    "María", "José", "Juan", "Camila", "Valentina", "Francisco", "Benjamín", "Isidora",
    "Matías", "Catalina", "Sofía", "Vicente", "Martina", "Tomás", "Agustín", "Josefa",
    "Florencia", "Diego", "Ignacio", "Fernanda", "Cristóbal", "Antonia", "Joaquín", "Javiera",
)  # fmt: skip
LAST = (
    "González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva", "Martínez",
    "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández", "Torres", "Araya",
    "Flores", "Espinoza", "Valenzuela", "Castillo", "Tapia", "Reyes", "Gutiérrez", "Castro",
)  # fmt: skip
COMPANIES = ("Retail Andes SpA", "Crédito Austral S.A.", "Telco Pacífico", "Caja Los Lagos")

HEADERS = (
    "RUT", "Nombre Completo", "Teléfono 1", "Teléfono 2", "Monto Deuda",
    "Fecha Vencimiento", "Empresa", "N° Cuota",
)  # fmt: skip
TITLE_ROWS = 2  # the merged title and a blank line above the header


def format_rut(number: int) -> str:
    """12345678 -> '12.345.678-5' (with its real check digit)."""
    dv = cl_rut.calc_check_digit(str(number))
    return f"{number:,}".replace(",", ".") + f"-{dv}"


def _mobile(rng: random.Random, used: set[str]) -> str:
    while True:
        national = "9" + f"{rng.randrange(10**8):08d}"
        if national in used:
            continue
        if phonenumbers.is_valid_number(phonenumbers.parse(national, "CL")):
            used.add(national)
            return national


def _landline(rng: random.Random, used: set[str]) -> str:
    while True:
        national = "22" + f"{rng.randrange(10**7):07d}"
        if national not in used:
            used.add(national)
            return national


def _spell(national: str, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return "+56 " + national[0] + " " + national[1:5] + " " + national[5:]
    if style == 1:
        return national
    if style == 2:
        return "56" + national
    return national[0] + "-" + national[1:5] + "-" + national[5:]


def write_sample_chile(
    path: Path | str, rows: int = 200, with_errors: bool = True, *, seed: int = 7
) -> Path:
    """Write an .xlsx with ``rows`` debtors; with_errors adds three bad rows and a blank one.

    Bad rows (1-based data positions): a RUT with a wrong check digit, a phone that is not
    a number, and an impossible due date (31/02). Returns the path.
    """
    path = Path(path)
    rng = random.Random(seed)
    used: set[str] = set()
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Cartera")
    title = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7"})
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    money = workbook.add_format({"num_format": '"$"#,##0'})
    sheet.merge_range(0, 0, 0, len(HEADERS) - 1, "Cartera Cobranza — Asignación", title)
    header_row = TITLE_ROWS
    sheet.write_row(header_row, 0, HEADERS, bold)
    bad = {5: "rut", 9: "phone", 14: "date"} if with_errors and rows >= 15 else {}
    base_due = date(2026, 3, 31)
    r = header_row + 1
    for i in range(1, rows + 1):
        if with_errors and i == 12:
            r += 1  # a blank line in the middle, as pasted lists often have
        number = 5_000_000 + i * 173 + rng.randrange(173)
        rut = format_rut(number)
        if bad.get(i) == "rut":
            dv = rut[-1]
            rut = rut[:-1] + ("0" if dv != "0" else "1")
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        phone1 = _spell(_mobile(rng, used), rng) if bad.get(i) != "phone" else "sin número"
        phone2 = ""
        if rng.random() < 0.3:
            phone2 = _spell(_landline(rng, used) if rng.random() < 0.5 else _mobile(rng, used), rng)
        amount = rng.randrange(20, 5000) * 1000 + rng.choice((0, 0, 0, 990))
        due = base_due + timedelta(days=rng.randrange(0, 60))
        sheet.write_string(r, 0, rut)
        sheet.write_string(r, 1, name)
        sheet.write_string(r, 2, phone1)
        if phone2:
            sheet.write_string(r, 3, phone2)
        sheet.write_number(r, 4, amount, money)
        if bad.get(i) == "date":
            sheet.write_string(r, 5, "31/02/2026")
        else:
            sheet.write_datetime(r, 5, datetime(due.year, due.month, due.day), day)
        sheet.write_string(r, 6, COMPANIES[i % len(COMPANIES)])
        sheet.write_number(r, 7, 1 + i % 12)
        r += 1
    workbook.close()
    return path


# ---------------------------------------------------------------- a real portfolio export

# The 45 columns of a Chilean collection agency's portfolio export: one row per
# instalment ("cuota"), several rows per debtor, the RUT as a number with the check
# digit run together, phones as text in mixed spellings, an always-empty "Fecha de pago".
EXPORT_HEADERS = (
    "Título", "Cuota", "NúmeroPedido", "FechaVencimientoOriginal", "FechaVencimiento",
    "ValorTítulo", "Saldo Principal", "Saldo Total", "Saldo actualizado", "Situación",
    "Días de retraso", "Fecha de pago", "Nombre", "Dirección", "Teléfono Residencial",
    "Teléfono móvil", "Correo electrónico personal", "Contestado", "Origen Empresa", "RUTS",
    "Sucursal", "Ejecutivo", "Producto", "Tipo Documento", "Estado Cartera", "Tramo Mora",
    "Región", "Comuna", "Ciudad", "Código Postal", "Fecha Asignación", "Fecha Emisión",
    "Interés", "Gastos Cobranza", "Honorarios", "Observación", "Gestor", "Campaña",
    "Segmento", "Canal Venta", "Código Cliente", "Número Contrato", "Último Pago",
    "Monto Último Pago", "Tasa",
)  # fmt: skip
assert len(EXPORT_HEADERS) == 45


def _mobile_spelling(national: str, style: int) -> str:
    """A mobile (9 + 8 digits) as such exports write it."""
    return (
        f"56{national}",  # the usual: country code, no +
        national,
        f" 56{national}",  # a leading space
        f"56{national}.0",  # a number pasted as text
        f"0{national[:1]} {national[1:5]} {national[5:]}",  # the trunk 0 of old files
        f"+56 {national[:1]} {national[1:5]} {national[5:]}",
    )[style % 6]


def write_real_export_chile(
    path: Path | str, debtors: int = 200, *, several_share: float = 0.1, seed: int = 11
) -> list[dict[str, object]]:
    """Write a 45-column export (.xlsx, one row per instalment) and return what each
    debtor must become: ``dni``, ``name``, ``amount``, ``cuotas``, ``due_min``,
    ``due_max``, ``days_late``, ``phones`` (E.164, first-seen order) and ``company``.

    ``several_share`` of the debtors have 2-5 instalments; most are on consecutive rows,
    every fifth such debtor has its last instalment at the end of the file. Mobiles are
    half in ranges libphonenumber lists, half in newer ones (9 69.., 9 70..); RUTs are
    number cells (``156789012.0``), or text (``12345678K``) when the digit is K.
    """
    path = Path(path)
    rng = random.Random(seed)
    used: set[str] = set()
    expected: list[dict[str, object]] = []
    rows: list[list[object]] = []
    tail: list[list[object]] = []
    base_due = date(2025, 10, 5)
    index = {h: i for i, h in enumerate(EXPORT_HEADERS)}
    for n in range(debtors):
        body = 6_000_000 + n * 311 + rng.randrange(311)
        dv = cl_rut.calc_check_digit(str(body))
        rut_cell: object = f"{body}K" if dv == "K" else float(f"{body}{dv}")
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        company = COMPANIES[n % len(COMPANIES)]
        if n % 2:
            mobile = _mobile(rng, used)
        else:
            mobile = f"9{rng.choice('67')}{'9' if rng.random() < 0.5 else '0'}{n:06d}"[:9]
        landline = _landline(rng, used) if rng.random() < 0.3 else None
        second_mobile = _mobile(rng, used) if rng.random() < 0.2 else None
        several = rng.random() < several_share
        count = rng.randrange(2, 6) if several else 1
        phones: list[str] = []
        total = 0
        dues: list[date] = []
        days_max = 0
        debtor_rows: list[list[object]] = []
        for k in range(count):
            due = base_due + timedelta(days=30 * k + rng.randrange(0, 20))
            days = (date(2026, 3, 1) - due).days
            amount = rng.randrange(15, 400) * 1000 + rng.randrange(1000)
            row: list[object] = [None] * len(EXPORT_HEADERS)
            row[index["Título"]] = 70_000_000 + n * 10 + k
            row[index["Cuota"]] = k + 1
            row[index["NúmeroPedido"]] = 900_000 + n
            row[index["FechaVencimientoOriginal"]] = datetime(due.year, due.month, due.day)
            row[index["FechaVencimiento"]] = datetime(due.year, due.month, due.day)
            row[index["ValorTítulo"]] = float(amount + 5000)
            row[index["Saldo Principal"]] = float(amount - 1000)
            row[index["Saldo Total"]] = float(amount + 1234)
            row[index["Saldo actualizado"]] = float(amount)
            row[index["Situación"]] = "Vencido"
            row[index["Días de retraso"]] = float(days)
            row[index["Nombre"]] = name
            row[index["Dirección"]] = f"Av. Los Leones {100 + n}, Providencia"
            row[index["Origen Empresa"]] = company
            row[index["RUTS"]] = rut_cell
            row[index["Contestado"]] = "No" if rng.random() < 0.3 else None
            row[index["Correo electrónico personal"]] = (
                f"deudor{n}@correo.cl" if rng.random() < 0.5 else None
            )
            row[index["Sucursal"]] = "Santiago Centro"
            row[index["Tramo Mora"]] = "90-180"
            row[index["Tasa"]] = 0.021
            # The mobile is missing on some later rows; a second mobile appears on one.
            row_phones: list[str] = []
            if k == 0 or rng.random() < 0.7:
                row[index["Teléfono móvil"]] = _mobile_spelling(mobile, rng.randrange(6))
                row_phones.append("+56" + mobile)
            if k == 1 and second_mobile:
                row[index["Teléfono móvil"]] = _mobile_spelling(second_mobile, rng.randrange(6))
                row_phones = ["+56" + second_mobile]
            if landline and (k == 0 or rng.random() < 0.5):
                row[index["Teléfono Residencial"]] = landline
                row_phones.append("+56" + landline)
            phones.extend(p for p in row_phones if p not in phones)
            total += amount
            dues.append(due)
            days_max = max(days_max, days)
            debtor_rows.append(row)
        if several and n % 5 == 0:
            tail.append(debtor_rows.pop())
        rows.extend(debtor_rows)
        expected.append(
            {
                "dni": f"{body}-{dv}", "name": name, "amount": total, "cuotas": count,
                "due_min": min(dues).isoformat(), "due_max": max(dues).isoformat(),
                "days_late": days_max, "phones": phones, "company": company,
            }
        )  # fmt: skip
    rows.extend(tail)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    # An empty first sheet, as some exports have: the data is on the second.
    workbook.add_worksheet("Resumen")
    sheet = workbook.add_worksheet("Detalle")
    day = workbook.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(0, 0, EXPORT_HEADERS)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, datetime):
                sheet.write_datetime(r, c, value, day)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    workbook.close()
    return expected
