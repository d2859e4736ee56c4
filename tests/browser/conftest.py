"""Browser tests: Debian's Chromium driven by Playwright against a live server process.

One server and one browser for the whole session (starting them is most of the cost);
each test gets its own browser context (cookies, downloads) and its own campaign.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Numbers whose simulated calls the tests decide (every other number draws its call).
PROMISE_PHONE = "+56987654322"  # answers and promises $50.000 by transfer
NO_ANSWER_PHONES = ("+56933330001", "+56933330002")  # never answer
SIM_SCRIPT = {
    PROMISE_PHONE: [
        {
            "outcome": "completed",
            "business_result": "promise_to_pay",
            "extracted": {
                "fecha_promesa": "el viernes",
                "monto_promesa": "$50.000",
                "medio_pago": "transferencia",
            },
            "duration_s": 60,
        }
    ],
    **{n: [{"outcome": "no_answer"}] for n in NO_ANSWER_PHONES},
}


@dataclass
class LiveServer:
    url: str
    key: str
    data_dir: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class _Starting:
    proc: subprocess.Popen[bytes]
    url: str
    data_dir: Path


@pytest.fixture(scope="session")
def _server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Starting]:
    """The server process, started first so that it boots while Chromium does."""
    data_dir = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {
        **os.environ,
        "DIALER_DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'dialer.db'}",
        "DIALER_DATA_DIR": str(data_dir),
        "DIALER_ADMIN_API_KEY": "browser-admin-key-0123456789",
        "DIALER_SIM_SPEEDUP": "60",
        "DIALER_LOG_LEVEL": "WARNING",
        "DIALER_ENV": "test",
        "DIALER_SIM_SCRIPT": json.dumps(SIM_SCRIPT),
    }
    env.pop("DIALER_CLOCK_FILE", None)
    with (data_dir / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.browser.live_server", str(port), str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield _Starting(proc=proc, url=f"http://127.0.0.1:{port}", data_dir=data_dir)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def live_server(_server_process: _Starting) -> LiveServer:
    """The running server (waits for its health check; on a loaded machine booting
    takes a while, so the limit is generous)."""
    proc, url, data_dir = _server_process.proc, _server_process.url, _server_process.data_dir
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text())
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("live server did not start")
        time.sleep(0.2)
    key = (data_dir / "account_key").read_text().strip()
    return LiveServer(url=url, key=key, data_dir=data_dir)


@pytest.fixture(scope="session")
def browser(_server_process: _Starting) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, accept_downloads=True, locale="es-CL"
    )
    pg = context.new_page()
    yield pg
    context.close()


DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot to test-artifacts/ (kept by CI)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shots(page: Page, name: str) -> None:
    """The page at 1440x900 and at 390x844 (``NAME.png``, ``NAME-phone.png``), checking
    the phone layout on the way; the page is left at desktop size."""
    page.set_viewport_size(DESKTOP)
    shot(page, name)
    page.set_viewport_size(PHONE)
    check_phone_layout(page)
    shot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP)


# Elements a thumb must hit: buttons, fields, navigation and table links (links inside
# running text are exempt, as in WCAG 2.5.8).
TARGETS = (
    "button, .button, select, input:not([type=hidden]):not([type=checkbox]),"
    " header a, nav a, td a, th a"
)


def check_phone_layout(page: Page) -> None:
    """No sideways scrolling, and every visible target at least 44 px high."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways on a phone: {widths}"
    small = page.evaluate(
        """(sel) => Array.from(document.querySelectorAll(sel)).filter(e => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.height > 0 && r.height < 44;
        }).map(e => (e.id || e.textContent.trim().slice(0, 30) || e.tagName)
                   + ' ' + Math.round(e.getBoundingClientRect().height))""",
        TARGETS,
    )
    assert not small, f"touch targets under 44 px: {small}"


def login(page: Page, server: LiveServer, username: str, password: str) -> None:
    """Log in through the form, as a person does."""
    page.goto(f"{server.url}/dashboard/login")
    page.get_by_label("Usuario o correo").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_url(f"{server.url}/dashboard/")


def api(server: LiveServer) -> httpx.Client:
    """The account's API key client (what a machine integration would use)."""
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=10
    )
