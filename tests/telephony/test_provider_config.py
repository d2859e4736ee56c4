"""Per-account provider configuration: encrypted at rest, never echoed, tenant-scoped."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from dialer.config import Settings
from dialer.db.session import Database
from dialer.models import ProviderConfig
from dialer.telephony import config_service
from tests.factories import client_for, make_account, make_key

SECRET = "key_live_very_secret_0001"


@pytest.fixture
async def acme(app: Any, database: Database) -> httpx.AsyncClient:
    key = await make_key(database, await make_account(database, "acc-acme", minutes=0))
    async with client_for(app, key) as c:
        yield c  # type: ignore[misc]


URL = "/api/v1/accounts/acc-acme/providers"


async def test_credentials_are_encrypted_and_never_returned(
    acme: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    r = await acme.put(
        f"{URL}/retell",
        json={
            "credentials": {"api_key": SECRET},
            "options": {"agent_id": "agent_123", "from_number": "+56229145000"},
        },
    )
    assert r.status_code == 200, r.text
    assert SECRET not in r.text
    assert r.json()["credentials_set"] == ["api_key"]
    assert r.json()["configured"] is True
    assert r.json()["options"] == {"agent_id": "agent_123", "from_number": "+56229145000"}
    got = await acme.get(f"{URL}/retell")
    assert SECRET not in got.text
    assert got.json()["credentials_set"] == ["api_key"]

    async with database.read() as session:
        row = (await session.execute(select(ProviderConfig))).scalar_one()
        assert SECRET not in (row.credentials_encrypted or "")
        resolved = await config_service.resolve(session, "acc-acme", "retell", settings)
    assert resolved.credentials == {"api_key": SECRET}
    assert SECRET not in repr(resolved)


async def test_options_update_keeps_stored_secrets(
    acme: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    await acme.put(
        f"{URL}/twilio",
        json={"credentials": {"account_sid": "AC1", "auth_token": "tok"}, "options": {}},
    )
    r = await acme.put(f"{URL}/twilio", json={"options": {"stream_url": "wss://a/b"}})
    assert r.status_code == 200
    assert r.json()["credentials_set"] == ["account_sid", "auth_token"]
    async with database.read() as session:
        resolved = await config_service.resolve(session, "acc-acme", "twilio", settings)
    assert resolved.credentials == {"account_sid": "AC1", "auth_token": "tok"}
    assert resolved.options == {"stream_url": "wss://a/b"}


async def test_bad_input_names_the_field(acme: httpx.AsyncClient) -> None:
    r = await acme.put(f"{URL}/twilio", json={"credentials": {"account_sid": "AC1"}})
    assert r.status_code == 422
    assert r.json()["field"] == "credentials.auth_token"
    r = await acme.put(f"{URL}/retell", json={"credentials": {"api_kee": "x"}})
    assert r.status_code == 422
    assert r.json()["field"] == "credentials.api_kee"
    r = await acme.put(
        f"{URL}/retell", json={"credentials": {"api_key": "x"}, "options": {"voice": "y"}}
    )
    assert r.status_code == 422
    assert r.json()["field"] == "options.voice"
    assert (await acme.get(f"{URL}/vapi2")).status_code == 404


async def test_env_references_are_admin_only_and_resolved_at_use(
    acme: httpx.AsyncClient,
    admin: httpx.AsyncClient,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {"credentials": {"api_key_env": "RETELL_API_KEY_ACME"}}
    assert (await acme.put(f"{URL}/retell", json=body)).status_code == 403
    bad = {"credentials": {"api_key_env": "DIALER_SECRET_KEY"}}
    assert (await admin.put(f"{URL}/retell", json=bad)).status_code == 422
    r = await admin.put(f"{URL}/retell", json=body)
    assert r.status_code == 200
    assert r.json()["credentials_from_env"] == {"api_key": "RETELL_API_KEY_ACME"}
    async with database.read() as session:
        with pytest.raises(config_service.ProviderNotConfigured, match="RETELL_API_KEY_ACME"):
            await config_service.resolve(session, "acc-acme", "retell", settings)
        monkeypatch.setenv("RETELL_API_KEY_ACME", "from-env")
        resolved = await config_service.resolve(session, "acc-acme", "retell", settings)
    assert resolved.credentials == {"api_key": "from-env"}


async def test_other_accounts_config_is_404(app: Any, database: Database) -> None:
    await make_account(database, "acc-acme", minutes=0)
    other_key = await make_key(database, await make_account(database, "acc-other", minutes=0))
    async with client_for(app, other_key) as other:
        assert (await other.get(f"{URL}/retell")).status_code == 404
        r = await other.put(f"{URL}/retell", json={"credentials": {"api_key": "x"}})
        assert r.status_code == 404


async def test_a_changed_secret_key_cannot_decrypt(settings: Settings) -> None:
    token = config_service.encrypt(settings, {"api_key": "x"})
    rotated = settings.model_copy(update={"SECRET_KEY": SecretStr("another")})
    with pytest.raises(config_service.ProviderNotConfigured):
        config_service.decrypt(rotated, token)
