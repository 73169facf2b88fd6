"""No client address in the clear anywhere, and no raw user agent: ``pvideo serve``'s own server
(``run_server``'s app and uvicorn options, X-Forwarded-For believed from a trusted proxy) takes a
landing visit, events (one refused), a form answer, a CTA click and a wrong API key from a
distinctive address and browser; then every text column of every table, every file under the data
folder (the SQLite file included) and every log record are searched for them."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest
import uvicorn

from api.access_log import AccessLog
from pvideo.cli import serve
from pvideo.db.models import Campaign
from pvideo.logs import JsonFormatter
from tests.browser.conftest import _free_port
from tests.privacy.erasing import database_hits, file_hits
from tests.tracking.answering import answer, interactive_campaign
from tests.viewers import event

CLIENT = "198.51.100.77"
CLIENT_V6 = "2001:db8:5eed:77:1:2:3:4"
AGENT = "Mozilla/5.0 (X11; Linux x86_64) PvideoProbe/9.7.3 Chrome/120.0"
NEEDLES = (CLIENT, "198.51.100.", "2001:db8:5eed", "PvideoProbe")


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture()
def served(runtime, monkeypatch, caplog):
    """The app and options ``pvideo serve`` runs, on a free port; yields (base URL, app, log records)."""
    runtime.settings.trusted_proxies = ["127.0.0.1"]
    captured: dict = {}
    monkeypatch.setattr("pvideo.logs.configure_logging", lambda *a, **k: None)  # keep pytest's handlers
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: captured.update(app=app, options=options))
    serve.run_server(runtime=runtime, host="127.0.0.1", port=0, access_log=True)
    app, options = captured["app"], captured["options"]
    assert isinstance(app, AccessLog) and options["access_log"] is False  # uvicorn's access log is off
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, **{**options, "port": port}))
    caplog.set_level(logging.INFO, logger="pvideo.access")  # what configure_logging sets in production
    # uvicorn writes its access line only when that logger has a handler (checked per connection)
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    records = Records()
    for name in ("", "uvicorn", "uvicorn.error"):  # uvicorn's loggers do not propagate
        logging.getLogger(name).addHandler(records)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app.app, records.records
    server.should_exit = True
    thread.join(timeout=15)
    for name in ("", "uvicorn", "uvicorn.error"):
        logging.getLogger(name).removeHandler(records)


def test_no_address_or_user_agent_is_kept_anywhere(served, runtime):
    base, app, records = served
    campaign_id, (ann, bo) = interactive_campaign(runtime.db, app.state.pvideo.tokens)
    with runtime.db.session() as session:
        session.get(Campaign, campaign_id).tracking = "full"  # the mode that keeps the most
    statuses = []
    for address in (CLIENT, CLIENT_V6):
        headers = {"X-Forwarded-For": address, "User-Agent": AGENT}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as web:
            batch = [event("page_view", seq=1), event("play", 0.0, seq=2), {"event_id": "bad", "type": "nope"}]
            form = {"fields": {"email": "ann@example.com"}, "consent": True}
            statuses += [
                web.get(f"/v/{ann.token}").status_code,
                web.post("/api/events", json={"token": ann.token, "events": batch}).status_code,
                web.post("/api/events?slow=1", json={"token": bo.token, "events": batch}).status_code,
                web.post("/api/responses", json=answer(bo.token, "contact", form, session_id=None)).status_code,
                web.get(f"/v/{ann.token}/cta/buy?s=s1&q=9", follow_redirects=False).status_code,
                web.get("/api/campaigns/nope", headers={"X-API-Key": "wrong"}).status_code,
            ]
    assert statuses.count(200) == 6 and statuses.count(302) == 2 and statuses.count(401) == 2, statuses
    assert statuses.count(201) + statuses.count(409) == 2, statuses

    assert database_hits(runtime.db.engine, NEEDLES) == []
    assert file_hits(runtime.settings.data_dir, NEEDLES) == []

    deadline = time.monotonic() + 5
    while len([r for r in records if r.name == "pvideo.access"]) < len(statuses) and time.monotonic() < deadline:
        time.sleep(0.05)
    access = [r for r in records if r.name == "pvideo.access"]
    assert len(access) >= len(statuses)
    assert not logging.getLogger("uvicorn.access").hasHandlers()
    lines = [JsonFormatter().format(r) for r in records]
    assert not [line for line in lines if any(n in line for n in (CLIENT, CLIENT_V6, "PvideoProbe"))]
    shown = [r.getMessage() for r in access]
    assert any(line.startswith('198.51.100.0/24 - "POST /api/events HTTP/1.1" 200') for line in shown), shown
    assert any(line.startswith('2001:db8:5eed::/48 - "GET /v/{id} HTTP/1.1" 200') for line in shown), shown
    assert not [line for line in shown if ann.token in line or "s=s1" in line]  # no token, no query string
