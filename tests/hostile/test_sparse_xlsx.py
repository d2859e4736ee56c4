"""A 1.6 KB workbook must not make the server allocate a 100 GB grid.

A user relies on: a sheet whose cells sit at A1-C2 plus one far away (XFD200000) is
refused with a 413 that names the stray cell, the server keeps serving, and even a file
that slipped past the extent check is read by the streaming reader without the grid,
and any read that still outgrows its budget runs in a memory-limited child process, so
the worst it can do is a 413 of its own.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from dialer.account.auth import Principal
from dialer.db.session import Database
from dialer.ingestion import service
from dialer.ingestion.schemas import ImportOptions
from dialer.kit import child
from tests.factories import NewAccount
from tests.ingestion.conftest import upload

_CT = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="xml" ContentType="application/xml"/>'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WB = (
    '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
    '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Hoja1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WB_RELS = (
    '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def sparse_xlsx(path: Path, *, dimension: str = "A1:C2", far: str | None = "XFD200000") -> Path:
    """Header and one row at A1-C2; ``far`` is one more cell, hidden inside row 2 (so
    only its reference tells where it is); the ``<dimension>`` may lie."""
    row2 = _cell("A2", "12.345.678-5") + _cell("B2", "Ana") + _cell("C2", "+56987654321")
    if far:
        row2 += _cell(far, "x")
    sheet = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><dimension ref="{dimension}"/><sheetData>'
        f'<row r="1">{_cell("A1", "Rut")}{_cell("B1", "Nombre")}{_cell("C1", "Telefono")}'
        f'</row><row r="2">{row2}</row></sheetData></worksheet>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WB)
        z.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


async def _upload_refused(client: Any, path: Path, acc: str) -> str:
    for action in ("preview", "create"):
        r = await upload(client, path, acc, action=action)
        assert r.status_code == 413, (action, r.status_code, r.text[:300])
        assert r.json()["field"] == "file"
    assert (await client.get("/api/v1/batches")).json()["total"] == 0
    return str(r.json()["detail"])


async def test_sparse_cell_reference_is_refused_naming_the_cell(
    new_account: NewAccount, tmp_path: Path
) -> None:
    acc, client = await new_account()
    path = sparse_xlsx(tmp_path / "cartera.xlsx")
    assert path.stat().st_size < 2048  # the attack is a tiny file
    detail = await _upload_refused(client, path, acc)
    assert "XFD200000" in detail
    # The server is still up and the same account can import a sane file at once.
    assert (await client.get("/health")).status_code == 200
    ok = sparse_xlsx(tmp_path / "ok.xlsx", far=None)
    r = await upload(client, ok, acc, action="create")
    assert r.status_code == 201, r.text


async def test_a_lying_dimension_is_refused(new_account: NewAccount, tmp_path: Path) -> None:
    acc, client = await new_account()
    path = sparse_xlsx(tmp_path / "cartera.xlsx", dimension="A1:XFD200000", far=None)
    assert "A1:XFD200000" in await _upload_refused(client, path, acc)


async def test_a_far_column_within_the_row_limit_is_refused(
    new_account: NewAccount, tmp_path: Path
) -> None:
    # 16,384 columns x 2,000 rows = 32.8 M cells: fewer rows than the limit, still a
    # grid of a gigabyte.
    acc, client = await new_account()
    path = sparse_xlsx(tmp_path / "cartera.xlsx", far="XFD2000")
    assert "XFD2000" in await _upload_refused(client, path, acc)


async def test_a_file_past_the_check_is_read_without_its_grid(
    database: Database, new_account: NewAccount, tmp_path: Path
) -> None:
    # The service without the endpoint's extent check: the streaming reader never builds
    # the 100 GB grid the stray cell implies (a whole-sheet reader asked for it): the
    # row is read and the stray cell, in a column without a header, is not.
    acc, client = await new_account()
    path = sparse_xlsx(tmp_path / "cartera.xlsx")
    async with database.write() as session:
        report = await service.preview_import(
            session, Principal(is_admin=True), ImportOptions(account_id=acc), path
        )
    assert report.counts.accepted == 1
    assert (await client.get("/health")).status_code == 200


def _allocate(n: int) -> int:
    return len(bytearray(n))


async def test_the_child_memory_limit_is_enforced() -> None:
    # 4 GB asked for with a 256 MB budget: refused in the child (without the limit the
    # kernel would hand the untouched pages out); a small request still works.
    with pytest.raises(child.ChildFailed) as err:
        await child.run(_allocate, 4 << 30, budget_bytes=256 << 20)
    assert err.value.out_of_memory
    assert await child.run(_allocate, 1 << 20, budget_bytes=256 << 20) == 1 << 20
