"""Webhooks: signed per render and on campaign completion, retried on 5xx, metadata passed through."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.jobs import webhooks
from tests.conftest import API_KEY


class Receiver:
    """An HTTP endpoint that answers 500 to its first ``failures`` calls, then records each body."""

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.calls, self.received = failures, 0, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.failures:
                    self.send_response(500)
                else:
                    receiver.received.append((dict(self.headers), body))
                    self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver(failures=1)
    yield r
    r.close()


def test_signature_roundtrip_and_rejections():
    body = b'{"a":1}'
    header = webhooks.sign("k" * 32, 1_700_000_000, body)
    assert webhooks.verify("k" * 32, header, body, now=1_700_000_010)
    assert not webhooks.verify("k" * 32, header, body + b" ", now=1_700_000_010)
    assert not webhooks.verify("x" * 32, header, body, now=1_700_000_010)
    assert not webhooks.verify("k" * 32, header, body, now=1_700_000_000 + 301)  # replayed too late
    assert not webhooks.verify("k" * 32, "garbage", body)


def test_render_and_campaign_webhooks_are_signed_retried_and_carry_metadata(runtime, receiver):
    runtime.settings.webhook_allow_private = True  # the receiver listens on 127.0.0.1
    meta = {"crm_batch": "spring-24", "owner": "ana@example.com"}
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={
                "scene": "card",
                "webhook_url": receiver.url,
                "metadata": meta,
                "rows": [{"customer_id": "w1", "first_name": "Wu", "price": 1}, {"customer_id": "w2", "price": 1}],
            },
        )
        campaign_id = response.json()["id"]
        client.app.state.pvideo.queue.join(timeout_ms=120_000)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    secret = runtime.settings.webhook_signing_key
    events = []
    for headers, body in receiver.received:
        assert webhooks.verify(secret, headers[webhooks.SIGNATURE_HEADER], body)
        event = json.loads(body)
        assert headers[webhooks.EVENT_ID_HEADER] == event["id"]
        events.append(event)
    assert receiver.calls == 3  # the first delivery got a 500 and was retried
    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {"render.done", "campaign.completed"}  # row 2 was rejected at submit: no render event
    done = by_type["render.done"]
    assert done["customer_id"] == "w1" and done["video_url"].endswith("/video.mp4") and done["metadata"] == meta
    completed = by_type["campaign.completed"]
    assert completed["campaign_id"] == campaign_id and completed["counts"]["done"] == 1
    assert completed["counts"]["failed"] == 1 and completed["metadata"] == meta


def test_webhook_url_must_be_http(runtime):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={
                "scene": "card",
                "webhook_url": "file:///etc/passwd",
                "rows": [{"customer_id": "w1", "first_name": "Wu", "price": 1}],
            },
        )
    assert response.status_code == 422 and "webhook_url" in response.text


def test_receiver_4xx_is_not_retried(receiver):
    gone = Receiver()
    gone.server.RequestHandlerClass.do_POST = lambda self: (
        self.rfile.read(int(self.headers["Content-Length"])),
        self.send_response(410),
        self.end_headers(),
    )
    try:
        with pytest.raises(webhooks.WebhookRejected):
            webhooks.deliver(gone.url, {"id": "e1"}, "s" * 32, timeout=5, allow_private=True)
    finally:
        gone.close()
    receiver.failures = 5
    from pvideo.errors import WebhookError

    with pytest.raises(WebhookError):
        webhooks.deliver(receiver.url, {"id": "e2"}, "s" * 32, timeout=5, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "http://[::ffff:10.0.0.1]/x",
        "http://10.1.2.3:8080/in",
    ],
)
def test_webhook_to_a_private_address_is_refused_at_submit_and_at_delivery(runtime, url):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers={"X-API-Key": API_KEY},
            json={"scene": "card", "webhook_url": url, "rows": [{"customer_id": "w1", "first_name": "Wu", "price": 1}]},
        )
        assert response.status_code == 422
        assert "webhook_url" in response.text and "not a public address" in response.text
    with pytest.raises(webhooks.WebhookRejected, match="not a public address"):
        webhooks.deliver(url, {"id": "e3"}, "s" * 32, timeout=5)


def test_link_local_stays_refused_with_private_allowed(receiver):
    with pytest.raises(webhooks.WebhookRejected, match="169.254.169.254"):
        webhooks.deliver(
            "http://169.254.169.254/latest/meta-data", {"id": "e4"}, "s" * 32, timeout=5, allow_private=True
        )
    assert receiver.calls == 0


def test_unresolvable_webhook_host_is_retried_not_dropped():
    from pvideo.errors import WebhookError

    with pytest.raises(WebhookError) as caught:
        webhooks.deliver("http://no-such-host.invalid/hook", {"id": "e5"}, "s" * 32, timeout=5)
    assert not isinstance(caught.value, webhooks.WebhookRejected)


def test_queued_webhooks_name_the_render_and_the_payload_is_built_when_sent(runtime):
    """The message waits in Redis (and may end in its dead-letter queue): it holds no customer data,
    and a customer erased before it is sent gets no webhook."""
    from pvideo.db.models import Campaign, Render, RenderStatus, utcnow
    from pvideo.jobs import notifications

    with runtime.db.session() as session:
        campaign = Campaign(name="refs", scene_name="card", scene={}, webhook_url="https://crm.example/hooks")
        session.add(campaign)
        session.flush()
        render = Render(
            campaign_id=campaign.id, row_number=1, customer_id="ZX-REF-1", data={"first_name": "Quill"},
            status=RenderStatus.DONE, attempts=1, viewer_token="tok-refs",
        )  # fmt: skip
        session.add(render)
        session.flush()
        render_id = render.id
    queued = notifications.after_render(runtime.db, render_id)
    assert [url for url, _ in queued] == ["https://crm.example/hooks"] * 2  # the render's, and the campaign's
    assert "ZX-REF-1" not in json.dumps(queued) and "Quill" not in json.dumps(queued)
    sent = notifications.payload_for(runtime.db, queued[0][1], "https://v.example")
    assert sent is not None and sent["customer_id"] == "ZX-REF-1" and sent["id"] == f"render.done.{render_id}.1"
    assert sent["landing_url"] == "https://v.example/v/tok-refs"
    completed = notifications.payload_for(runtime.db, queued[1][1], "https://v.example")
    assert completed is not None and completed["type"] == "campaign.completed" and completed["counts"]["done"] == 1

    with runtime.db.session() as session:
        session.get(Render, render_id).erased_at = utcnow()
    assert notifications.payload_for(runtime.db, queued[0][1], "https://v.example") is None
