"""Tenant-written script templates cannot stall or exhaust the server (issue 19 item 7).

Each attack (nested loops, a huge ``**``, huge ``*`` repetition, a huge ``range``, wide
filters and formats, macros) is refused with a 422 naming the limit, both when the
template is saved and when a saved template is previewed with crafted values, and
``/health`` answers while the preview runs. The shipped default scripts render exactly
as they did before the limits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from dialer.db.session import Database
from dialer.script.defaults import DEFAULTS
from dialer.script.render import render_text, template_variables
from tests.factories import client_for, make_account, make_key

NESTED = (
    "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}"
)
SAVE_ATTACKS = {
    "nested loops": (NESTED, "loop iterations"),
    "huge power": ("{{ 10 ** 100000000 }}", "exponent"),
    "huge repetition": ("{{ 'a' * 1000000000 }}", "repetition"),
    "huge range": ("{{ range(100000000)|list|length }}", "larger than"),
    "wide filter": ("{{ 'a'|center(1000000000) }}", "larger than"),
    "wide format": ("{{ '%0100000000d' % 1 }}", "format width"),
    "macro": ("{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('a') }}", "macros"),
}
# Saved fine (the sample values are small); the preview's values make them explode.
PREVIEW_ATTACKS = {
    "nested loops": (
        "{% for a in nombre %}{% for b in nombre %}{% for c in nombre %}{% endfor %}"
        "{% endfor %}{% endfor %}",
        {"nombre": "x" * 1000},
        "loop iterations",
    ),
    "huge power": ("{{ 10 ** (n|int) }}", {"n": "100000000"}, "exponent"),
    "huge repetition": ("{{ nombre * (n|int) }}", {"nombre": "ab", "n": "900000000"}, "repetition"),
    "huge range": ("{{ range(n|int)|join }}", {"n": "100000000"}, "larger than"),
}


@pytest.fixture
async def tenant(app: Any, database: Database) -> httpx.AsyncClient:
    key = await make_key(database, await make_account(database, "acc-templates", minutes=0))
    async with client_for(app, key) as c:
        yield c  # type: ignore[misc]


@pytest.mark.parametrize("attack", sorted(SAVE_ATTACKS))
async def test_saving_an_unbounded_template_is_a_422(
    tenant: httpx.AsyncClient, attack: str
) -> None:
    template, named = SAVE_ATTACKS[attack]
    r = await tenant.post("/api/v1/scripts", json={"name": "ataque", "template": template})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "template"
    # Refused by the named limit: the template was checked, never rendered in full.
    assert named in r.json()["detail"], r.text
    assert (await tenant.get("/api/v1/scripts")).json()["total"] == 0


@pytest.mark.parametrize("attack", sorted(PREVIEW_ATTACKS))
async def test_preview_with_crafted_values_is_a_422_while_health_answers(
    tenant: httpx.AsyncClient, attack: str
) -> None:
    template, values, named = PREVIEW_ATTACKS[attack]
    r = await tenant.post("/api/v1/scripts", json={"name": "vista", "template": template})
    assert r.status_code == 201, r.text
    preview, health = await asyncio.gather(
        tenant.post(f"/api/v1/scripts/{r.json()['script_id']}/preview", json={"variables": values}),
        tenant.get("/health"),
    )
    assert health.status_code == 200
    assert preview.status_code == 422, preview.text
    assert named in preview.json()["detail"], preview.text


@pytest.mark.parametrize("default", sorted(DEFAULTS))
def test_default_scripts_render_as_before(default: str) -> None:
    script = DEFAULTS[default]
    sample = {
        "nombre": "Ana Pérez", "empresa": "Banco Sur", "monto": "$1.234.567",
        "fecha_limite": "30/12/2026", "fecha_maxima": "15/01/2027", "rut": "12.345.678-5",
    }  # fmt: skip
    names = template_variables(script.template, script.first_message)
    values = {name: sample.get(name, f"valor de {name}") for name in names}
    for text in (script.template, script.first_message):
        # A plain sandbox (the environment before the limits) as the reference rendering.
        reference = SandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
        ).from_string(text)
        assert render_text(text, values) == reference.render(values)
