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
