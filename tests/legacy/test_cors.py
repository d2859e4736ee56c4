"""CORS by setting: ``DIALER_CORS_ORIGINS`` as a comma list or a JSON list; preflights
answered for the native API and /legacy; nothing for other origins or when empty."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.main import create_app
from tests.conftest import ADMIN_KEY

ORIGIN = "https://panel.cobranzas.cl"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.cl, https://b.cl/", ["https://a.cl", "https://b.cl"]),
        ('["https://a.cl","https://b.cl"]', ["https://a.cl", "https://b.cl"]),
        ("", []),
        ("https://solo.cl", ["https://solo.cl"]),
    ],
)
def test_environment_forms(monkeypatch: pytest.MonkeyPatch, raw: str, expected: list[str]) -> None:
    # Start-up must not crash on a plain comma list (pydantic-settings wants JSON).
    monkeypatch.setenv("DIALER_CORS_ORIGINS", raw)
    assert Settings().CORS_ORIGINS == expected


def test_bad_json_list_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIALER_CORS_ORIGINS", '["https://a.cl"')
    with pytest.raises(ValueError, match="CORS_ORIGINS is not a JSON list"):
        Settings()


async def _client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def cors(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(settings.model_copy(update={"CORS_ORIGINS": [ORIGIN]}), database):
        yield c


def _preflight(method: str, origin: str = ORIGIN) -> dict[str, Any]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_preflight_answered(cors: httpx.AsyncClient) -> None:
    for path in ("/api/v1/batches", "/legacy/api/v1/batches", "/legacy/api/v1/jobs/x/retry"):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            r = await cors.options(path, headers=_preflight(method))
            assert r.status_code == 200, (path, method)
            assert r.headers["access-control-allow-origin"] == ORIGIN
            assert method in r.headers["access-control-allow-methods"]
            allowed = r.headers["access-control-allow-headers"].lower()
            assert "authorization" in allowed
            assert "content-type" in allowed


async def test_actual_request_carries_the_header(cors: httpx.AsyncClient) -> None:
    r = await cors.get(
        "/api/v1/accounts", headers={"Origin": ORIGIN, "Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == ORIGIN
    other = await cors.options("/api/v1/batches", headers=_preflight("GET", "https://evil.example"))
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers


async def test_no_origins_no_cors(settings: Settings, database: Database) -> None:
    async for c in _client(settings, database):
        r = await c.options("/api/v1/batches", headers=_preflight("GET"))
        assert "access-control-allow-origin" not in r.headers
