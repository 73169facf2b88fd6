"""Erasure's bad input and races, in the embedded set-up (SQLite, local storage, in-process queue):
an unknown id changes nothing, erasing twice answers the same job, a render finishing after the
erase leaves nothing behind, and only admins and admin/privacy keys may erase."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.access.apikeys import create_key
from pvideo.db.models import AuditEntry, ErasureJob, Render
from pvideo.jobs import pipeline
from pvideo.privacy.erasure import load, request_erasure
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import parse_scene
from tests.conftest import API_KEY, drain
from tests.jobs.runs import submit
from tests.privacy.erasing import ERASED, KEPT, SCENE, file_hits, row_counts, studio_cookie, write_scene
from tests.webhook_receiver import wait_until
from tests.workers.test_worker_faults import slow_ffmpeg

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture()
def local(settings, tmp_path):
    return Runtime.from_settings(settings.model_copy(update={"scenes_dir": write_scene(tmp_path / "scenes")}))


@pytest.fixture()
def api(local):
    with TestClient(create_app(runtime=local)) as client:
        yield client
    local.db.dispose()


def _campaign(client) -> tuple[str, dict[str, dict]]:
    created = client.post("/api/campaigns", headers=AUTH, json={"scene": "erasable", "rows": [ERASED, KEPT]})
    assert created.status_code == 201, created.text
    drain(client)
    campaign_id = created.json()["id"]
    renders = client.get(f"/api/campaigns/{campaign_id}/renders", headers=AUTH).json()
    assert [r["status"] for r in renders] == ["done", "done"], renders
    return campaign_id, {r["customer_id"]: r for r in renders}


def test_unknown_ids_change_nothing_and_erasing_twice_answers_the_same_job(api, local):
    campaign_id, renders = _campaign(api)
    before = row_counts(local.db.engine)
    for path in ("/api/customers/nobody-here", f"/api/customers/{ERASED['customer_id']}?campaign_id=nocampaign"):
        unknown = api.delete(path, headers=AUTH)
        assert unknown.status_code == 404 and "nobody" not in unknown.text, unknown.text
    assert row_counts(local.db.engine) == before

    first = api.delete(f"/api/customers/{ERASED['customer_id']}", headers=AUTH)
    assert first.status_code == 202, first.text
    job = first.json()
    assert job["renders"] == 1 and job["removed"]["renders"] == 1
    wait_until(lambda: load(local.db, job["job_id"]).state == "done", "the erasure job done", timeout=60)
    again = api.delete(f"/api/customers/{ERASED['customer_id']}", headers=AUTH)
    scoped = api.delete(f"/api/customers/{ERASED['customer_id']}?campaign_id={campaign_id}", headers=AUTH)
    for answer in (again, scoped):
        assert answer.status_code == 202 and answer.json()["job_id"] == job["job_id"], answer.text
        assert answer.json()["state"] == "done" and answer.json()["keys_left"] == 0
    with local.db.session() as session:
        assert session.query(ErasureJob).count() == 1
        [entry] = session.query(AuditEntry).filter(AuditEntry.action == "customer.erase").all()
        assert (entry.target_type, entry.target_id, entry.actor) == ("erasure", job["job_id"], "api key (configured)")
        erased = session.get(Render, renders[ERASED["customer_id"]]["id"])
        assert erased.erased_at is not None and erased.customer_id == "" and erased.data is None
        assert erased.status == "done" and erased.viewer_token is None and erased.video_key is None
        assert session.get(Render, renders[KEPT["customer_id"]]["id"]).customer_id == KEPT["customer_id"]
    assert file_hits(local.settings.data_dir) == []
    kept = api.get(renders[KEPT["customer_id"]]["video_url"].removeprefix("http://testserver"))
    assert kept.status_code == 200 and len(kept.content) > 1000
    assert api.get(renders[ERASED["customer_id"]]["landing_url"].removeprefix("http://testserver")).status_code != 200


def test_only_admins_and_admin_or_privacy_keys_may_erase(api, local):
    _campaign(api)
    with local.db.session() as session:
        keys = {scope: create_key(session, [scope])[1] for scope in ("analytics", "campaigns", "privacy")}
    marketing, admin = studio_cookie(local, "marketing"), studio_cookie(local, "admin")
    before = row_counts(local.db.engine)
    path = f"/api/customers/{ERASED['customer_id']}"
    for scope in ("analytics", "campaigns"):
        assert api.delete(path, headers={"X-API-Key": keys[scope]}).status_code == 403
    assert api.delete(path, headers=marketing).status_code == 403
    assert api.delete(path, headers={"Cookie": admin["Cookie"]}).status_code == 403  # no CSRF token
    assert api.delete(path).status_code == 401
    assert api.delete(path, headers={"X-API-Key": "pvk_wrong_key"}).status_code == 401
    assert row_counts(local.db.engine) == before
    by_admin = api.delete(path, headers=admin)
    assert by_admin.status_code == 202, by_admin.text
    by_key = api.delete(f"/api/customers/{KEPT['customer_id']}", headers={"X-API-Key": keys["privacy"]})
    assert by_key.status_code == 202, by_key.text
    with local.db.session() as session:
        actors = [e.actor for e in session.query(AuditEntry).filter(AuditEntry.action == "customer.erase")]
    assert actors[0].startswith("admin-") and actors[1].startswith("api key pvk_")


def test_a_render_finishing_after_the_erase_leaves_no_output(settings, tmp_path):
    wrapper, flag, started = slow_ffmpeg(tmp_path, settings.ffmpeg_exe)
    runtime = Runtime.from_settings(
        settings.model_copy(update={"ffmpeg": str(wrapper), "scenes_dir": write_scene(tmp_path / "scenes")})
    )
    spec = parse_scene(SCENE)
    _, [render_id] = submit(runtime, spec, [CustomerRow(1, ERASED)])
    flag.write_text("2")
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            pipeline.render_customer(runtime.db, runtime.storage, runtime.settings, render_id)
        )
    )
    worker.start()
    wait_until(started.exists, "ffmpeg started", timeout=60)
    job = request_erasure(runtime, ERASED["customer_id"], actor="tests", role="admin")
    flag.unlink()
    worker.join(120)
    assert outcome == ["cancelled"]
    assert job.state == "done" and job.keys == []  # nothing was stored yet when it was erased
    with runtime.db.session() as session:
        row = session.get(Render, render_id)
        assert row.status == "cancelled" and row.erased_at is not None and row.plan_digest is None
    storage_root = runtime.storage.root
    assert not [p for p in (storage_root / "outputs").rglob("*") if p.is_file()]
    assert file_hits(runtime.settings.data_dir) == []
    runtime.db.dispose()
