"""Browser fixtures: Debian's Chromium driven by Playwright, and the real app served by uvicorn.

Never ``playwright install``: the browser is /usr/bin/chromium (``apt-get
install chromium``; .ci/run does it). Under ``CI=true`` a missing browser or
Playwright fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvideo.settings import PROJECT_ROOT
from tests.services import unavailable

CHROMIUM = os.environ.get("PVIDEO_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        unavailable("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def live_app(runtime) -> Iterator:
    """The app on http://127.0.0.1:PORT (uvicorn in a thread); yields (base_url, app)."""
    import uvicorn

    from api.main import create_app

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    runtime.settings.public_base_url = base
    runtime.settings.event_export_settle_seconds = 0
    app = create_app(runtime=runtime)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield base, app
    server.should_exit = True
    thread.join(timeout=15)
