"""How retention runs and what a submission may say about it: the periodic runner under the
database lease, ``pvideo retention run``, the privacy options of ``POST /api/campaigns`` and
``pvideo campaign submit``, and storage-less mode through a real render and a retry."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.db.models import Campaign, Render
from pvideo.jobs.privacy_options import ROW_DATA_NOT_KEPT
from tests.conftest import API_KEY, drain
from tests.privacy.retention_seed import audit_runs, days, raw_counts, seed
from workers.retention import LEASE, RetentionRunner

AUTH = {"X-API-Key": API_KEY}
ROW = {"customer_id": "r1", "first_name": "Rae", "price": 2}


def test_two_runners_one_does_the_work(runtime):
    seeded = seed(runtime, retention={"events_days": 1})
    first = RetentionRunner(lambda: runtime, clock=lambda: days(3))
    second = RetentionRunner(lambda: runtime, clock=lambda: days(3))
    report = first.run_once()
    assert report is not None and report.campaigns[seeded.campaign_id].events > 0
    assert second.run_once() is None  # the lease is the first's for three intervals
    assert first.run_once() is not None  # its holder keeps it from run to run
    assert raw_counts(runtime, seeded.campaign_id) == (0, 0)
    assert len(audit_runs(runtime)) == 1  # the second run by the holder had nothing left to do


def test_the_loop_runs_in_a_thread_under_the_lease(runtime):
    from pvideo.db.models import Lease

    runtime.settings = runtime.settings.model_copy(update={"retention_interval_seconds": 0.2})
    seeded = seed(runtime, retention={"events_days": 1})
    runners = [RetentionRunner(lambda: runtime, clock=lambda: days(3)) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 60
        while raw_counts(runtime, seeded.campaign_id) != (0, 0):
            assert time.monotonic() < deadline, "the retention loop did not run"
            time.sleep(0.1)
        with runtime.db.session() as session:
            holder = session.get(Lease, LEASE).holder
        assert holder in {r.holder for r in runners}
    finally:
        for runner in runners:
            runner.stop()
    assert len(audit_runs(runtime)) == 1


@pytest.fixture()
def cli(settings, monkeypatch):
    for key, value in {
        "PVIDEO_DATA_DIR": settings.data_dir,
        "PVIDEO_ASSETS_DIR": settings.assets_dir,
        "PVIDEO_SCENES_DIR": settings.scenes_dir,
        "PVIDEO_SECRET_KEY": settings.secret_key,
        "PVIDEO_LOG_FORMAT": "text",
        "COLUMNS": 2000,
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PVIDEO_REDIS_URL", raising=False)
    monkeypatch.delenv("PVIDEO_DATABASE_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_the_cli_runs_it_as_of_a_moment_and_dry(cli, runtime):
    seeded = seed(runtime, retention={"events_days": 1})
    raw = raw_counts(runtime, seeded.campaign_id)
    dry = cli("retention", "run", "--now", days(3).isoformat(), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["totals"]["events"] == raw[0]
    assert raw_counts(runtime, seeded.campaign_id) == raw
    early = cli("retention", "run", "--now", days(0.5).isoformat())
    assert early.exit_code == 0 and json.loads(early.stdout)["totals"]["events"] == 0
    done = cli("retention", "run", "--now", days(3).isoformat())
    assert done.exit_code == 0 and json.loads(done.stdout)["totals"]["responses"] == raw[1]
    assert raw_counts(runtime, seeded.campaign_id) == (0, 0)
    bad = cli("retention", "run", "--now", "yesterday")
    assert bad.exit_code == 1 and "--now" in bad.output


def test_campaign_submit_options_are_checked_and_stored(cli, runtime, scenes_dir, tmp_path):
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,first_name,price\nr1,Rae,2\n")
    bad = cli("campaign", "submit", scenes_dir / "card.yaml", customers, "--tracking", "sometimes")
    assert bad.exit_code == 1 and "--tracking" in bad.output
    bad = cli("campaign", "submit", scenes_dir / "card.yaml", customers, "--events-days", "-3")
    assert bad.exit_code == 1 and "--events-days" in bad.output
    bad = cli("campaign", "submit", scenes_dir / "card.yaml", customers, "--ends-at", "soon")
    assert bad.exit_code == 1 and "--ends-at" in bad.output
    with runtime.db.session() as session:
        assert session.scalar(select(Campaign.id)) is None


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tracking": "sometimes"}, "tracking"),
        ({"retention": {"events_days": -1}}, "events_days"),
        ({"retention": {"outputs_days": "soon"}}, "outputs_days"),
        ({"retention": {"row_data": "forget"}}, "row_data"),
        ({"retention": {"keep_for": 3}}, "keep_for"),
        ({"retention": [3]}, "retention"),
        ({"ends_at": "next week"}, "ends_at"),
    ],
)
def test_bad_privacy_options_are_422_naming_the_field(client, options, field):
    response = client.post("/api/campaigns", json={"scene": "card", "rows": [ROW], **options}, headers=AUTH)
    assert response.status_code == 422
    assert any(field in [str(p) for p in error["loc"]] for error in response.json()["detail"]), response.json()


def test_multipart_privacy_options(client, runtime):
    files = {"file": ("c.csv", b"customer_id,first_name,price\nr1,Rae,2\n", "text/csv")}
    bad = client.post("/api/campaigns", data={"scene": "card", "retention": "{not json"}, files=files, headers=AUTH)
    assert bad.status_code == 422 and "retention" in json.dumps(bad.json())
    fields = {"scene": "card", "tracking": "anonymous", "retention": '{"outputs_days": 7}', "ends_at": "2027-01-31"}
    good = client.post("/api/campaigns", data=fields, files=files, headers=AUTH)
    assert good.status_code in (201, 202), good.text
    with runtime.db.session() as session:
        campaign = session.get(Campaign, good.json()["id"])
        assert (campaign.tracking, campaign.retention) == ("anonymous", {"outputs_days": 7})
        assert campaign.ends_at.isoformat().startswith("2027-01-31T00:00")


def test_storage_less_clears_row_data_after_render_and_a_retry_fails_clearly(client, runtime):
    body = {
        "scene": "card",
        "rows": [ROW],
        "outputs": "mp4",
        "tracking": "consent",
        "retention": {"row_data": "after_render", "events_days": None},
        "ends_at": "2027-03-01T12:00:00+02:00",
    }
    response = client.post("/api/campaigns", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    campaign_id = response.json()["id"]
    drain(client)
    with runtime.db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.tracking == "consent"
        assert campaign.retention == {"row_data": "after_render", "events_days": None}
        assert campaign.ends_at.isoformat().startswith("2027-03-01T10:00")
        render = session.scalars(select(Render).where(Render.campaign_id == campaign_id)).one()
        assert render.status == "done" and render.data is None
        assert render.customer_id == "r1" and render.video_key and runtime.storage.exists(render.video_key)
        render.status, render.error = "failed", "outputs lost"  # as if its outputs had to be made again
    retried = client.post(f"/api/campaigns/{campaign_id}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    drain(client)
    with runtime.db.session() as session:
        render = session.scalars(select(Render).where(Render.campaign_id == campaign_id)).one()
        assert (render.status, render.error) == ("failed", ROW_DATA_NOT_KEPT)
