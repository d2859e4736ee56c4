"""Operational endpoints are not public in production, and expensive requests are
rate limited per API key (failed logins per client address).

A user relies on: in production /docs, /redoc, /openapi.json and /metrics answer 404
unless the operator exposes them; a key cannot run uploads, previews or new event
streams without limit; guessing keys at the dashboard login is slowed to a few tries
a minute, after which even a right key waits.
"""

from __future__ import annotations

import csv
from pathlib import Path

import httpx
import pytest

from dialer.config import Settings
from dialer.main import create_app
from tests.dashboard.helpers import login
from tests.factories import api_account, api_batch, as_key
from tests.ingestion.conftest import upload


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "UPLOAD_RATE_LIMIT": "2/minute",
            "PREVIEW_RATE_LIMIT": "2/minute",
            "STREAM_RATE_LIMIT": "2/minute",
            "LOGIN_FAILURE_RATE_LIMIT": "3/minute",
        }
    )


@pytest.mark.parametrize(
    ("env", "overrides", "expected"),
    [
        ("production", {}, 404),
        ("production", {"EXPOSE_DOCS": True, "EXPOSE_METRICS": True}, 200),
        ("test", {}, 200),
    ],
)
async def test_docs_and_metrics_exposure(
    settings: Settings, env: str, overrides: dict[str, bool], expected: int
) -> None:
    app = create_app(
        settings.model_copy(
            update={"ENV": env, "PROVIDER": "retell", "SECRET_KEY": "s" * 40, **overrides}
        )
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await c.get(path)).status_code == expected, (env, path)


def _csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter=";").writerows(
            [["Rut", "Telefono"], ["12.345.678-5", "+56987654321"]]
        )
    return path


async def test_uploads_previews_and_streams_are_limited_per_key(
    admin: httpx.AsyncClient, tmp_path: Path
) -> None:
    acc = await api_account(admin, account_id="acc-rl", initial_minutes=5)
    other = await api_account(admin, account_id="acc-rl2", initial_minutes=5)
    batch = await api_batch(admin, "acc-rl", jobs=1)
    script = await admin.post(
        "/api/v1/scripts", json={"account_id": "acc-rl", "name": "g", "template": "Hola"}
    )
    sheet = _csv(tmp_path / "c.csv")
    async with as_key(admin, acc["api_key"]) as c, as_key(admin, other["api_key"]) as c2:
        checks = {
            "upload": lambda cl, a: upload(cl, sheet, a, action="preview"),
            "script preview": lambda cl, a: cl.post(
                f"/api/v1/scripts/{script.json()['script_id']}/preview", json={"variables": {}}
            ),
            # A missing batch still counts: the limit is checked before the lookup.
            "stream": lambda cl, a: cl.get("/api/v1/batches/none/events"),
        }
        for name, call in checks.items():
            codes = [(await call(c, "acc-rl")).status_code for _ in range(3)]
            assert codes[2] == 429, (name, codes)
            assert 429 not in codes[:2], (name, codes)
        # Another key has its own allowance.
        assert (await upload(c2, sheet, "acc-rl2", action="preview")).status_code == 200
    assert batch["batch_id"]


async def test_failed_logins_are_limited_per_address(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        r = await login(client, "admin@example.com", "wrong-password")
        assert r.status_code == 401
    r = await login(client, "admin@example.com", "another-guess")
    assert r.status_code == 429  # whatever the password, until the window passes
