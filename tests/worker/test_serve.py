"""``dialer serve`` runs the dispatcher inside the API process. If that worker dies, an
API left running would accept batches that nobody dials: the process must stop, exit
non-zero and say why, so its supervisor restarts it (as it restarts ``dialer worker``)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from dialer.config import Settings
from dialer.db.session import Database
from dialer.main import create_app
from dialer.worker import runner
from tests.conftest import ADMIN_KEY
from tests.fixtures.servers import free_port
from tests.fixtures.workers import ROOT

# Runs the real command line, with one fault: once the trigger file exists, the worker's
# claim loop raises (a bug the loop does not catch), which ends the worker's task.
LAUNCHER = """
import sys
from pathlib import Path

from dialer.cli import app
from dialer.worker import runner

trigger = Path(sys.argv[1])
claim_round = runner.Worker._claim_round


async def broken_claim_round(self, stop):
    if trigger.exists():
        raise RuntimeError("claim loop bug")
    return await claim_round(self, stop)


runner.Worker._claim_round = broken_claim_round
sys.argv = ["dialer", "serve", "--host", "127.0.0.1", "--port", sys.argv[2], "--no-auto-migrate"]
app()
"""


@pytest.mark.slow  # a real process (the in-process tests below stay in test-fast)
def test_serve_stops_with_exit_1_when_its_embedded_worker_dies(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    trigger = tmp_path / "break-the-worker"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIALER_")},
        "DIALER_ENV": "test",
        "DIALER_DATABASE_URL": db_url,  # migrated by the fixture
        "DIALER_ADMIN_API_KEY": ADMIN_KEY,
        "DIALER_DATA_DIR": str(tmp_path / "data"),
        "DIALER_POLL_INTERVAL": "PT0.05S",
        "DIALER_LOG_LEVEL": "INFO",
        "DIALER_LOG_JSON": "true",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(trigger), str(port)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # The API serves, with its worker running (a positive signal: its heartbeat).
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            _wait_for(lambda: _health(client) == 200, proc, log)
            _wait_for(lambda: "worker.started" in log.read_text(), proc, log)
            trigger.touch()
            code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 1, text
    died = [e for e in _events(text) if e.get("event") == "api.embedded_worker_died"]
    assert len(died) == 1, text
    assert "claim loop bug" in died[0]["error"]
    assert died[0]["level"] == "error"
    assert "dialer stopped: embedded worker died: RuntimeError('claim loop bug')" in text
    # It stopped gracefully: the worker's and the API's shutdown ran (no half-closed database).
    assert "worker.stopped" in text


async def test_health_answers_503_naming_the_dead_worker_until_the_server_stops(
    settings: Settings, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the worker's death and the end of the graceful stop, a load balancer
    polling /health already sees the process as failing, and why."""

    async def broken_claim_round(self: Any, stop: asyncio.Event) -> int:
        raise RuntimeError("claim loop bug")

    monkeypatch.setattr(runner.Worker, "_claim_round", broken_claim_round)
    app = create_app(settings, database=database, embedded_worker=True)
    asked_to_stop = asyncio.Event()
    app.state.on_failure = asked_to_stop.set  # what run_server does: stop the server
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(asked_to_stop.wait(), 30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert response.json()["error"] == "embedded worker died: RuntimeError('claim loop bug')"


async def test_a_worker_stopped_by_the_api_is_no_failure(
    settings: Settings, database: Database
) -> None:
    """The normal end: the API's shutdown stops its worker, and nothing is reported."""
    app = create_app(settings, database=database, embedded_worker=True)
    stopped: list[str] = []
    app.state.on_failure = lambda: stopped.append("asked")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/health")).json()["status"] == "ok"
    assert app.state.failure is None
    assert stopped == []


def _health(client: httpx.Client) -> int | None:
    try:
        return client.get("/health").status_code
    except httpx.HTTPError:
        return None


def _wait_for(ready: object, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``ready`` until true; the process must stay up meanwhile (bounded by the
    calls' own timeouts and the attempt count, not by a sleep)."""
    assert callable(ready)
    for _ in range(600):
        assert proc.poll() is None, log.read_text()
        if ready():
            return
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"not ready\n{log.read_text()}")


def _events(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
