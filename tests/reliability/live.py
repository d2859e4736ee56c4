"""A live API server process (uvicorn) for fault tests: started, killed and restarted
on the same port, sharing the test database and the workers' clock file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY
from tests.fixtures.workers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess:
    def __init__(self, db_url: str, tmp: Path, clock_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.env = {
            **os.environ,
            "DIALER_ENV": "test",
            "DIALER_DATABASE_URL": db_url,
            "DIALER_ADMIN_API_KEY": ADMIN_KEY,
            "DIALER_CLOCK_FILE": str(clock_file),
            "DIALER_DATA_DIR": str(tmp / "api-data"),
            "DIALER_LOG_LEVEL": "WARNING",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = open(self.tmp / f"api-{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "dialer.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=self.env, cwd=ROOT, stdout=log, stderr=log,
        )  # fmt: skip
        log.close()
        self.starts += 1

    async def ready(self, within: float = 30) -> None:
        """Wait until /health answers (the port may still be held by the previous process)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with httpx.AsyncClient(timeout=1) as client:
            while True:
                assert self.proc is not None
                assert self.proc.poll() is None, self.logs()
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if loop.time() > deadline:
                    raise AssertionError(f"API not ready within {within}s\n{self.logs()}")
                await asyncio.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self) -> str:
        return "\n".join(f.read_text(errors="replace") for f in sorted(self.tmp.glob("api-*.log")))
