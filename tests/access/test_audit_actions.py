"""Every API action leaves one audit entry, with the right actor, role and target, in the action's
own transaction; and no entry holds a customer id or any value of the submitted rows."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from pvideo.access.apikeys import create_key
from pvideo.db.models import AuditEntry, WebhookDelivery
from pvideo.jobs import deliveries
from tests.conftest import API_KEY

# distinctive values, so that a scan of the log can tell they are absent
CUSTOMERS = [
    {"customer_id": "CUST-ZX81-7731", "first_name": "Zebulon Quarrington", "plan": "Platinum-Q7", "price": "4242.42"},
    {"customer_id": "CUST-ZX81-7732", "first_name": "Philippa Vantablack", "plan": "Osmium-K3", "price": "1717.17"},
]
ROW_VALUES = [value for row in CUSTOMERS for value in row.values()]


@pytest.fixture()
def api(runtime):
    runtime.settings.webhook_allow_private = True
    runtime.settings.event_export_settle_seconds = 0
    with TestClient(create_app(runtime=runtime)) as client:
        yield client


def _key(runtime, *scopes: str) -> tuple[dict[str, str], str]:
    """A stored key's header and the actor the log names it by."""
    with runtime.db.session() as session:
        row, key = create_key(session, scopes, name="audit test")
        return {"X-API-Key": key}, f"api key pvk_{row.prefix}"


def _entries(runtime) -> list[tuple]:
    with runtime.db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.actor, e.role, e.target_type, e.target_id) for e in rows]


def _scan(runtime) -> str:
    """Every stored audit value as one text: actor, role, action, target, detail (as JSON)."""
    with runtime.db.session() as session:
        rows = session.scalars(select(AuditEntry))
        return "\n".join(
            f"{e.at}|{e.actor}|{e.role}|{e.action}|{e.target_type}|{e.target_id}|{json.dumps(e.detail)}" for e in rows
        )


def test_each_api_action_is_one_entry_naming_the_key_and_no_customer(api, runtime):
    marketing, marketing_actor = _key(runtime, "campaigns", "analytics")
    admin, admin_actor = _key(runtime, "admin")

    submitted = api.post(
        "/api/campaigns", headers=marketing, json={"scene": "card", "rows": CUSTOMERS, "render": "on_demand"}
    )
    assert submitted.status_code in (201, 202), submitted.text
    campaign = submitted.json()["id"]
    # a replay (same Idempotency-Key) is not a second submission; an unknown campaign changes nothing
    again = {**marketing, "Idempotency-Key": "k-1"}
    first = api.post("/api/campaigns", headers=again, json={"scene": "card", "rows": CUSTOMERS, "render": "on_demand"})
    replayed = api.post("/api/campaigns", headers=again, json={"scene": "card", "rows": CUSTOMERS})
    assert replayed.json()["replayed"] is True and replayed.json()["id"] == first.json()["id"]
    assert api.post("/api/campaigns/nope/cancel", headers=marketing).status_code == 404

    renders = api.get(f"/api/campaigns/{campaign}/renders", headers=marketing).json()
    token = renders[0]["landing_url"].rsplit("/", 1)[1]
    event = {"event_id": uuid.uuid4().hex, "type": "page_view", "position": 0, "client_ts": "2026-11-22T10:00:00Z"}
    assert api.post("/api/events", json={"token": token, "events": [event]}).json()["stored"] == 1

    assert api.get("/api/events", headers=marketing, params={"campaign_id": campaign}).text.count("\n") == 1
    cursor = api.get("/api/events", headers=marketing, params={"campaign_id": campaign}).headers["x-next-cursor"]
    empty = api.get("/api/events", headers=marketing, params={"campaign_id": campaign, "after": cursor})
    assert empty.status_code == 200 and empty.text == ""  # a poller's empty page: not an export
    assert api.get(f"/api/campaigns/{campaign}/responses?format=csv", headers=marketing).status_code == 200
    manifest = api.get(f"/api/campaigns/{campaign}/manifest", headers=marketing)
    assert "CUST-ZX81-7731" in manifest.text  # the manifest itself names the customers; its entry does not
    assert api.post(f"/api/campaigns/{campaign}/cancel", headers=marketing).json() == {"cancelled": 2}
    assert api.post(f"/api/campaigns/{campaign}/retry", headers=marketing).json() == {"queued": 2}
    revoked = api.post(
        f"/api/renders/{renders[0]['id']}/revoke-link",
        headers=admin,
        params={"reissue": "true", "reason": "Zebulon Quarrington asked"},
    )
    assert revoked.status_code == 200, revoked.text

    hooks = f"/api/campaigns/{campaign}/webhooks"
    sub = api.post(hooks, headers=marketing, json={"url": "https://crm.example/hooks", "events": ["form_submitted"]})
    assert sub.status_code == 201, sub.text
    sub_id = sub.json()["id"]
    with runtime.db.session() as session:
        deliveries.publish(session, campaign_id=campaign, event_type="form_submitted", event_id="e1", data={"n": 1})
    assert api.patch(f"{hooks}/{sub_id}", headers=marketing, json={"active": False}).status_code == 200
    with runtime.db.session() as session:
        delivery = session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub_id))
    replay = api.post(f"/api/campaigns/{campaign}/webhook-deliveries/{delivery}/replay", headers=marketing)
    assert replay.status_code == 202, replay.text
    assert api.delete(f"{hooks}/{sub_id}", headers=marketing).status_code == 204

    configured = api.post(f"/api/campaigns/{campaign}/cancel", headers={"X-API-Key": API_KEY})
    assert configured.status_code == 200

    campaign_target = ("campaign", campaign)
    assert _entries(runtime) == [
        ("campaign.submit", marketing_actor, "campaigns", *campaign_target),
        ("campaign.submit", marketing_actor, "campaigns", "campaign", first.json()["id"]),
        ("events.export", marketing_actor, "analytics", *campaign_target),
        ("events.export", marketing_actor, "analytics", *campaign_target),
        ("answers.export", marketing_actor, "analytics", *campaign_target),
        ("manifest.download", marketing_actor, "campaigns", *campaign_target),
        ("campaign.cancel", marketing_actor, "campaigns", *campaign_target),
        ("campaign.retry", marketing_actor, "campaigns", *campaign_target),
        ("link.revoke", admin_actor, "admin", "render", renders[0]["id"]),
        ("webhook.create", marketing_actor, "campaigns", "webhook", sub_id),
        ("webhook.change", marketing_actor, "campaigns", "webhook", sub_id),
        ("webhook.replay", marketing_actor, "campaigns", "webhook_delivery", delivery),
        ("webhook.delete", marketing_actor, "campaigns", "webhook", sub_id),
        ("campaign.cancel", "api key (configured)", "campaigns", *campaign_target),
    ]
    with runtime.db.session() as session:
        submit = session.scalar(select(AuditEntry).where(AuditEntry.action == "campaign.submit"))
        assert submit.detail == {"scene": "card", "rows": 2, "rejected": 0}
    stored = _scan(runtime)
    assert API_KEY not in stored and "Quarrington asked" not in stored
    for value in ROW_VALUES + [r["viewer_token"] for r in renders if "viewer_token" in r] + [token]:
        assert value not in stored, value


def test_a_refused_action_leaves_no_entry(api, runtime):
    analytics, _ = _key(runtime, "analytics")
    refused = api.post("/api/campaigns", headers=analytics, json={"scene": "card", "rows": CUSTOMERS})
    assert refused.status_code == 403
    bad = api.post("/api/campaigns", headers={"X-API-Key": API_KEY}, json={"scene": "nope", "rows": CUSTOMERS})
    assert bad.status_code == 404
    assert _entries(runtime) == []
