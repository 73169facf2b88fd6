"""The studio wizard's "Privacy" options: a bad value is named on its field and nothing is
submitted; good ones are stored on the campaign and shown on its page."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from pvideo.db.models import Campaign
from tests.studio.conftest import csrf_of, sign_in_as
from tests.studio.test_wizard import customers_csv, upload


def _options(client) -> tuple[str, dict[str, str]]:
    upload_id = upload(client, customers_csv()).headers["location"].split("/")[3]
    columns = client.get(f"/studio/uploads/{upload_id}/columns")
    mapping = {"customer_id": "Customer ID", "first_name": "First Name", "plan": "Plan", "price": "PRICE"}
    client.post(
        f"/studio/uploads/{upload_id}/columns",
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in mapping.items()}},
    )
    page = client.get(f"/studio/uploads/{upload_id}/options")
    assert page.status_code == 200 and "<legend>Privacy</legend>" in page.text
    assert 'name="tracking" value="full" checked' in page.text
    key = re.search(r'name="key" value="([^"]+)"', page.text).group(1)
    return upload_id, {"csrf": csrf_of(page.text), "key": key, "render": "on_demand", "outputs": "mp4"}


def test_privacy_options_in_the_wizard(client, runtime):
    sign_in_as(client, runtime, "mia@example.com", "marketing")
    upload_id, form = _options(client)
    for field, value in (("tracking", "sometimes"), ("events_days", "-2"), ("outputs_days", "x"), ("ends_at", "soon")):
        refused = client.post(f"/studio/uploads/{upload_id}/options", data={**form, field: value})
        assert refused.status_code == 422, field
        assert re.search(rf'<p class="field-error" id="{field}-error">.+?</p>', refused.text), field
        assert f'aria-describedby="{field}-error"' in refused.text
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 0

    privacy = {"tracking": "consent", "events_days": "30", "outputs_days": "", "row_data": "after_render"}
    done = client.post(
        f"/studio/uploads/{upload_id}/options",
        data={**form, **privacy, "ends_at": "2027-02-01"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    campaign_id = done.headers["location"].rsplit("/", 1)[1]
    with runtime.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.tracking == "consent"
        assert campaign.retention == {"events_days": 30, "row_data": "after_render"}
        assert campaign.ends_at.isoformat().startswith("2027-02-01T00:00")
    page = client.get(f"/studio/campaigns/{campaign_id}")
    shown = unescape(re.search(r"<p class=\"muted\" data-privacy>(.*?)</p>", page.text, re.S).group(1))
    assert "tracking consent" in shown and "raw events and answers: 30 days" in shown
    assert "videos after the end: the deployment’s setting" in shown and "storage-less" in shown
    assert "2027-02-01" in shown
