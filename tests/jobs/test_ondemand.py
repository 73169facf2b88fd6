"""On-demand campaigns: the first view renders, streams while rendering, and renders once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import av
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from pvideo.db.models import Render
from pvideo.render import hls
from tests.conftest import API_KEY, FPS, SECONDS

AUTH = {"X-API-Key": API_KEY}


@pytest.fixture()
def on_demand(runtime):
    with TestClient(create_app(runtime=runtime)) as client:
        response = client.post(
            "/api/campaigns",
            headers=AUTH,
            json={
                "scene": "card",
                "render": "on_demand",
                "rows": [
                    {"customer_id": "o1", "first_name": "Olga", "price": 1},
                    {"customer_id": "o2", "first_name": "Pavel", "price": 2},
                ],
            },
        )
        assert response.status_code == 201, response.text
        renders = client.get(f"/api/campaigns/{response.json()['id']}/renders", headers=AUTH).json()
        yield client, [r["landing_url"].rsplit("/", 1)[1] for r in renders], [r["id"] for r in renders], runtime


def _row(runtime, render_id) -> Render:
    with runtime.db.session() as session:
        return session.get(Render, render_id)


def test_nothing_renders_until_viewed(on_demand):
    _client, _tokens, ids, runtime = on_demand
    time.sleep(0.5)
    assert [_row(runtime, i).status for i in ids] == ["queued", "queued"]
    assert not list((runtime.settings.data_dir / "storage").glob("outputs/*"))


def test_first_view_streams_while_rendering_then_finishes(on_demand, tmp_path):
    client, tokens, ids, runtime = on_demand
    playlist = client.get(f"/v/{tokens[0]}/index.m3u8")
    assert playlist.status_code == 200
    uris = hls.playlist_keys(playlist.text)
    first = client.get(uris[0])  # segment 0 is shared: playable at once, while the render goes on
    assert first.status_code == 200 and _row(runtime, ids[0]).status == "rendering"
    frames = 0
    for uri in uris:  # personal parts: the route waits for each to be encoded
        body = client.get(uri)
        assert body.status_code == 200, uri
        path = tmp_path / uri.rsplit("/", 1)[1]
        path.write_bytes(body.content)
        with av.open(str(path)) as container:
            frames += sum(1 for p in container.demux(container.streams.video[0]) if p.size)
    assert frames == FPS * SECONDS
    client.app.state.pvideo.ondemand.wait(ids[0], timeout=60)
    row = _row(runtime, ids[0])
    assert row.status == "done" and row.video_key and row.attempts == 1
    assert client.get(f"/v/{tokens[0]}/video.mp4").status_code == 200
    assert _row(runtime, ids[1]).status == "queued"  # the other customer was never viewed


def test_landing_page_first_view_offers_the_stream(on_demand):
    client, tokens, ids, runtime = on_demand
    page = client.get(f"/v/{tokens[1]}")
    assert page.status_code == 200 and f"/v/{tokens[1]}/index.m3u8" in page.text
    client.app.state.pvideo.ondemand.wait(ids[1], timeout=60)
    assert _row(runtime, ids[1]).status == "done"


def test_concurrent_first_views_render_once(on_demand):
    client, tokens, ids, runtime = on_demand
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda _: client.get(f"/v/{tokens[0]}/index.m3u8").status_code, range(6)))
    assert codes == [200] * 6
    client.app.state.pvideo.ondemand.wait(ids[0], timeout=60)
    row = _row(runtime, ids[0])
    assert row.status == "done" and row.attempts == 1
