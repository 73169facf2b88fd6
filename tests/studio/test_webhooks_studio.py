"""The studio's webhooks page: subscribe (the secret shown once), the delivery log, replay,
pause and delete, the HubSpot form; by role, with CSRF, and every value escaped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pvideo.db.models import Campaign, WebhookDelivery, WebhookSubscription
from pvideo.jobs import deliveries
from tests.studio.conftest import csrf_of, sign_in_as
from tests.webhook_receiver import wait_until

FORM_GUID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.fixture()
def campaign_id(runtime):
    runtime.settings.webhook_allow_private = True  # the receiver listens on 127.0.0.1
    with runtime.db.session() as session:
        campaign = Campaign(name="Check-in <b>spring</b>", scene_name="checkin", scene={})
        session.add(campaign)
        session.flush()
        return campaign.id


def subs(runtime, campaign_id) -> list[WebhookSubscription]:
    with runtime.db.session() as session:
        query = select(WebhookSubscription).where(WebhookSubscription.campaign_id == campaign_id)
        return list(session.scalars(query))


def page_of(client, campaign_id) -> str:
    response = client.get(f"/studio/campaigns/{campaign_id}/webhooks")
    assert response.status_code == 200
    return response.text


def test_subscribe_see_the_log_and_replay(marketer, runtime, campaign_id, receiver):
    html = page_of(marketer, campaign_id)
    assert "No webhooks yet" in html and "Check-in &lt;b&gt;spring&lt;/b&gt;" in html
    csp = marketer.get(f"/studio/campaigns/{campaign_id}/webhooks").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "<script>" not in html
    assert f"/studio/campaigns/{campaign_id}/webhooks" in marketer.get(f"/studio/campaigns/{campaign_id}").text

    created = marketer.post(
        f"/studio/campaigns/{campaign_id}/webhooks",
        data={
            "csrf": csrf_of(html),
            "kind": "url",
            "url": receiver.url(),
            "event": ["form_submitted", "poll_answered"],
        },
    )
    assert created.status_code == 201, created.text
    (sub,) = subs(runtime, campaign_id)
    assert sub.events == ["form_submitted", "poll_answered"] and sub.created_by == "mia@example.com"
    assert sub.secret in created.text and "shown only this once" in created.text
    again = page_of(marketer, campaign_id)
    assert sub.secret not in again and f"whsec_…{sub.secret[-4:]}" in again

    with runtime.db.session() as session:
        deliveries.publish(
            session, campaign_id=campaign_id, event_type="poll_answered", event_id="nps-1", data={"answer": 9}
        )
    deliveries.wake()
    receiver.wait_for(lambda r: len(r.delivered) == 1, "the delivery")
    assert receiver.requests[0].verified(sub.secret)["data"] == {"answer": 9, "event_id": "nps-1"}
    with runtime.db.session() as session:
        (delivery,) = session.scalars(select(WebhookDelivery).where(WebhookDelivery.campaign_id == campaign_id))
        delivery_id = delivery.id
    html = wait_until(lambda: (h := page_of(marketer, campaign_id)) * ("delivered</span>" in h), "the log")
    assert "nps-1" in html and ">204<" in html and " ms<" in html

    replayed = marketer.post(
        f"/studio/campaigns/{campaign_id}/webhook-deliveries/{delivery_id}/replay",
        data={"csrf": csrf_of(html)},
        follow_redirects=False,
    )
    assert replayed.status_code == 303 and "notice=replayed" in replayed.headers["location"]
    receiver.wait_for(lambda r: r.delivered.get(delivery_id) == 2, "the replay, with the same webhook-id")
    assert "Delivery queued again" in marketer.get(replayed.headers["location"]).text


def test_bad_input_is_shown_beside_its_field_and_nothing_is_stored(marketer, runtime, campaign_id):
    csrf = csrf_of(page_of(marketer, campaign_id))
    url = f"/studio/campaigns/{campaign_id}/webhooks"
    for form, message in (
        ({"kind": "url", "url": "ftp://crm.example/x", "event": "form_submitted"}, "only http and https"),
        ({"kind": "url", "url": "https://crm.example/x"}, "name at least one of form_submitted"),
        ({"kind": "url", "url": "https://crm.example/x", "event": "form_sent"}, "unknown event type"),
        ({"kind": "hubspot", "portal_id": "12", "form_guid": FORM_GUID, "hubspot_fields": "email"}, "Line 1"),
        ({"kind": "hubspot", "portal_id": "x", "form_guid": FORM_GUID, "hubspot_fields": "email = email"}, "pattern"),
    ):
        response = marketer.post(url, data={"csrf": csrf, **form})
        assert response.status_code == 400 and message in response.text, (form, response.text[-2000:])
        assert 'aria-invalid="true"' in response.text
    assert subs(runtime, campaign_id) == []


def test_hubspot_form_pause_and_delete(marketer, runtime, campaign_id):
    csrf = csrf_of(page_of(marketer, campaign_id))
    created = marketer.post(
        f"/studio/campaigns/{campaign_id}/webhooks",
        data={
            "csrf": csrf,
            "kind": "hubspot",
            "portal_id": "123456",
            "form_guid": FORM_GUID,
            "hubspot_fields": "email = work_email\n\nfirstname=first_name\n",
            "consent_text": "You may email me.",
        },
    )
    assert created.status_code == 201, created.text
    (sub,) = subs(runtime, campaign_id)
    assert sub.preset == "hubspot" and sub.events == ["form_submitted"]
    assert sub.preset_config["fields"] == {"email": "work_email", "firstname": "first_name"}
    assert sub.url.endswith(f"/submissions/v3/integration/submit/123456/{FORM_GUID}")

    paused = marketer.post(
        f"/studio/campaigns/{campaign_id}/webhooks/{sub.id}/active", data={"csrf": csrf, "active": "false"}
    )
    assert paused.status_code == 200 and "Subscription paused" in paused.text and "Resume" in paused.text
    assert subs(runtime, campaign_id)[0].active is False
    deleted = marketer.post(f"/studio/campaigns/{campaign_id}/webhooks/{sub.id}/delete", data={"csrf": csrf})
    assert deleted.status_code == 200 and "Subscription deleted" in deleted.text
    assert subs(runtime, campaign_id) == []


def test_values_are_escaped(marketer, runtime, campaign_id):
    csrf = csrf_of(page_of(marketer, campaign_id))
    evil = "https://crm.example/h?q=<script>alert(1)</script>&x=\"'"
    created = marketer.post(
        f"/studio/campaigns/{campaign_id}/webhooks",
        data={"csrf": csrf, "kind": "url", "url": evil, "event": "cta_clicked"},
    )
    assert created.status_code == 201
    html = page_of(marketer, campaign_id)
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_roles_and_csrf(client, runtime, campaign_id):
    sign_in_as(client, runtime, "ann@example.com", "analyst")
    assert client.get(f"/studio/campaigns/{campaign_id}/webhooks").status_code == 403
    assert f"/studio/campaigns/{campaign_id}/webhooks" not in client.get(f"/studio/campaigns/{campaign_id}").text
    sign_in_as(client, runtime, "mia@example.com", "marketing")
    no_token = client.post(
        f"/studio/campaigns/{campaign_id}/webhooks",
        data={"kind": "url", "url": "https://crm.example/h", "event": "cta_clicked"},
    )
    assert no_token.status_code == 403 and subs(runtime, campaign_id) == []
    assert client.get("/studio/campaigns/nope/webhooks").status_code == 404
    signed_out = client.get(f"/studio/campaigns/{campaign_id}/webhooks", follow_redirects=False)
    assert signed_out.status_code == 200  # still signed in as marketing
    client.cookies.clear()
    assert client.get(f"/studio/campaigns/{campaign_id}/webhooks", follow_redirects=False).status_code == 303
