"""HLS output: a valid per-customer playlist over shared and personal segments, served by token."""

from __future__ import annotations

import math
import subprocess

import av
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.render import hls
from pvideo.render.probe import probe
from tests.conftest import API_KEY, FPS, SECONDS

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture()
def served(runtime):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers=AUTH,
            json={
                "scene": "card",
                "rows": [
                    {"customer_id": "h1", "first_name": "Hana", "price": 3},
                    {"customer_id": "h2", "first_name": "Ivo", "price": 4},
                ],
            },
        )
        assert response.status_code == 201, response.text
        client.app.state.pvideo.queue.join(timeout_ms=120_000)
        renders = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()
        yield client, [r["landing_url"].rsplit("/", 1)[1] for r in renders], runtime


def test_playlist_is_valid_and_segments_start_on_keyframes(served, tmp_path):
    client, tokens, _runtime = served
    response = client.get(f"/v/{tokens[0]}/index.m3u8")
    assert response.status_code == 200 and response.headers["content-type"] == "application/vnd.apple.mpegurl"
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    target = int(next(line for line in lines if line.startswith("#EXT-X-TARGETDURATION:")).split(":")[1])
    durations = [float(line[8:].rstrip(",")) for line in lines if line.startswith("#EXTINF:")]
    uris = [line for line in lines if line and not line.startswith("#")]
    assert len(durations) == len(uris) and abs(sum(durations) - SECONDS) < 1e-3
    assert all(round(d) <= target for d in durations)
    frames = 0
    for uri in uris:
        assert uri.startswith(f"/v/{tokens[0]}/hls/")
        body = client.get(uri)
        assert body.status_code == 200 and body.headers["content-type"] == "video/mp2t"
        path = tmp_path / uri.rsplit("/", 1)[1]
        path.write_bytes(body.content)
        with av.open(str(path)) as container:
            packets = [p for p in container.demux(container.streams.video[0]) if p.size]
        assert packets[0].is_keyframe
        frames += len(packets)
    assert frames == FPS * SECONDS


def test_playlist_plays_as_one_stream(served, tmp_path, settings):
    """ffmpeg reads the served playlist over HTTP-like files and decodes every frame cleanly."""
    client, tokens, _runtime = served
    text = client.get(f"/v/{tokens[0]}/index.m3u8").text
    local = hls.rewrite(text, lambda uri: uri.rsplit("/", 1)[1])
    for uri in hls.playlist_keys(text):
        (tmp_path / uri.rsplit("/", 1)[1]).write_bytes(client.get(uri).content)
    (tmp_path / "index.m3u8").write_text(local)
    out = tmp_path / "joined.mp4"
    check = subprocess.run(
        [settings.ffmpeg_exe, "-v", "error", "-i", str(tmp_path / "index.m3u8"), "-c", "copy", str(out)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and check.stderr == ""
    assert probe(out).frames == FPS * SECONDS


def test_customers_share_template_segments_and_store_only_their_parts(served):
    client, tokens, _runtime = served
    lists = [hls.playlist_keys(client.get(f"/v/{t}/index.m3u8").text) for t in tokens]
    names = [[u.rsplit("/", 1)[1] for u in keys] for keys in lists]
    shared = [n for n in names[0] if n.startswith("seg_")]
    assert shared and shared == [n for n in names[1] if n.startswith("seg_")]
    assert any(n.startswith("part_") for n in names[0])


def test_segment_route_serves_only_this_renders_segments(served):
    client, tokens, _ = served
    assert client.get(f"/v/{tokens[0]}/hls/../../secret").status_code == 404
    assert client.get(f"/v/{tokens[0]}/hls/seg_99999.ts").status_code == 404
    assert client.get(f"/v/{tokens[0]}/hls/video.mp4").status_code == 404
    assert client.get("/v/not-a-token/index.m3u8").status_code == 404


def test_landing_page_offers_hls(served):
    client, tokens, _ = served
    page = client.get(f"/v/{tokens[0]}").text
    assert f"/v/{tokens[0]}/index.m3u8" in page


def test_media_playlist_target_duration_covers_every_entry():
    items = [hls.Entry("a", 1.0), hls.Entry("b", 2.0), hls.Entry("c", 0.5)]
    text = hls.media_playlist(items)
    assert "#EXT-X-TARGETDURATION:2" in text and text.count("#EXTINF:") == 3
    assert math.isclose(
        sum(float(line[8:].rstrip(",")) for line in text.splitlines() if line.startswith("#EXTINF")), 3.5
    )


@pytest.mark.parametrize("outputs", ["hls", "mp4"])
def test_campaign_chooses_its_outputs(runtime, outputs):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers=AUTH,
            json={"scene": "card", "outputs": outputs, "rows": [{"customer_id": "x", "first_name": "Xu", "price": 1}]},
        )
        assert response.status_code == 201, response.text
        client.app.state.pvideo.queue.join(timeout_ms=120_000)
        render = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()[0]
        token = render["landing_url"].rsplit("/", 1)[1]
        stored = {p.name for p in (runtime.settings.data_dir / "storage" / "outputs").glob("*/*")}
        if outputs == "hls":
            assert "video.mp4" not in stored and "index.m3u8" in stored and render["video_url"].endswith(".m3u8")
            assert client.get(f"/v/{token}/index.m3u8").status_code == 200
            assert client.get(f"/v/{token}/video.mp4").status_code == 404
        else:
            assert "video.mp4" in stored and not any(n.endswith((".m3u8", ".ts")) for n in stored)
            assert client.get(f"/v/{token}/index.m3u8").status_code == 404
            assert "index.m3u8" not in client.get(f"/v/{token}").text
        assert {"poster.jpg", "thumbnail.jpg"} <= stored


def test_bad_outputs_choice_is_422(runtime):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers=AUTH,
            json={"scene": "card", "outputs": "gif", "rows": [{"customer_id": "x", "first_name": "Xu", "price": 1}]},
        )
        assert response.status_code == 422
        response = client.post(
            "/api/campaigns",
            headers=AUTH,
            data={"scene": "card", "outputs": "gif"},
            files={"file": ("c.csv", "customer_id,first_name,price\nx,Xu,1\n", "text/csv")},
        )
        assert response.status_code == 422 and "outputs must be one of" in response.text
