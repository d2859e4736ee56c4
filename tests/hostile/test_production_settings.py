"""Production refuses unsafe settings, and secrets stay out of files and logs.

A user relies on: a production deployment cannot start with the public default secret
(or a short one) or with the simulated carrier silently on (anyone knowing the default
secret could forge its webhooks); the start-up error never prints the admin key; the
generated admin key file and the SQLite file are readable by their owner only from the
first byte; SQL parameters (contact data, key hashes) never reach the logs, even at
DEBUG; a text/plain body is not taken for JSON (a cross-site form can send text/plain
without a preflight).
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from dialer import logging as dlog
from dialer.account.auth import admin_key
from dialer.config import DEV_SECRET_KEY, Settings
from dialer.db.session import Database
from dialer.kit import clock
from dialer.main import create_app
from dialer.telephony.simulated import SIGNATURE_HEADER, sign

STRONG = "s" * 48
ADMIN = "dka_admin-key-that-must-never-be-printed-0001"


def _production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "ENV": "production",
        "SECRET_KEY": STRONG,
        "ADMIN_API_KEY": ADMIN,
        "PROVIDER": "retell",
        **overrides,
    }
    return Settings(**values)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": DEV_SECRET_KEY}, "must be set"),
        ({"SECRET_KEY": "x"}, "at least 32 characters"),
        ({"PROVIDER": "simulated"}, "DIALER_SIMULATED_ENABLED"),
    ],
)
def test_production_refuses_unsafe_settings_without_echoing_them(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        _production(**overrides)
    shown = str(err.value)
    assert message in shown
    assert ADMIN not in shown
    assert STRONG not in shown


def test_production_accepts_a_strong_secret_and_an_explicit_demo() -> None:
    assert not _production().simulated_enabled
    demo = _production(PROVIDER="simulated", SIMULATED_ENABLED=True)
    assert demo.simulated_enabled
    assert Settings(ENV="development").simulated_enabled


async def test_simulated_webhooks_are_off_in_production(db_url: str, tmp_path: Path) -> None:
    # Signed with the secret, as a forger knowing it would: the endpoint is not there.
    settings = _production(DATABASE_URL=db_url, DATA_DIR=tmp_path)
    app = create_app(settings)
    body = json.dumps({"call_id": "sim-1", "attempt_id": "att-1", "outcome": "completed"})
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            r = await c.post(
                "/api/v1/webhooks/simulated",
                content=body,
                headers={
                    "content-type": "application/json",
                    SIGNATURE_HEADER: sign(STRONG, body.encode(), clock.now()),
                },
            )
    assert r.status_code == 404, r.text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_admin_key_file_is_private(tmp_path: Path) -> None:
    settings = Settings(ENV="test", DATA_DIR=tmp_path / "data")
    key, generated = admin_key(settings)
    path = tmp_path / "data" / "admin_api_key"
    assert generated
    assert _mode(path) == 0o600
    assert path.read_text().strip() == key
    assert admin_key(settings) == (key, False)  # read back, never rewritten


async def test_sqlite_file_is_private_and_parameters_stay_out_of_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dlog.configure("DEBUG", json=True)
    try:
        caplog.set_level(logging.DEBUG)
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
        try:
            async with db.write() as s:
                await s.execute(text("CREATE TABLE t (v TEXT UNIQUE)"))
                await s.execute(text("INSERT INTO t VALUES (:v)"), {"v": "contact-secret-9"})
            with pytest.raises(IntegrityError) as err:
                async with db.write() as s:
                    await s.execute(text("INSERT INTO t VALUES (:v)"), {"v": "contact-secret-9"})
        finally:
            await db.dispose()
    finally:
        dlog.configure("WARNING", json=True)
    assert "contact-secret-9" not in caplog.text
    assert "contact-secret-9" not in str(err.value)  # nor in error messages
    for name in ("new.db", "new.db-wal", "new.db-shm"):
        path = tmp_path / name
        if path.exists():
            assert _mode(path) == 0o600, name
    assert (tmp_path / "new.db").exists()


async def test_text_plain_is_not_json(admin: httpx.AsyncClient) -> None:
    body = json.dumps({"account_name": "csrf", "country": "CL"})
    for headers in ({"content-type": "text/plain"}, {}):
        r = await admin.post("/api/v1/accounts", content=body, headers=headers)
        assert r.status_code in (415, 422), r.text
    accounts = (await admin.get("/api/v1/accounts")).json()
    assert all(a["account_name"] != "csrf" for a in accounts["items"])
