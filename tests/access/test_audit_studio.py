"""What people do in the studio is on record under their own email and role: an admin's users
and keys, a marketer's cancel, retry, exports and webhooks; a refused request leaves nothing."""

from __future__ import annotations

import re

from sqlalchemy import select

from pvideo.db.models import ApiKey, AuditEntry, Campaign, User
from tests.conftest import API_KEY
from tests.studio.conftest import csrf_of, sign_in_as

ADA = "ada@example.com"
MIA = "mia@example.com"


def _seen(runtime) -> list[tuple]:
    with runtime.db.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.action, e.actor, e.role, e.target_type, e.target_id, e.detail) for e in entries]


def test_an_admins_user_and_key_changes_are_on_record_under_their_email(client, runtime):
    sign_in_as(client, runtime, ADA, "admin")
    csrf = csrf_of(client.get("/studio/users").text)
    assert client.post("/studio/users", data={"csrf": csrf, "email": "Bo@Example.com", "role": "analyst"}).is_success
    assert client.post("/studio/users", data={"csrf": csrf, "email": "bo@example.com", "role": "analyst"}).is_success
    with runtime.db.session() as session:
        bo = session.scalar(select(User.id).where(User.email == "bo@example.com"))
    for path, form in (
        ("role", {"role": "marketing"}),
        ("disable", {}),
        ("enable", {}),
        ("sign-out", {}),
    ):
        changed = client.post(f"/studio/users/{bo}/{path}", data={"csrf": csrf, **form}, follow_redirects=False)
        assert changed.status_code == 303, changed.text
    created = client.post("/studio/keys", data={"csrf": csrf, "name": "CRM", "scope": ["analytics", "campaigns"]})
    assert created.status_code == 200 and "pvk_" in created.text
    with runtime.db.session() as session:
        key = session.scalar(select(ApiKey))
        key_id, prefix = key.id, key.prefix
    assert client.post(f"/studio/keys/{key_id}/revoke", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    # refused: yourself, an unknown user, a bad role; nothing of them is on record
    with runtime.db.session() as session:
        ada = session.scalar(select(User.id).where(User.email == ADA))
    assert client.post(f"/studio/users/{ada}/disable", data={"csrf": csrf}).status_code == 409
    assert client.post("/studio/users/nope/disable", data={"csrf": csrf}).status_code == 404
    assert client.post(f"/studio/users/{bo}/role", data={"csrf": csrf, "role": "owner"}).status_code == 400

    bo_detail = {"email": "bo@example.com"}
    key_detail = {"name": "CRM", "prefix": prefix}
    admin = (ADA, "admin")
    assert _seen(runtime) == [
        ("user.create", *admin, "user", bo, {**bo_detail, "role": "analyst"}),
        ("user.invite", *admin, "user", bo, {**bo_detail, "role": "analyst"}),
        ("user.role", *admin, "user", bo, {**bo_detail, "before": "analyst", "role": "marketing"}),
        ("user.disable", *admin, "user", bo, bo_detail),
        ("user.enable", *admin, "user", bo, bo_detail),
        ("user.sign_out", *admin, "user", bo, bo_detail),
        ("apikey.create", *admin, "api_key", key_id, {**key_detail, "scopes": ["analytics", "campaigns"]}),
        ("apikey.revoke", *admin, "api_key", key_id, key_detail),
    ]


def test_a_marketers_campaign_actions_and_exports_are_on_record(client, runtime):
    runtime.settings.webhook_allow_private = True
    rows = [{"customer_id": "CUST-ZX81-9001", "first_name": "Marmaduke Oyelaran", "plan": "Gold", "price": "9.99"}]
    submitted = client.post(
        "/api/campaigns", headers={"X-API-Key": API_KEY}, json={"scene": "card", "rows": rows, "render": "on_demand"}
    )
    campaign = submitted.json()["id"]
    sign_in_as(client, runtime, MIA, "marketing")
    base = f"/studio/campaigns/{campaign}"
    csrf = csrf_of(client.get(base).text)
    assert client.post(f"{base}/cancel", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.post(f"{base}/retry", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    for path in ("manifest.csv", "manifest.json", "manifest.xlsx", "responses.csv", "responses.ndjson"):
        assert client.get(f"{base}/{path}").status_code == 200, path
    assert client.get("/studio/campaigns/nope/manifest.csv").status_code == 404
    hook = {"csrf": csrf, "kind": "url", "url": "https://crm.example/hooks", "event": ["form_submitted"]}
    created = client.post(f"{base}/webhooks", data=hook)
    assert created.status_code == 201, created.text
    sub = re.search(r"/webhooks/(\w+)/delete", created.text).group(1)
    assert client.post(f"{base}/webhooks/{sub}/active", data={"csrf": csrf, "active": "false"}).status_code == 200
    assert client.post(f"{base}/webhooks/{sub}/delete", data={"csrf": csrf}).status_code == 200
    # an analyst may look, not act: refused on the server, and not on record
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    assert client.post(f"{base}/cancel", data={"csrf": csrf}, follow_redirects=False).status_code == 403

    mia = (MIA, "marketing")
    target = ("campaign", campaign)
    assert _seen(runtime) == [
        ("campaign.submit", "api key (configured)", "campaigns", *target, {"scene": "card", "rows": 1, "rejected": 0}),
        ("campaign.cancel", *mia, *target, {"cancelled": 1}),
        ("campaign.retry", *mia, *target, {"queued": 1}),
        ("manifest.download", *mia, *target, {"format": "csv"}),
        ("manifest.download", *mia, *target, {"format": "json"}),
        ("manifest.download", *mia, *target, {"format": "xlsx"}),
        ("answers.export", *mia, *target, {"format": "csv", "masked": True}),  # marketing sees answers masked
        ("answers.export", *mia, *target, {"format": "ndjson", "masked": True}),
        ("webhook.create", *mia, "webhook", sub, {"campaign": campaign}),
        ("webhook.change", *mia, "webhook", sub, {"campaign": campaign}),
        ("webhook.delete", *mia, "webhook", sub, {"campaign": campaign}),
    ]
    with runtime.db.session() as session:
        assert session.get(Campaign, campaign).submitted_by == "api key (configured)"
    stored = repr(_seen(runtime))
    assert all(value not in stored for value in rows[0].values())
