"""Property-based API fuzzing: every operation of the OpenAPI schema, with the admin key
and with an account key, on generated valid and invalid input.

What a client relies on: no answer is a 500, every status code is one the schema
documents, and every body matches the documented model. Examples are drawn
deterministically (derandomize) and bounded per operation so the run stays short; the
multipart upload routes and the SSE stream are driven by hand in their own tests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_KEY
from tests.hostile.conftest import Tenants

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation: with A's real ids (reaches the 2xx bodies), with generated
# ids, and deliberately invalid input.
KNOWN_IDS_EXAMPLES = 9
FREE_EXAMPLES = 3
NEGATIVE_EXAMPLES = 6
ID_NAMES = ("account_id", "batch_id", "job_id", "script_id", "phone", "provider")


def _by_hand(operation: Any) -> bool:
    """Multipart uploads and the event stream are covered by their own tests."""
    body = operation.definition.raw.get("requestBody", {})
    if "multipart/form-data" in body.get("content", {}):
        return True
    return operation.path.endswith("/events")


def _draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    drawn: list[Any] = []

    @given(strategy)
    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def collect(case: Any) -> None:
        drawn.append(case)

    try:
        collect()
    except Unsatisfiable:
        pass  # nothing invalid can be built for this operation (no parameters, no body)
    return drawn


# Drawn once per process and shared by both runs (admin, account key): drawing is most
# of this test's time, and what is drawn does not depend on who asks. Path parameters
# that take A's real ids are drawn as placeholders and filled per run.
_DRAWN: dict[str, list[Any]] = {}


def _drawn(operation: Any, names: set[str]) -> list[Any]:
    if operation.label not in _DRAWN:
        known = {k: f"<{k}>" for k in ID_NAMES if k in names}
        cases = []
        if known:
            cases += _draw(operation.as_strategy(path_parameters=known), KNOWN_IDS_EXAMPLES)
            cases += _draw(operation.as_strategy(), FREE_EXAMPLES)
        else:
            cases += _draw(operation.as_strategy(), KNOWN_IDS_EXAMPLES + FREE_EXAMPLES)
        cases += _draw(operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES)
        _DRAWN[operation.label] = cases
    return _DRAWN[operation.label]


def _cases(operation: Any, ids: dict[str, str]) -> list[Any]:
    names = {p.name for p in operation.path_parameters}
    cases = []
    for drawn in _drawn(operation, names):
        case = drawn.derive()
        for name, value in case.path_parameters.items():
            if isinstance(value, str) and value.startswith("<") and value[1:-1] in ids:
                case.path_parameters[name] = ids[value[1:-1]]
        cases.append(case)
    return cases


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """requests-style keyword arguments from schemathesis, as httpx takes them."""
    out: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": dict(kwargs.get("headers") or {}),
        "params": kwargs.get("params") or None,
    }
    if kwargs.get("cookies"):
        out["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items())
    if "json" in kwargs:
        out["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        if isinstance(data, bytes | str):
            out["content"] = data
        else:
            out["data"] = data
    return out


@pytest.mark.slow
@pytest.mark.parametrize("who", ["admin", "account"])
async def test_every_operation_conforms_to_the_schema(app: Any, tenants: Tenants, who: str) -> None:
    key = ADMIN_KEY if who == "admin" else tenants.a_key
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ids = {
        "account_id": tenants.a_id,
        "batch_id": tenants.a_batch,
        "job_id": tenants.a_job,
        "script_id": tenants.a_script,
        "phone": "+56987654321",
        "provider": "retell",
    }
    failures: list[str] = []
    exercised = 0
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            if _by_hand(operation):
                continue
            exercised += 1
            for case in _cases(operation, ids):
                kwargs = case.as_transport_kwargs(
                    base_url="http://testserver", headers={"Authorization": f"Bearer {key}"}
                )
                response = await http.request(**_httpx_kwargs(kwargs))
                try:
                    case.validate_response(response, checks=CHECKS)
                except BaseExceptionGroup as exc:  # schemathesis raises a group of check failures
                    failures.append(f"{operation.label}: {response.status_code}\n{exc}")
                    break  # one failure per operation is enough to act on
    assert exercised >= 35
    assert not failures, "\n\n".join(failures)
