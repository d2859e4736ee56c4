from __future__ import annotations

import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from dialer.models import DoNotCall
from tests.factories import new_account

__all__ = ["new_account"]  # the fixture (tests/factories.py)


@pytest.fixture
def add_dnc(database: Database) -> Callable[..., Awaitable[None]]:
    async def add(account_id: str, *phones: str) -> None:
        async with database.write() as s:
            for p in phones:
                s.add(DoNotCall(account_id=account_id, phone=p, source="test"))

    return add


def libreoffice_convert(src: Path, fmt: str, infilter: str | None = None) -> Path:
    """Convert with LibreOffice as an office user would; skip when it is not installed."""
    binary = shutil.which("libreoffice") or shutil.which("soffice")
    if binary is None:
        pytest.skip("libreoffice is not installed (scripts/test.sh installs it)")
    profile = src.parent / "lo-profile"
    cmd = [
        binary,
        f"-env:UserInstallation=file://{profile}",
        "--headless",
        "--convert-to",
        fmt,
        "--outdir",
        str(src.parent / "converted"),
        str(src),
    ]
    if infilter:
        cmd.insert(3, f"--infilter={infilter}")
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)
    out = src.parent / "converted" / (src.stem + "." + fmt.split(":")[0])
    assert out.exists(), f"libreoffice produced no {out}"
    return out


async def upload(
    client: httpx.AsyncClient,
    path: Path,
    account_id: str,
    *,
    action: str = "create",
    **fields: Any,
) -> httpx.Response:
    data = {"account_id": account_id, **{k: str(v) for k, v in fields.items()}}
    with path.open("rb") as f:
        return await client.post(
            f"/api/v1/batches/excel/{action}",
            data=data,
            files={"file": (path.name, f.read(), "application/octet-stream")},
        )
