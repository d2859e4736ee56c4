"""Every dashboard page, in Spanish and in English, shows no internal code untranslated.

Two checks: no value the templates pass through ``code()`` lacks a translation (they
are marked ``data-untranslated``), and no internal code (statuses, outcomes, results,
reasons, ledger kinds, roles, audit actions, snake_case or dotted) appears as visible
text. The codes are taken from the enums themselves, so a new one fails here until
it is translated.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from dialer.audit.service import ACTIONS
from dialer.batch.settings import WEEKDAYS
from dialer.compliance.profiles import PROFILES
from dialer.dashboard.codes import CODES as LABELS
from dialer.job.states import AttemptStatus, BusinessResult, JobStatus, Outcome
from dialer.models import BatchStatus, EntryKind, Role
from dialer.worker.claim import ACCOUNT_SUSPENDED, INSUFFICIENT_BALANCE, OUTSIDE_WINDOW
from tests.dashboard.helpers import csrf_token, login
from tests.factories import add_account, add_batch, add_user

CODES = (
    {
        str(v)
        for enum in (
            BatchStatus,
            JobStatus,
            AttemptStatus,
            Outcome,
            BusinessResult,
            EntryKind,
            Role,
        )
        for v in enum
    }
    | set(ACTIONS)
    | {OUTSIDE_WINDOW, INSUFFICIENT_BALANCE, ACCOUNT_SUSPENDED}
    | set(PROFILES) - {"none"}
    | set(WEEKDAYS)
)
# A code whose Spanish word is the code itself ("supervisor") is not an untranslated one.
SAME_IN_SPANISH = {
    code for kind in LABELS["es"].values() for code, word in kind.items() if code == word
}
# In English some codes are plain words ("active", "busy"): only the unmistakable ones
# (snake_case, dotted) are searched for there; in Spanish every code is.
EN_CODES = {c for c in CODES if "_" in c or "." in c}


class _Text(HTMLParser):
    """Visible text only: not tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_words(html: str) -> set[str]:
    p = _Text()
    p.feed(html)
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_.]*[A-Za-z0-9]", " ".join(p.parts)))


@pytest.fixture
async def pages(app: Any, database: Any, admin: httpx.AsyncClient) -> dict[str, Any]:
    """An account with a draft, an active batch with a finished job, waiting and
    cancelled batches, users and audit entries; an admin user to see them all."""
    async with database.write() as s:
        account, _key = await add_account(s, id="acc-paginas")
        active, jobs = await add_batch(s, account, jobs=2, name="Activa")
        active.waiting_reason = OUTSIDE_WINDOW
        active.waiting_until = active.created_at + timedelta(hours=10)
        await add_user(s, account, "operator", username="operadora")
        home, _ = await add_account(s, account_name="Casa")
        boss = await add_user(s, home, "admin", username="jefa")
        job_id, active_id = jobs[0].id, active.id
    r = await admin.post(
        "/api/v1/batches",
        json={"account_id": "acc-paginas", "name": "Borrador", "status": "draft",
              "jobs": [{"contact_name": "Ana", "dni": "12345678-5", "phones": ["+56911112222"]}]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    draft_id = r.json()["batch_id"]
    cancelled = await admin.post(
        "/api/v1/batches",
        json={"account_id": "acc-paginas", "name": "Cancelada",
              "jobs": [{"contact_name": "Beto", "phones": ["+56933334444"]}]},
    )  # fmt: skip
    await admin.post(f"/api/v1/batches/{cancelled.json()['batch_id']}/cancel?reason=pagado")
    await admin.post(f"/api/v1/batches/{active_id}/pause")
    await admin.post(f"/api/v1/batches/{active_id}/resume")
    c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    assert (await login(c, boss.username)).status_code == 303
    token = await csrf_token(c, "/dashboard/accounts")
    await c.post("/dashboard/accounts", data={"account_id": "acc-paginas", "csrf_token": token})
    urls = [
        "/dashboard/",
        "/dashboard/batches",
        f"/dashboard/batches/{active_id}",
        f"/dashboard/batches/{draft_id}",
        f"/dashboard/batches/{cancelled.json()['batch_id']}",
        f"/dashboard/batches/{active_id}/outcomes",
        f"/dashboard/batches/{active_id}/live",
        f"/dashboard/batches/{active_id}/settings",
        f"/dashboard/batches/{draft_id}/settings",
        f"/dashboard/jobs/{job_id}",
        "/dashboard/upload",
        "/dashboard/account",
        "/dashboard/accounts",
        "/dashboard/users",
        "/dashboard/audit",
        "/dashboard/batches/batch-nope",  # the error page
    ]
    yield {"client": c, "urls": urls}
    await c.aclose()


@pytest.mark.parametrize("lang", ["es", "en"])
async def test_every_page_speaks_the_language_with_no_internal_code(pages, lang) -> None:
    c: httpx.AsyncClient = pages["client"]
    codes = CODES - SAME_IN_SPANISH if lang == "es" else EN_CODES
    for url in pages["urls"]:
        r = await c.get(url, params={"lang": lang})
        assert r.status_code in (200, 404), (url, r.status_code)
        assert f'lang="{lang}"' in r.text or url.endswith(("/outcomes", "/live")), url
        untranslated = re.findall(r'data-untranslated="([^"]+)">([^<]+)<', r.text)
        assert not untranslated, (lang, url, untranslated)
        raw = visible_words(r.text) & codes
        assert not raw, (lang, url, sorted(raw))


async def test_the_waiting_sentence_names_the_time_and_zone(pages) -> None:
    c: httpx.AsyncClient = pages["client"]
    page = await c.get(pages["urls"][2], params={"lang": "es"})
    m = re.search(r'id="waiting" data-reason="outside_window">([^<]+)<', page.text)
    assert m, page.text
    assert re.fullmatch(
        r"Fuera de horario — se reanuda (hoy|mañana|el \w+ \d+) a las \d\d:\d\d\.", m[1].strip()
    ), m[1]
