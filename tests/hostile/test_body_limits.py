"""Nobody unauthenticated can make the server buffer a huge body.

A user relies on: a 400 MB body sent to a path that needs no key (a provider webhook) or
to one that does, without a key, costs the server a few MB at most and is answered with
413/401; an anonymous multipart upload is refused before a byte of it is read (so never
spooled to disk); the limits hold for chunked bodies that announce no length.

The memory figures come from a real uvicorn process (tests/browser/live_server.py):
its peak resident size (VmHWM) before and after the attack.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ATTACK_BYTES = 400 * 1024 * 1024
# Headroom over the ~2 MB the edge lets through: allocator noise, one request's objects.
MAX_GROWTH_MB = 48


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, int]]:
    """A live uvicorn process: (host, port, pid)."""
    data_dir = tmp_path_factory.mktemp("edge")
    port = _free_port()
    env = {
        **os.environ,
        "DIALER_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'dialer.db'}",
        "DIALER_DATA_DIR": str(data_dir),
        "DIALER_ADMIN_API_KEY": "edge-admin-key-0123456789",
        "DIALER_LOG_LEVEL": "WARNING",
    }
    log = (data_dir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.live_server", str(port), str(data_dir)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the positive signal: /health answers
            if proc.poll() is not None:
                raise RuntimeError((data_dir / "server.log").read_text())
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.2)
        yield "127.0.0.1", port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _send_chunked(host: str, port: int, path: str, ctype: str, total: int) -> tuple[int, int]:
    """Stream ``total`` bytes chunked until the server stops us; (bytes sent, status)."""
    chunk = b"[" + b'"aaaaaaaaaaaaaaa",' * ((1 << 20) // 18)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            while sent < total:
                s.sendall(frame)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed: what we want
        try:
            head = s.recv(4096)
        except OSError:
            head = b""
    status = int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return sent, status


def _send_with_length(host: str, port: int, path: str, length: int) -> int:
    """Announce ``length`` bytes, send none, and return the status the server answers."""
    with socket.create_connection((host, port), timeout=20) as s:
        s.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n".encode()
        )
        head = s.recv(4096)
    return int(head.split(b" ")[1])


@pytest.mark.parametrize(
    ("path", "ctype", "statuses"),
    [
        ("/api/v1/webhooks/retell", "application/json", {413}),
        ("/api/v1/webhooks/twilio", "application/x-www-form-urlencoded", {413}),
        ("/api/v1/batches", "application/json", {401}),
        ("/api/v1/batches/excel/create", "multipart/form-data; boundary=x", {401}),
    ],
)
def test_400_mb_unauthenticated_body_keeps_the_server_small(
    server: tuple[str, int, int], path: str, ctype: str, statuses: set[int]
) -> None:
    host, port, pid = server
    before = _peak_rss_mb(pid)
    # Announced: refused from the header alone, before the body.
    assert _send_with_length(host, port, path, ATTACK_BYTES) in statuses | {413}
    # Not announced (chunked): the server stops reading at its limit.
    sent, status = _send_chunked(host, port, path, ctype, ATTACK_BYTES)
    assert status in statuses | {0}  # 0: the connection was reset after the answer
    assert sent < ATTACK_BYTES / 4, f"the server read {sent >> 20} MB"
    growth = _peak_rss_mb(pid) - before
    assert growth < MAX_GROWTH_MB, f"peak RSS grew {growth:.0f} MB"
    assert httpx.get(f"http://{host}:{port}/health", timeout=5).status_code == 200


class _Pulled:
    """A request body that counts how much of it the server pulled."""

    def __init__(self, total: int, chunk: bytes = b"x" * 65536, head: bytes = b"") -> None:
        self.total, self.chunk, self.head, self.pulled = total, chunk, head, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            self.pulled += len(self.head)
            yield self.head
        while self.pulled < self.total:
            self.pulled += len(self.chunk)
            yield self.chunk


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "bnd"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="account_id"\r\n\r\nacc\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode() + b"x" * size
    return body, f"multipart/form-data; boundary={boundary}"


async def test_anonymous_multipart_is_never_read(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/batches/excel/create", "/api/v1/accounts/x/do-not-call/import"):
        body = _Pulled(64 << 20)
        r = await client.post(
            path, content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
        )
        assert r.status_code == 401, r.text
        assert body.pulled == 0  # not one chunk read, so nothing spooled to disk
    # A garbage key is no better than none.
    body = _Pulled(64 << 20)
    r = await client.post(
        "/api/v1/batches/excel/preview",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b", "X-API-Key": "dk_nope"},
    )
    assert r.status_code == 401
    assert body.pulled == 0


async def test_anonymous_dashboard_upload_is_never_read(client: httpx.AsyncClient) -> None:
    body = _Pulled(64 << 20)
    r = await client.post(
        "/dashboard/upload/preview",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 303
    assert r.headers["location"].startswith("/dashboard/login")
    assert body.pulled == 0


async def test_upload_limit_holds_at_the_edge(app: Any, admin: httpx.AsyncClient) -> None:
    limit = app.state.settings.MAX_UPLOAD_BYTES
    body, ctype = _multipart(limit + (2 << 20))
    # Announced length over the limit: 413 before reading.
    r = await admin.post(
        "/api/v1/batches/excel/create", content=body, headers={"Content-Type": ctype}
    )
    assert r.status_code == 413
    assert r.json()["field"] == "body"
    # Chunked, no length: refused once the count passes the limit.
    pulled = _Pulled(limit + (4 << 20), head=_multipart(0)[0])
    r = await admin.post(
        "/api/v1/batches/excel/create", content=pulled, headers={"Content-Type": ctype}
    )
    assert r.status_code == 413
    assert pulled.pulled <= limit + (2 << 20)


async def test_json_limit_and_webhook_limit(app: Any, admin: httpx.AsyncClient) -> None:
    settings = app.state.settings
    big = b'{"account_id": "a", "name": "' + b"x" * settings.MAX_BODY_BYTES + b'"}'
    r = await admin.post(
        "/api/v1/batches", content=big, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    hook = _Pulled(settings.MAX_WEBHOOK_BODY_BYTES * 4)
    r = await admin.post(
        "/api/v1/webhooks/retell", content=hook, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert hook.pulled <= settings.MAX_WEBHOOK_BODY_BYTES + 65536


async def test_nul_after_the_first_chunks_still_names_the_field(
    admin: httpx.AsyncClient,
) -> None:
    # The NUL check streams: the body reaches the application in pieces and the escape
    # sits in the last one, split across two chunks.
    head = b'{"account_id": "a", "description": "' + b"y" * 200_000 + b'", "name": "x\\u0'
    tail = b'000y"}'

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(head), 65536):
            yield head[i : i + 65536]
        yield tail

    r = await admin.post(
        "/api/v1/batches", content=pieces(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "name"
    # An escaped backslash before "u0000" is not a NUL: the request goes through.
    r = await admin.post(
        "/api/v1/accounts",
        content=io.BytesIO(b'{"account_name": "a\\\\u0000", "country": "CL"}').read(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
