"""POST /api/events on its short path (``api.event_intake``): an ordinary batch is stored and answered
there, the same answer as the route's; everything else reaches the route, body intact."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import event_intake
from api.main import create_app
from api.schemas import EventsAccepted
from pvideo.db.models import Event
from pvideo.tracking.events import Ingested
from tests.viewers import done_campaign, event


@pytest.fixture()
def app(runtime):
    return create_app(runtime=runtime)


@pytest.fixture()
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture()
def viewers(app, runtime):
    return done_campaign(runtime.db, app.state.pvideo.tokens)


@pytest.fixture()
def routed(monkeypatch):
    """How many requests the FastAPI route answered (the rest: the short path)."""
    from api.routes import events as route

    calls: list[int] = []
    original = route.EventBatch.model_validate_json

    def counting(data, *args, **kwargs):
        calls.append(1)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(route, "EventBatch", type("Counted", (), {"model_validate_json": staticmethod(counting)}))
    return calls


def _stored(runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Event))


def test_the_short_path_answers_as_the_route_does(client, runtime, viewers, routed):
    _, (ana, _) = viewers
    batches = [
        [event("page_view", seq=1), event("play", 0.0, seq=2), {"event_id": "bad", "type": "explode"}],
        [event("page_view", seq=1), event("play", 0.0, seq=2), {"event_id": "bad2", "type": "explode"}],
    ]
    short = client.post("/api/events", content=json.dumps({"token": ana.token, "events": batches[0]}))
    assert routed == []  # answered without the router
    route = client.post("/api/events?via=route", content=json.dumps({"token": ana.token, "events": batches[1]}))
    assert routed == [1]  # a query string goes the framework's way
    assert short.status_code == route.status_code == 200
    assert short.content == route.content
    assert short.json() == {
        "stored": 2,
        "duplicates": 0,
        "failed": 1,
        "errors": [{"index": 2, "reason": short.json()["errors"][0]["reason"]}],
    }
    for name in (
        "content-type",
        "access-control-allow-origin",
        "access-control-expose-headers",
        "x-content-type-options",
        "referrer-policy",
    ):
        assert short.headers[name] == route.headers[name], name
    assert _stored(runtime) == 4
    again = client.post("/api/events", content=json.dumps({"token": ana.token, "events": batches[0][:2]}))
    assert again.json() == {"stored": 0, "duplicates": 2, "failed": 0, "errors": []}


def test_every_refusal_is_the_routes_own(client, runtime, viewers, routed):
    _, (ana, _) = viewers
    ok = {"token": ana.token, "events": [event("page_view")]}
    cases = [
        (json.dumps({"token": "x" * 40, "events": [event("page_view")]}), 404, "unknown viewer token"),
        ("{not json", 422, None),
        (json.dumps({"token": ana.token, "events": []}), 422, None),
        (json.dumps({"token": ana.token, "events": [event("ping", 1.0)] * 101}), 422, None),
        ("[" * 100 + "]" * 100, 422, "nested deeper"),
    ]
    for body, status, detail in cases:
        answer = client.post("/api/events", content=body, headers={"content-type": "text/plain"})
        assert answer.status_code == status, (body[:40], answer.text)
        assert answer.headers["access-control-allow-origin"] == "*"
        if detail:
            assert detail in answer.json()["detail"]
    assert len(routed) == 4  # each reached the route's model, but the one the depth scan refused first
    nested = client.post("/api/events", content="[" * 100 + "]" * 100, headers={"content-type": "application/json"})
    assert nested.status_code == 422 and "nested deeper" in nested.json()["detail"]  # refused as it streamed in
    too_big = client.post("/api/events", content=json.dumps(ok) + " " * 70_000)
    assert too_big.status_code == 413
    assert _stored(runtime) == 0


def test_a_body_in_pieces_is_read_whole(app, runtime, viewers):
    """An ASGI body in several messages (a slow client, a big batch): stored on the short path."""
    _, (ana, _) = viewers
    body = json.dumps({"token": ana.token, "events": [event("page_view"), event("play", 0.0)]}).encode()
    pieces = [body[:10], body[10:50], body[50:]]

    async def call() -> list[dict]:
        sent: list[dict] = []
        messages = [{"type": "http.request", "body": p, "more_body": n < 2} for n, p in enumerate(pieces)]

        async def receive() -> dict:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/events",
            "raw_path": b"/api/events",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)
        return sent

    with ThreadPoolExecutor(1) as pool:  # its own event loop: Playwright's may be running in this thread
        sent = pool.submit(asyncio.run, call()).result()
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == {"stored": 2, "duplicates": 0, "failed": 0, "errors": []}
    assert _stored(runtime) == 2


@pytest.mark.parametrize(
    "result",
    [Ingested(3, 1), Ingested(0, 0), Ingested(2, 0, [(1, "type: bad"), (4, 'a "quoted" reason')])],
)
def test_the_answer_body_is_the_routes_model(result):
    expected = EventsAccepted(
        stored=result.stored,
        duplicates=result.duplicates,
        failed=len(result.failed),
        errors=[{"index": i, "reason": r} for i, r in result.failed],
    ).model_dump_json()
    assert event_intake._accepted(result) == expected.encode()
