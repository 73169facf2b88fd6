"""Campaign API and CLI: streamed CSV, row errors, idempotency, cancel, retry, progress, manifests."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.main import create_app
from pvideo.cli import app as cli_app
from pvideo.db.models import Render
from pvideo.jobs import campaigns
from pvideo.scene.customers import CustomerRow, iter_csv
from tests.conftest import API_KEY, drain
from tests.jobs.runs import submit

AUTH = {"X-API-Key": API_KEY}


def _csv(rows: list[dict], columns=("customer_id", "first_name", "price")) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_csv_upload_reports_bad_rows_by_number_and_field_and_renders_the_rest(client):
    body = _csv(
        [
            {"customer_id": "a", "first_name": "Ann", "price": "1"},
            {"customer_id": "b", "first_name": "", "price": "2"},
            {"customer_id": "c", "first_name": "Cy", "price": "cheap"},
            {"customer_id": "d", "first_name": "Di", "price": "4"},
        ]
    )
    response = client.post(
        "/api/campaigns", headers=AUTH, data={"scene": "card"}, files={"file": ("people.csv", body, "text/csv")}
    )
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert submitted["queued"] == 2 and submitted["rejected_count"] == 2
    rejected = {r["row"]: r["error"] for r in submitted["rejected"]}
    assert rejected[2] == "people.csv, row 2, field 'first_name': missing required field"
    assert "row 3" in rejected[3] and "field 'price'" in rejected[3]
    drain(client)
    status = client.get(f"/api/campaigns/{submitted['id']}", headers=AUTH).json()
    assert status["counts"]["done"] == 2 and status["counts"]["failed"] == 2
    assert status["eta_seconds"] == 0 and status["completed_at"] is not None
    assert status["rate_per_minute"] > 0


def test_csv_missing_a_required_column_is_rejected_whole(client):
    response = client.post(
        "/api/campaigns",
        headers=AUTH,
        data={"scene": "card"},
        files={"file": ("x.csv", _csv([{"customer_id": "a"}], ("customer_id",)), "text/csv")},
    )
    assert response.status_code == 422 and "first_name" in response.text


def test_idempotency_key_returns_the_first_campaign(client, runtime):
    rows = [{"customer_id": "i1", "first_name": "Ida", "price": 1}, {"customer_id": "i2", "price": 2}]
    first = client.post(
        "/api/campaigns", headers={**AUTH, "Idempotency-Key": "launch-42"}, json={"scene": "card", "rows": rows}
    )
    again = client.post(
        "/api/campaigns", headers={**AUTH, "Idempotency-Key": "launch-42"}, json={"scene": "card", "rows": rows}
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert again.json()["rejected"] == first.json()["rejected"] and again.json()["queued"] == 1
    drain(client)
    with runtime.db.session() as session:
        assert session.query(Render).count() == 2  # not four
        assert [r.attempts for r in session.query(Render).filter_by(status="done")] == [1]
    other = client.post(
        "/api/campaigns", headers={**AUTH, "Idempotency-Key": "launch-43"}, json={"scene": "card", "rows": rows}
    )
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_cancel_then_retry(runtime, card_spec):
    rows = [CustomerRow(i, {"customer_id": f"x{i}", "first_name": "X", "price": i}) for i in range(1, 4)]
    campaign_id, _ = submit(runtime, card_spec, rows)
    with runtime.db.session() as session:
        assert campaigns.cancel_campaign(session, campaign_id) == 3
    app = create_app(runtime=runtime)
    with TestClient(app) as client:
        client.app.state.pvideo.queue.fan_out(campaign_id)  # a fan-out after cancel sends nothing
        drain(client)
        status = client.get(f"/api/campaigns/{campaign_id}", headers=AUTH).json()
        assert status["status"] == "cancelled" and status["counts"]["cancelled"] == 3
        manifest = client.get(f"/api/campaigns/{campaign_id}/manifest?format=json", headers=AUTH).json()
        assert {r["status"] for r in manifest} == {"cancelled"} and manifest[0]["landing_url"] is None
        retried = client.post(f"/api/campaigns/{campaign_id}/retry", headers=AUTH)
        assert retried.json() == {"queued": 3}
        drain(client)
        status = client.get(f"/api/campaigns/{campaign_id}", headers=AUTH).json()
    assert status["counts"]["done"] == 3 and status["status"] == "active"


def test_manifest_csv_and_json_carry_every_link(client):
    response = client.post(
        "/api/campaigns",
        headers=AUTH,
        json={
            "scene": "card",
            "rows": [{"customer_id": "m1", "first_name": "Mo", "price": 1}, {"customer_id": "m2", "price": 1}],
        },
    )
    campaign_id = response.json()["id"]
    drain(client)
    text = client.get(f"/api/campaigns/{campaign_id}/manifest", headers=AUTH)
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.text)))
    assert list(rows[0]) == [
        "row",
        "customer_id",
        "status",
        "landing_url",
        "video_url",
        "poster_url",
        "thumbnail_url",
        "thumbnail_gif_url",
        "thumbnail_webp_url",
        "captions_url",
        "track_url",
        "error",
    ]
    done, failed = rows
    assert done["status"] == "done" and done["landing_url"].startswith("http://testserver/v/")
    for column, suffix in (
        ("video_url", "/video.mp4"),
        ("poster_url", "/poster.jpg"),
        ("thumbnail_url", "/thumbnail.jpg"),
    ):
        assert done[column] == done["landing_url"] + suffix
        fetched = client.get(done[column].removeprefix("http://testserver"))
        assert fetched.status_code == 200 and len(fetched.content) > 1000
    from PIL import Image

    thumb = Image.open(io.BytesIO(client.get(done["thumbnail_url"].removeprefix("http://testserver")).content))
    assert thumb.size == (320, 180)
    assert failed["status"] == "failed" and "first_name" in failed["error"] and failed["video_url"] == ""
    as_json = client.get(f"/api/campaigns/{campaign_id}/manifest?format=json", headers=AUTH).json()
    assert [r["customer_id"] for r in as_json] == ["m1", "m2"] and as_json[1]["video_url"] is None


def test_streamed_csv_is_not_held_in_memory():
    header = "customer_id,first_name,price\n"
    row = "c,Someone With A Long Name,1.5\n"

    class Lines(io.TextIOBase):  # 100k rows that only ever exist one at a time
        def __init__(self) -> None:
            self.left = 100_000
            self.sent_header = False

        def readable(self) -> bool:
            return True

        def readline(self, size=-1) -> str:
            if not self.sent_header:
                self.sent_header = True
                return header
            if self.left == 0:
                return ""
            self.left -= 1
            return row

        def __next__(self) -> str:
            line = self.readline()
            if not line:
                raise StopIteration
            return line

    tracemalloc.start()
    _, rows = iter_csv(Lines())
    count = sum(1 for _ in rows)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 100_000 and peak < 1_000_000


def test_cli_submit_wait_status_manifest_json(settings, scenes_dir, tmp_path, monkeypatch):
    for key, value in {
        "PVIDEO_DATA_DIR": settings.data_dir,
        "PVIDEO_ASSETS_DIR": settings.assets_dir,
        "PVIDEO_SCENES_DIR": scenes_dir,
        "PVIDEO_SECRET_KEY": settings.secret_key,
        "PVIDEO_X264_PRESET": "ultrafast",
        "PVIDEO_LOG_FORMAT": "text",
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PVIDEO_REDIS_URL", raising=False)
    people = tmp_path / "people.csv"
    people.write_bytes(
        _csv(
            [
                {"customer_id": "k1", "first_name": "Kai", "price": "1"},
                {"customer_id": "k2", "first_name": "", "price": "1"},
            ]
        )
    )
    runner = CliRunner()
    result = runner.invoke(
        cli_app,
        ["campaign", "submit", str(scenes_dir / "card.yaml"), str(people), "--wait", "--idempotency-key", "cli-1"],
    )
    assert result.exit_code == 3, result.output  # row 2 failed (docs/guide.md, exit codes)
    campaign_id = result.stdout.strip().splitlines()[-1]
    status = runner.invoke(cli_app, ["campaign", "status", campaign_id])
    assert "done 1" in status.output and "failed 1" in status.output
    out = tmp_path / "links.json"
    assert runner.invoke(cli_app, ["campaign", "manifest", campaign_id, "-o", str(out)]).exit_code == 0
    links = json.loads(out.read_text())
    assert [r["status"] for r in links] == ["done", "failed"] and links[0]["thumbnail_url"].endswith("thumbnail.jpg")
