"""Server-side sessions: idle timeout, absolute lifetime, Secure cookies in production,
and the headers that keep the dashboard out of other sites' frames."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from dialer.main import create_app
from tests.dashboard.helpers import login
from tests.factories import add_account, add_user


async def _person(database: Any) -> str:
    async with database.write() as s:
        account, _ = await add_account(s)
        return (await add_user(s, account, "supervisor")).username


def _client(app: Any, base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def test_an_idle_session_ends_and_an_active_one_lives_until_its_lifetime(
    app, database, frozen_clock
):
    username = await _person(database)
    async with _client(app) as c:
        assert (await login(c, username)).status_code == 303
        # Used every 20 minutes: the 30-minute idle timeout never strikes...
        for _ in range(3):
            frozen_clock.advance(timedelta(minutes=20))
            assert (await c.get("/dashboard/batches")).status_code == 200
        # ...then 31 minutes without a request ends it.
        frozen_clock.advance(timedelta(minutes=31))
        r = await c.get("/dashboard/batches")
        assert r.status_code == 303
        assert r.headers["location"].startswith("/dashboard/login")

        assert (await login(c, username)).status_code == 303
        for _ in range(37):  # 12 h 20 min of steady use
            frozen_clock.advance(timedelta(minutes=20))
            last = await c.get("/dashboard/batches")
            if last.status_code != 200:
                break
        assert last.status_code == 303  # the absolute lifetime (12 h) is over


async def test_framing_and_sniffing_are_refused(client):
    r = await client.get("/dashboard/login")
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in r.headers  # plain http in development


async def test_production_forces_secure_cookies_and_hsts(settings, database):
    prod = settings.model_copy(update={"ENV": "production", "SECRET_KEY": SecretStr("s" * 48)})
    username = await _person(database)
    application = create_app(prod, database=database)
    # Behind the TLS proxy (browsers keep Secure cookies for https pages only).
    async with (
        application.router.lifespan_context(application),
        _client(application, "https://dialer.example.cl") as c,
    ):
        page = await c.get("/dashboard/login?lang=en")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        cookies = page.headers.get_list("set-cookie")
        assert cookies
        assert all("secure" in h.lower() for h in cookies), cookies  # login token and language
        r = await login(c, username)
        assert r.status_code == 303
        session_cookie = next(h for h in r.headers.get_list("set-cookie") if "dialer_session" in h)
        assert "secure" in session_cookie.lower()
