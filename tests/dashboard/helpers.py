"""A cookie-keeping HTTP client that logs in and posts forms the way the browser does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dialer.db.session import Database
from tests.factories import TEST_PASSWORD, add_account, add_user

_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


async def login(
    c: httpx.AsyncClient, login: str, password: str = TEST_PASSWORD, next: str = "/dashboard/"
) -> httpx.Response:
    """GET the form (its double-submit token), then POST it."""
    page = await c.get("/dashboard/login")
    match = _FORM_TOKEN.search(page.text)
    assert match, page.text
    return await c.post(
        "/dashboard/login",
        data={"login": login, "password": password, "next": next, "csrf_token": match[1]},
    )


async def csrf_token(c: httpx.AsyncClient, page: str = "/dashboard/batches") -> str:
    """The session's CSRF token, as the page carries it."""
    r = await c.get(page)
    match = _META_TOKEN.search(r.text)
    assert match, (r.status_code, r.text[:500])
    return match[1]


async def hx_post(c: httpx.AsyncClient, url: str, token: str, **kwargs: Any) -> httpx.Response:
    """An htmx POST: the token in X-CSRF-Token, as <body hx-headers> sends it."""
    headers = {"HX-Request": "true", "X-CSRF-Token": token, **kwargs.pop("headers", {})}
    return await c.post(url, headers=headers, **kwargs)


@pytest.fixture
async def admin_browser(app: Any, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client logged in to the dashboard as an admin user of a new account."""
    async with database.write() as s:
        home, _key = await add_account(s)
        admin = await add_user(s, home, "admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await login(c, admin.username)
        assert r.status_code == 303, r.text
        yield c
