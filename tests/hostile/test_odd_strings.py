"""SQL-injection-like and odd strings in every text field of every JSON write endpoint
and in every string query parameter.

A user relies on: such input is stored verbatim or refused with a 422 naming the field,
never a 500, and the database is intact afterwards. The text fields are read from the
OpenAPI schema, so a field added later is fuzzed too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.hostile.conftest import Tenants

ODD = [
    "'; DROP TABLE jobs; --",
    '" OR 1=1 --',
    "Robert'); DELETE FROM accounts WHERE ('1'='1",
    "Ñuñoa 漢字 🙂 ﷽",
    "\u202eevil\u200f\u200b",
    "nul\x00byte",
    "x" * 10_000,
]

# A valid body for each JSON write operation; each text field is replaced in turn (in
# the first item of a list body).
BODIES: dict[tuple[str, str], dict[str, Any] | list[dict[str, Any]]] = {
    ("POST", "/api/v1/accounts"): {"account_name": "ok", "country": "CL"},
    ("POST", "/api/v1/accounts/{account_id}/topup"): {"minutes": 1},
    ("POST", "/api/v1/accounts/{account_id}/api-keys"): {"name": "ok"},
    ("PATCH", "/api/v1/accounts/{account_id}"): {"account_name": "ok"},
    ("POST", "/api/v1/batches"): {"account_id": "tenant-a", "name": "ok"},
    ("PATCH", "/api/v1/batches/{batch_id}"): {"name": "ok"},
    ("POST", "/api/v1/accounts/{account_id}/do-not-call"): {"phone": "+56911112222"},
    ("POST", "/api/v1/accounts/{account_id}/legal-stops"): {
        "debtor_id": "12345678-5",
        "reason": "other",
    },
    ("POST", "/api/v1/scripts"): {"account_id": "tenant-a", "name": "ok", "template": "Hola"},
    ("POST", "/api/v1/scripts/{script_id}/versions"): {"template": "Hola"},
    ("POST", "/api/v1/scripts/{script_id}/preview"): {"variables": {}},
    ("PUT", "/api/v1/accounts/{account_id}/providers/{provider}"): {"options": {}},
    ("POST", "/legacy/api/v1/accounts"): {"account_name": "ok"},
    ("PATCH", "/legacy/api/v1/accounts/{account_id}"): {"account_name": "ok"},
    ("POST", "/legacy/api/v1/accounts/{account_id}/topup"): {"minutes": 1},
    ("POST", "/legacy/api/v1/batches"): {"account_id": "tenant-a", "name": "ok"},
    ("PATCH", "/legacy/api/v1/batches/{batch_id}"): {"name": "ok"},
    ("POST", "/api/v1/batches/{batch_id}/start"): {},
    ("POST", "/api/v1/accounts/{account_id}/users"): {
        "username": "fuzz-user",
        "password": "0123456789ab",
        "role": "operator",
    },
    ("PATCH", "/api/v1/accounts/{account_id}/users/{user_id}"): {"full_name": "ok"},
    ("POST", "/api/v1/accounts/{account_id}/webhooks"): {
        "url": "https://93.184.215.14/hooks/ok",
        "events": ["call.completed"],
    },
    ("POST", "/api/v1/attempts/{attempt_id}/resolve"): {"provider_call_id": "CA1"},
    ("POST", "/api/v1/accounts/{account_id}/payments"): [
        {"debtor_id": "12.345.678-5", "amount": 1000, "date": "2026-11-30", "reference": "F-1"}
    ],
}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def _is_text(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    node = _resolve(schema, node)
    options = node.get("anyOf", [node])
    return any(_resolve(schema, o).get("type") == "string" for o in options)


def _text_fields(schema: dict[str, Any], method: str, path: str) -> list[str]:
    op = schema["paths"][path][method.lower()]
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is None:
        return []
    model = _resolve(schema, body["schema"])
    if model.get("type") == "array":
        model = _resolve(schema, model["items"])
    return sorted(k for k, v in model.get("properties", {}).items() if _is_text(schema, v))


def _json_write_operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                found.add((method.upper(), path))
    return found - {("POST", "/api/v1/webhooks/{provider}")}


async def _intact(admin: httpx.AsyncClient, t: Tenants) -> None:
    """Every table the fuzzing could have hit still answers, with A's data in place."""
    assert (await admin.get("/api/v1/accounts")).status_code == 200
    batch = await admin.get(f"/api/v1/batches/{t.a_batch}")
    assert batch.status_code == 200
    jobs = (await admin.get(f"/api/v1/batches/{t.a_batch}/jobs")).json()
    assert jobs["total"] == 3
    assert (await admin.get(f"/api/v1/jobs/{t.a_job}")).status_code == 200
    assert (await admin.get(f"/api/v1/scripts/{t.a_script}")).status_code == 200
    assert (await admin.get(f"/api/v1/accounts/{t.a_id}/do-not-call")).json()["total"] >= 1


def _stored_verbatim(sent: str, field: str, body: Any) -> bool:
    """When the answer echoes the field, it is exactly what was sent."""
    if not isinstance(body, dict) or field not in body or not isinstance(body[field], str):
        return True
    return body[field] == sent


@pytest.mark.slow
async def test_odd_strings_in_every_json_text_field(
    app: Any, admin: httpx.AsyncClient, tenants: Tenants
) -> None:
    schema = app.openapi()
    assert _json_write_operations(schema) == set(BODIES), "add the new operation to BODIES"
    problems: list[str] = []
    tried = 0
    for (method, template), base in sorted(BODIES.items()):
        path = tenants.fill(template)
        for field in _text_fields(schema, method, template):
            for value in ODD:
                for client in (admin, tenants.a):
                    body: Any = (
                        [base[0] | {field: value}, *base[1:]]
                        if isinstance(base, list)
                        else base | {field: value}
                    )
                    if field == "account_id" and client is tenants.a:
                        continue  # an account key names only its own account
                    r = await client.request(method, path, json=body)
                    tried += 1
                    if r.status_code >= 500 or r.status_code not in (200, 201, 403, 404, 409, 422):
                        problems.append(
                            f"{method} {template} {field}={value[:30]!r}: {r.status_code} {r.text[:200]}"
                        )
                    elif r.status_code == 422 and not r.json().get("detail"):
                        problems.append(f"{method} {template} {field}: 422 without detail")
                    elif r.status_code < 300 and not _stored_verbatim(value, field, r.json()):
                        problems.append(f"{method} {template} {field}: not stored verbatim")
    assert tried > 100
    assert not problems, "\n".join(problems)
    await _intact(admin, tenants)


async def test_odd_strings_in_every_query_parameter(
    app: Any, admin: httpx.AsyncClient, tenants: Tenants
) -> None:
    schema = app.openapi()
    problems: list[str] = []
    tried = 0
    for template, ops in sorted(schema["paths"].items()):
        for method, op in ops.items():
            if template.endswith("/events") or (method == "post" and "webhooks" in template):
                continue
            params = [
                p["name"]
                for p in op.get("parameters", [])
                if p["in"] == "query" and _is_text(schema, p.get("schema", {}))
            ]
            for name in params:
                for value in ODD:
                    r = await admin.request(
                        method.upper(), tenants.fill(template), params={name: value}
                    )
                    tried += 1
                    if r.status_code >= 500:
                        problems.append(
                            f"{method} {template} ?{name}={value[:30]!r}: {r.status_code} {r.text[:200]}"
                        )
    # Path parameters get the same strings (ids in URLs are user input as well).
    for value in ODD[:5]:
        for template in ("/api/v1/batches/{}", "/api/v1/jobs/{}", "/api/v1/accounts/{}/balance"):
            r = await admin.get(template.format(value.replace("/", "%2F")))
            tried += 1
            if r.status_code != 404:
                problems.append(f"GET {template} with {value[:30]!r}: {r.status_code}")
    assert tried > 50
    assert not problems, "\n".join(problems)
    await _intact(admin, tenants)
