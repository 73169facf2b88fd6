"""The webhook subscriptions API through the real app: create (secret once), list, change,
delete, the delivery log and replay; bad input is a 422 naming the field, unknown ids 404.

The app's own deliverer (started with it, as in production) sends to a local receiver.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.db.models import Campaign
from pvideo.jobs import deliveries
from pvideo.jobs.deliveries import WEBHOOK_EVENTS
from tests.conftest import API_KEY
from tests.webhook_receiver import wait_until

AUTH = {"X-API-Key": API_KEY}
FORM_GUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
HUBSPOT = {"portal_id": "123456", "form_guid": FORM_GUID, "fields": {"email": "email"}}


@pytest.fixture()
def api(runtime):
    runtime.settings.webhook_allow_private = True  # the receiver listens on 127.0.0.1
    runtime.settings.webhook_poll_seconds = 0.05
    with TestClient(create_app(runtime=runtime)) as client:
        yield client


@pytest.fixture()
def campaign_id(runtime):
    with runtime.db.session() as session:
        campaign = Campaign(name="Check-in", scene_name="checkin", scene={})
        session.add(campaign)
        session.flush()
        return campaign.id


def answer(runtime, campaign_id: str, event_id: str, event_type: str = "form_submitted") -> None:
    """What the answers route does: publish in its transaction, wake the deliverer after the commit."""
    with runtime.db.session() as session:
        deliveries.publish(
            session, campaign_id=campaign_id, event_type=event_type, event_id=event_id, data={"answer": {"n": 1}}
        )
    deliveries.wake()


def detail(response) -> str:
    return str(response.json()["detail"])


def test_create_shows_the_secret_once_then_lists_it_masked(api, campaign_id):
    created = api.post(
        f"/api/campaigns/{campaign_id}/webhooks",
        headers=AUTH,
        json={"url": "https://crm.example/hooks", "events": ["form_submitted", "poll_answered", "form_submitted"]},
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["secret"].startswith("whsec_") and len(sub["secret"]) > 40
    assert sub["events"] == ["form_submitted", "poll_answered"] and sub["active"] is True
    assert sub["created_by"] == "api key (configured)"  # no part of a configured key is stored

    listed = api.get(f"/api/campaigns/{campaign_id}/webhooks", headers=AUTH).json()
    assert [s["id"] for s in listed] == [sub["id"]]
    assert listed[0]["secret"] == f"whsec_…{sub['secret'][-4:]}"
    one = api.get(f"/api/campaigns/{campaign_id}/webhooks/{sub['id']}", headers=AUTH).json()
    assert one["secret"] == listed[0]["secret"]

    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, as Standard Webhooks' examples
    mine = api.post(
        f"/api/campaigns/{campaign_id}/webhooks",
        headers=AUTH,
        json={"url": "http://crm.example:8080/h?x=1", "events": ["cta_clicked"], "secret": given},
    )
    assert mine.status_code == 201 and mine.json()["secret"] == given


def test_change_pause_and_delete(api, campaign_id):
    base = f"/api/campaigns/{campaign_id}/webhooks"
    sub = api.post(base, headers=AUTH, json={"url": "https://a.example/h", "events": ["form_submitted"]}).json()
    changed = api.patch(f"{base}/{sub['id']}", headers=AUTH, json={"events": ["video_completed"], "active": False})
    assert changed.status_code == 200 and changed.json()["events"] == ["video_completed"]
    assert changed.json()["active"] is False and changed.json()["url"] == "https://a.example/h"
    moved = api.patch(f"{base}/{sub['id']}", headers=AUTH, json={"url": "https://b.example/h"})
    assert moved.json()["url"] == "https://b.example/h" and moved.json()["events"] == ["video_completed"]
    assert api.delete(f"{base}/{sub['id']}", headers=AUTH).status_code == 204
    assert api.get(f"{base}/{sub['id']}", headers=AUTH).status_code == 404
    assert api.get(base, headers=AUTH).json() == []


def test_hubspot_preset_is_created_from_its_config(api, runtime, campaign_id):
    runtime.settings.hubspot_forms_url = "https://api.hsforms.com"
    created = api.post(
        f"/api/campaigns/{campaign_id}/webhooks", headers=AUTH, json={"preset": "hubspot", "preset_config": HUBSPOT}
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["url"] == f"https://api.hsforms.com/submissions/v3/integration/submit/123456/{FORM_GUID}"
    assert sub["events"] == ["form_submitted"] and sub["preset_config"]["fields"] == {"email": "email"}
    changed = api.patch(
        f"/api/campaigns/{campaign_id}/webhooks/{sub['id']}",
        headers=AUTH,
        json={"preset_config": {**HUBSPOT, "portal_id": "99"}},
    )
    assert changed.status_code == 200 and "/submit/99/" in changed.json()["url"]


BAD_SUBSCRIPTIONS = [  # body, the field the error names, words it says
    ({"url": "https://a.example/h", "events": ["form_sent"]}, "events", ", ".join(WEBHOOK_EVENTS)),
    ({"url": "https://a.example/h", "events": []}, "events", "at least one"),
    ({"url": "https://a.example/h"}, "events", "required"),
    ({"url": "ftp://a.example/h", "events": ["cta_clicked"]}, "url", "only http and https"),
    ({"url": "javascript:alert(1)", "events": ["cta_clicked"]}, "url", "only http and https"),
    ({"url": "https://u:p@a.example/h", "events": ["cta_clicked"]}, "url", "credentials"),
    ({"url": "https://a.example/h h", "events": ["cta_clicked"]}, "url", "whitespace"),
    ({"url": "https://a.example:99999/h", "events": ["cta_clicked"]}, "url", "port"),
    ({"url": "https://" + "a" * 2100 + ".example", "events": ["cta_clicked"]}, "url", "2048"),
    ({"events": ["cta_clicked"]}, "url", "required"),
    ({"url": "https://a.example/h", "events": ["cta_clicked"], "secret": "hunter2"}, "secret", "whsec_"),
    ({"url": "https://a.example/h", "events": ["cta_clicked"], "secret": "whsec_c2hvcnQ="}, "secret", "24 to 64"),
    ({"url": "https://a.example/h", "events": ["cta_clicked"], "secret": "whsec_!!"}, "secret", "base64"),
    ({"preset": "hubspot"}, "preset_config", "portal_id"),
    ({"preset": "salesforce", "url": "https://a.example/h", "events": ["cta_clicked"]}, "preset", "hubspot"),
    ({"preset": "hubspot", "preset_config": HUBSPOT, "url": "https://a.example"}, "url", "leave it out"),
    ({"preset": "hubspot", "preset_config": HUBSPOT, "events": ["poll_answered"]}, "events", "only"),
    ({"preset": "hubspot", "preset_config": {**HUBSPOT, "portal_id": "x1"}}, "portal_id", "pattern"),
    ({"preset": "hubspot", "preset_config": {**HUBSPOT, "form_guid": "nope"}}, "form_guid", "pattern"),
    ({"preset": "hubspot", "preset_config": {**HUBSPOT, "fields": {}}}, "fields", "at least 1"),
    ({"preset": "hubspot", "preset_config": {**HUBSPOT, "fields": {"e mail": "x"}}}, "fields", "property"),
    ({"preset": "hubspot", "preset_config": {**HUBSPOT, "consent_text": "a\x00b"}}, "consent_text", "NUL"),
    ({"url": "https://a.example/h", "events": ["cta_clicked"], "preset_config": HUBSPOT}, "preset_config", "only"),
    ({"url": "https://a.example/h", "events": ["cta_clicked"], "colour": "red"}, "colour", "Extra inputs"),
]


def test_bad_subscriptions_are_422_naming_the_field(api, campaign_id):
    for body, field, words in BAD_SUBSCRIPTIONS:  # one app for all: starting one takes seconds
        response = api.post(f"/api/campaigns/{campaign_id}/webhooks", headers=AUTH, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in detail(response) and words in detail(response), (body, response.text)
    assert api.get(f"/api/campaigns/{campaign_id}/webhooks", headers=AUTH).json() == []


def test_a_literal_private_address_is_refused_unless_allowed(api, runtime, campaign_id):
    runtime.settings.webhook_allow_private = False
    for url in ("http://127.0.0.1:9/h", "http://10.1.2.3/h", "http://[::1]/h", "http://169.254.169.254/latest"):
        response = api.post(
            f"/api/campaigns/{campaign_id}/webhooks", headers=AUTH, json={"url": url, "events": ["cta_clicked"]}
        )
        assert response.status_code == 422 and "url" in detail(response) and "not a public address" in detail(response)


def test_bad_changes_are_422_and_change_nothing(api, campaign_id):
    base = f"/api/campaigns/{campaign_id}/webhooks"
    sub = api.post(base, headers=AUTH, json={"url": "https://a.example/h", "events": ["form_submitted"]}).json()
    for body, field in (
        ({"events": ["nope"]}, "events"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"active": "maybe"}, "active"),
        ({"secret": "whsec_x"}, "secret"),
        ({"preset_config": HUBSPOT}, "preset_config"),
    ):
        response = api.patch(f"{base}/{sub['id']}", headers=AUTH, json=body)
        assert response.status_code == 422 and field in detail(response), (body, response.text)
    assert api.get(f"{base}/{sub['id']}", headers=AUTH).json() == sub | {"secret": f"whsec_…{sub['secret'][-4:]}"}


def test_unknown_ids_are_404_and_keys_are_checked(api, campaign_id):
    base = f"/api/campaigns/{campaign_id}"
    sub = api.post(f"{base}/webhooks", headers=AUTH, json={"url": "https://a.example/h", "events": ["cta_clicked"]})
    sub_id = sub.json()["id"]
    assert api.get("/api/campaigns/nope/webhooks", headers=AUTH).status_code == 404
    good = {"url": "https://a.example", "events": ["cta_clicked"]}
    assert api.post("/api/campaigns/nope/webhooks", headers=AUTH, json=good).status_code == 404
    assert api.get("/api/campaigns/nope/webhooks/" + sub_id, headers=AUTH).status_code == 404  # another campaign's
    for path in (f"{base}/webhooks/nope", f"{base}/webhooks/nope/deliveries", f"{base}/webhook-deliveries/msg_x"):
        assert api.get(path, headers=AUTH).status_code == 404, path
    assert api.patch(f"{base}/webhooks/nope", headers=AUTH, json={"active": False}).status_code == 404
    assert api.delete(f"{base}/webhooks/nope", headers=AUTH).status_code == 404
    assert api.post(f"{base}/webhook-deliveries/{'x' * 300}/replay", headers=AUTH).status_code == 404
    assert api.get(f"{base}/webhooks", headers={"X-API-Key": "wrong"}).status_code == 401
    assert api.get(f"{base}/webhooks").status_code == 401
    log = f"{base}/webhooks/{sub_id}/deliveries"
    assert api.get(log, headers=AUTH, params={"status": "lost"}).status_code == 422
    assert api.get(log, headers=AUTH, params={"limit": 0}).status_code == 422
    bad_cursor = api.get(log, headers=AUTH, params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 422 and "cursor" in detail(bad_cursor)


def test_log_and_replay_through_the_api(api, runtime, campaign_id, receiver):
    base = f"/api/campaigns/{campaign_id}"
    sub = api.post(f"{base}/webhooks", headers=AUTH, json={"url": receiver.url(), "events": ["form_submitted"]}).json()
    answer(runtime, campaign_id, "f1")
    receiver.wait_for(lambda r: len(r.delivered) == 1, "the first delivery")
    first = receiver.requests[0]
    assert first.verified(sub["secret"])["data"] == {"answer": {"n": 1}, "event_id": "f1"}

    log = wait_until(
        lambda: [
            d
            for d in api.get(f"{base}/webhooks/{sub['id']}/deliveries", headers=AUTH).json()["deliveries"]
            if d["status"] == "delivered"
        ],
        "the log to show the delivery",
    )
    (row,) = log
    assert row["id"] == first.webhook_id and row["event_id"] == "f1" and row["event_type"] == "form_submitted"
    assert row["attempts"] == 1 and row["last_status_code"] == 204 and row["last_latency_ms"] is not None
    assert row["delivered_at"] and row["next_attempt_at"] is None

    receiver.hold("/hooks")  # a slow receiver: the API answers while it holds the replay
    replayed = api.post(f"{base}/webhook-deliveries/{row['id']}/replay", headers=AUTH)
    assert replayed.status_code == 202 and replayed.json()["status"] == "pending"
    receiver.wait_for(lambda r: len(r.requests) == 2, "the replay")
    answer(runtime, campaign_id, "f2")
    assert api.get(f"{base}/webhooks/{sub['id']}/deliveries", headers=AUTH).status_code == 200
    assert receiver.requests[1].answered is None  # still held while the API answered
    receiver.release()
    receiver.wait_for(lambda r: len(r.delivered) == 2 and r.delivered[row["id"]] == 2, "both deliveries")
    assert receiver.requests[1].webhook_id == row["id"]  # the same id: the receiver drops the repeat

    done = wait_until(
        lambda: (
            (d := api.get(f"{base}/webhook-deliveries/{row['id']}", headers=AUTH).json())["status"] == "delivered"
            and d["attempts"] == 2
            and d
        ),
        "the replay recorded",
    )
    assert [a["status"] for a in done["attempt_log"]] == [204, 204]
    assert done["payload"]["type"] == "form_submitted" and done["payload"]["data"]["event_id"] == "f1"
    delivered = api.get(
        f"{base}/webhooks/{sub['id']}/deliveries", headers=AUTH, params={"status": "delivered", "limit": 1}
    )
    page = delivered.json()
    assert len(page["deliveries"]) == 1 and page["next_cursor"]
    rest = api.get(
        f"{base}/webhooks/{sub['id']}/deliveries",
        headers=AUTH,
        params={"status": "delivered", "cursor": page["next_cursor"]},
    ).json()
    assert {d["event_id"] for d in page["deliveries"] + rest["deliveries"]} == {"f1", "f2"} and rest[
        "next_cursor"
    ] is None
