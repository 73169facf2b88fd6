"""A customer's data export over the API (local storage): what it holds, what it never holds, who may ask."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select

from pvideo.access.apikeys import create_key
from pvideo.db.models import AuditEntry, Render, utcnow
from tests.conftest import API_KEY
from tests.privacy.export_seed import CUSTOMER, EMAIL, NAME, OTHER, OTHER_EMAIL, OTHER_NAME, seed
from tests.studio.conftest import sign_in_as


@pytest.fixture()
def seeded(client, runtime):
    return seed(runtime, client.app.state.pvideo.tokens, video_size=200_000)


def _key(runtime, *scopes: str) -> str:
    with runtime.db.session() as session:
        return create_key(session, scopes)[1]


def _export(client, customer: str = CUSTOMER, key: str = API_KEY, **params):
    return client.get(f"/api/customers/{customer}/export", params=params, headers={"X-API-Key": key})


def test_the_json_holds_the_customers_rows_events_answers_deliveries_and_media(client, runtime, seeded):
    answer = _export(client)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "no-store" and "attachment" in answer.headers["content-disposition"]
    doc = answer.json()
    assert doc["customer_id"] == CUSTOMER and doc["format"] == "pvideo-customer-export"
    renders = {r["id"]: r for r in doc["renders"]}
    assert set(renders) == set(seeded.customer_renders)
    assert {r["campaign_name"] for r in renders.values()} == {"Autumn", "Winter"}
    assert all(r["data"] == {"first_name": NAME, "email": EMAIL} and r["status"] == "done" for r in renders.values())
    assert all(
        r["created_at"] and r["links"]["landing_url"].startswith("http://testserver/v/") for r in renders.values()
    )
    with runtime.db.session() as session:  # the links are the current ones (one was revoked and reissued)
        tokens = {r.id: r.viewer_token for r in session.scalars(select(Render).where(Render.customer_id == CUSTOMER))}
    assert {rid: r["links"]["landing_url"].rsplit("/", 1)[1] for rid, r in renders.items()} == tokens
    assert "viewer_token" not in doc["renders"][0]
    assert doc["revoked_links"] == 1
    assert {e["render_id"] for e in doc["events"]} == set(seeded.customer_renders) and len(doc["events"]) == 4
    assert set(seeded.event_ids) <= {e["event_id"] for e in doc["events"]}
    assert {"type", "session_id", "device", "received_at", "position"} <= set(doc["events"][0])
    assert [a["answer"] for a in doc["answers"]] == [{"email": EMAIL}] * 2
    assert len(doc["viewing"]["sessions"]) >= 2
    deliveries = doc["webhook_deliveries"]
    assert {d["payload"]["data"]["render_id"] for d in deliveries} == set(seeded.customer_renders)
    assert all(d["status"] == "delivered" and d["payload"]["data"]["answer"] == {"email": EMAIL} for d in deliveries)
    media = {m["key"]: m["size"] for m in doc["media"]}
    assert media == {key: len(data) for key, data in seeded.objects.items()}  # shared segments are not theirs
    names = {m["name"] for m in doc["media"]}
    assert names == {
        "video.mp4",
        "poster.jpg",
        "thumbnail.jpg",
        "thumbnail.gif",
        "captions.vtt",
        "index.m3u8",
        "part_00001.ts",
    }


def test_another_customers_data_never_appears(client, seeded):
    text = _export(client).text
    for value in (OTHER, OTHER_NAME, OTHER_EMAIL, seeded.other_render):
        assert value not in text
    other = _export(client, OTHER).json()
    assert NAME not in json.dumps(other) and [r["id"] for r in other["renders"]] == [seeded.other_render]


def test_the_zip_holds_the_json_and_the_stored_bytes(client, runtime, seeded):
    answer = _export(client, format="zip")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        doc = json.loads(archive.read("export.json"))
        entries = {m["key"]: f"media/{m['render_id']}/{m['name']}" for m in doc["media"]}
        assert set(entries) == set(seeded.objects)
        for key, name in entries.items():
            assert archive.read(name) == runtime.storage.get_bytes(key) == seeded.objects[key]
        assert sorted(archive.namelist()) == sorted([*entries.values(), "export.json"])
        assert archive.getinfo(entries[next(k for k in entries if k.endswith("video.mp4"))]).compress_type == 0


def test_one_campaign_only(client, seeded):
    doc = _export(client, campaign_id=seeded.campaigns[1]).json()
    assert [r["campaign_id"] for r in doc["renders"]] == [seeded.campaigns[1]]
    assert {e["render_id"] for e in doc["events"]} == {seeded.customer_renders[1]}
    assert _export(client, campaign_id="0" * 32).status_code == 404


def test_unknown_and_erased_customers_are_404(client, runtime, seeded):
    assert _export(client, "nobody").status_code == 404
    with runtime.db.session() as session:  # an erased row: a tombstone, not the customer
        render = session.get(Render, seeded.other_render)
        render.customer_id, render.data, render.viewer_token, render.erased_at = "", None, None, utcnow()
    assert _export(client, OTHER).status_code == 404
    answer = _export(client, OTHER, format="zip")
    assert answer.status_code == 404 and answer.json() == {"detail": "no customer with that id"}


def test_only_admins_and_privacy_keys_may_export(client, runtime, seeded):
    assert client.get(f"/api/customers/{CUSTOMER}/export").status_code == 401
    for scopes in (("campaigns",), ("analytics",), ("campaigns", "analytics")):
        assert _export(client, key=_key(runtime, *scopes)).status_code == 403
    assert _export(client, key=_key(runtime, "admin")).status_code == 200
    assert _export(client, key=_key(runtime, "privacy")).status_code == 200
    with runtime.db.session() as session:
        roles = session.scalars(select(AuditEntry.role).where(AuditEntry.action == "customer.export")).all()
    assert roles == ["admin", "privacy"]
    assert _export(client, key="pvk_00000000_wrong").status_code == 401
    for email, role in (("mia@example.com", "marketing"), ("ann@example.com", "analyst")):
        sign_in_as(client, runtime, email, role)
        assert client.get(f"/studio/customers/{CUSTOMER}/export").status_code == 403
    sign_in_as(client, runtime, "ada@example.com", "admin")
    answer = client.get(f"/studio/customers/{CUSTOMER}/export", params={"format": "zip"})
    assert answer.status_code == 200 and zipfile.ZipFile(io.BytesIO(answer.content)).read("export.json")


def test_the_audit_entry_names_who_asked_and_never_the_customer(client, runtime, seeded):
    _export(client, format="zip", campaign_id=seeded.campaigns[0])
    _export(client, "nobody")  # refused: nothing exported, nothing logged
    sign_in_as(client, runtime, "ada@example.com", "admin")
    client.get(f"/studio/customers/{CUSTOMER}/export")
    with runtime.db.session() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "customer.export")))
        rows = [(e.actor, e.role, e.target_type, e.target_id, e.detail) for e in entries]
    assert [r[:4] for r in rows] == [
        ("api key (configured)", "admin", "campaign", seeded.campaigns[0]),
        ("ada@example.com", "admin", None, None),
    ]
    assert rows[0][4] == {"format": "zip", "renders": 1, "events": 2, "answers": 1, "media": 7}
    logged = json.dumps(rows)
    for value in (CUSTOMER, NAME, EMAIL, *seeded.customer_renders):
        assert value not in logged


def test_the_library_export_on_sqlite_and_postgresql(db, settings, tmp_path):
    """The same gathering on both databases (the deliveries are found by a JSON path)."""
    from pvideo.access.tokens import ViewerTokens
    from pvideo.privacy.export import customer_export
    from pvideo.runtime import Runtime
    from pvideo.storage import LocalStorage
    from tests.conftest import SECRET

    runtime = Runtime(settings=settings, db=db, storage=LocalStorage(tmp_path / "store"))
    seeded = seed(runtime, ViewerTokens(SECRET), video_size=100)
    export = customer_export(runtime, CUSTOMER)
    assert sorted(export.render_ids) == sorted(seeded.customer_renders)
    assert sorted(d["payload"]["data"]["render_id"] for d in export.webhook_deliveries) == sorted(
        seeded.customer_renders
    )
    assert len(export.events) == 4 and len(export.answers) == 2 and export.revoked_links == 1
    assert {m.key: m.size for m in export.media} == {k: len(v) for k, v in seeded.objects.items()}
    assert OTHER_EMAIL not in json.dumps(export.to_json())
