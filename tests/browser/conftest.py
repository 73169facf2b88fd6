"""Browser fixtures: the real app served by uvicorn, and where screenshots go.

The browser itself (``browser``: Debian's Chromium driven by Playwright) comes from
the ``tests.chromium`` plugin, shared with the other wings.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pvideo.settings import PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts"


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


ROWS = [{"customer_id": "c1", "first_name": "Ana", "plan": "Pro", "price": "19.99"}]


@pytest.fixture()
def landing(live_app):
    """One customer of the test scene rendered and served: (base URL, app, campaign id, landing URL)."""
    import httpx

    from tests.conftest import API_KEY

    base, app = live_app
    with httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=30) as api:
        created = api.post("/api/campaigns", json={"scene": "card", "rows": ROWS})
        assert created.status_code == 201, created.text
        app.state.pvideo.queue.join(timeout_ms=120_000)
        renders = api.get(f"/api/campaigns/{created.json()['id']}/renders").json()
    assert renders[0]["status"] == "done", renders
    return base, app, created.json()["id"], renders[0]["landing_url"]
