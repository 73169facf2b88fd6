"""Bounded work: previews in a killable child with a pixel budget, memory and CPU ceilings; request
headers and bodies with read timeouts; a route's size limit before its body; /readyz within 2 s.

Previews run through the test client (the app shares this process, so its memory is this
process's); what needs a real connection (stalls, a client that leaves) runs ``pvideo serve``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from PIL import Image

from api.limits import ROUTE_BODY_LIMITS
from api.routes import events
from pvideo.access.apikeys import create_key
from pvideo.render.sandboxed import PreviewJob, PreviewSandbox, RunningPreview
from pvideo.scene.limits import MAX_DEPTH
from tests.api.served import (
    FrozenListener,
    PeakRss,
    alive,
    app_client,
    children,
    post_head,
    raw,
    refusal,
    served,
    wait_until,
    whole_answer,
)
from tests.conftest import API_KEY, CARD_SCENE, copy_assets

AUTH = {"X-API-Key": API_KEY}
CHILD = "pvideo.render.sandboxed"
ROW = {"customer_id": "c1", "first_name": "Ana", "price": "9.5"}


@pytest.fixture(scope="module")
def big_assets(assets_dir, tmp_path_factory):
    """The test assets plus an HD (1920x1080) and a UHD (3840x2160) template."""
    from pvideo.settings import Settings

    assets = copy_assets(assets_dir, tmp_path_factory.mktemp("big") / "assets")
    for name, size, rate in (("hd", "1920x1080", 10), ("uhd", "3840x2160", 2)):
        source = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:d=1"]
        encode = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
        target = str(assets / f"templates/{name}.mp4")
        subprocess.run([Settings().ffmpeg_exe, "-v", "error", "-y", *source, *encode, target], check=True)
    return assets


def _shape(video: str, w: int, h: int) -> dict:
    box = {"x": 0, "y": 0, "w": w, "h": h}
    layer = {"type": "shape", "id": "huge", "start": 0, "end": 1, "box": box, "fill": "#ff0000"}
    return {"name": "big", "video": f"templates/{video}", "fields": {}, "layers": [layer]}


def _preview(client, scene, row=None, at=0.2):
    return client.post("/api/scenes/preview", headers=AUTH, json={"scene": scene, "row": row or {}, "at": at})


def _card(client) -> set[int]:
    """A small preview; returns the preview processes it started (the fork server, at the first)."""
    before = children(os.getpid(), CHILD)
    response = _preview(client, yaml.safe_dump(CARD_SCENE), ROW, 1.5)
    assert response.status_code == 200, response.text
    return children(os.getpid(), CHILD) - before


def _started_previews(monkeypatch: pytest.MonkeyPatch) -> list[RunningPreview]:
    """Every preview job handed to a child from now on (the sandbox still starts each one)."""
    started: list[RunningPreview] = []
    start = PreviewSandbox.start

    def recorded(sandbox: PreviewSandbox, job: PreviewJob) -> RunningPreview:
        started.append(start(sandbox, job))
        return started[-1]

    monkeypatch.setattr(PreviewSandbox, "start", recorded)
    return started


def test_a_box_past_the_pixel_budget_is_refused_naming_the_layer_and_field(client, monkeypatch):
    """Was 12.5 s and +3.7 GB in the server for a 12000x12000 box on a 1280x720 frame. The box is
    refused before it is drawn: under the smallest memory ceiling (one RGBA copy of it is 576 MB)
    and one CPU-second, the answer is still the pixel budget's, not a limit's."""
    settings = client.app.state.pvideo.runtime.settings
    with monkeypatch.context() as tight:
        tight.setattr(settings, "preview_memory_mb", 512)
        tight.setattr(settings, "preview_cpu_seconds", 1)
        response = _preview(client, _shape("tiny.mp4", 12000, 12000))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "layer 1 (shape 'huge'), field box" in detail and "640x360" in detail
    assert _preview(client, _shape("tiny.mp4", 1280, 720)).status_code == 200  # twice the frame is fine


def test_a_deeply_nested_scene_is_refused_before_it_is_parsed(client, monkeypatch):
    """A 90 KB YAML scene nested 45,000 deep cost ~45 CPU-s in the server, then 504. Now the
    server's scan stops one level past the limit, and no preview process is given the scene."""
    scanned: list[yaml.Event] = []
    parse = yaml.parse

    def counted(*args: Any, **kwargs: Any) -> Iterator[yaml.Event]:
        for event in parse(*args, **kwargs):
            scanned.append(event)
            yield event

    monkeypatch.setattr(yaml, "parse", counted)
    started = _started_previews(monkeypatch)
    nested = "name: n\nvideo: templates/tiny.mp4\nlayers: []\nx: " + "[" * 45_000 + "]" * 45_000 + "\n"
    response = _preview(client, nested)
    assert response.status_code == 422, response.text
    assert f"nested deeper than {MAX_DEPTH} levels" in response.json()["detail"]
    assert not started, "the scene went to a preview process"
    # 75: the scene's head (11 events, its mapping the first level), then brackets to one level past
    # MAX_DEPTH; the text holds over 90,000
    assert 0 < len(scanned) <= MAX_DEPTH + 16, f"the scan read {len(scanned)} YAML events"


def test_the_preview_runs_in_a_child_and_the_server_keeps_its_memory(settings, big_assets):
    """A box twice the HD frame takes a few hundred MB to composite: all of it in the child."""
    with app_client(settings, assets_dir=big_assets) as client:
        _card(client)  # the first preview also starts the next child: not counted below
        time.sleep(1)
        with PeakRss() as rss:
            response = _preview(client, _shape("hd.mp4", 3840, 2160))
        assert response.status_code == 200, response.text
        frame = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        assert frame.shape == (1080, 1920, 3)
        assert np.abs(frame[540, 960].astype(int) - (255, 0, 0)).max() <= 4  # red, through the engine's yuv420p
        assert rss.growth < 100, f"the server grew by {rss.growth} MB"
        assert children(os.getpid(), CHILD), "no preview child process"


def test_a_preview_past_its_memory_ceiling_is_refused(settings, big_assets):
    with app_client(settings, assets_dir=big_assets, preview_memory_mb=512) as client:
        response = _preview(client, _shape("uhd.mp4", 7680, 4320))
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == "the preview needs more than 512 MB of memory"


def test_a_preview_past_its_cpu_time_is_refused(settings, big_assets):
    """The child's own CPU-time limit ends the work: the answer names that limit, not a timeout."""
    scene = _shape("uhd.mp4", 7680, 4320)
    # ~1 CPU-s each to rasterize, in the child: six of them, each its own colour (no two alike for
    # any cache to share), so the work is well past the second whatever ran before in that child
    scene["layers"] = [dict(scene["layers"][0], id=f"huge{n}", fill=f"#ff00{n:02x}") for n in range(6)]
    with app_client(settings, assets_dir=big_assets, preview_cpu_seconds=1) as client:
        response = _preview(client, scene)
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == "the preview needs more than 1 s of CPU time"
        _card(client)  # and the next one works


def test_a_preview_past_its_time_is_killed_with_its_child(settings, big_assets, monkeypatch):
    """504 at the deadline, and the work stops then (a thread kept running 16 CPU-s after its 504):
    the server kills the job while it is still at work, and the job dies of that kill."""
    with app_client(settings, assets_dir=big_assets) as client:
        servers = _card(client)  # the fork server starts cold: not under the short deadline below
        assert len(servers) == 1, "no warm preview fork server"
        (server,) = servers
        client.app.state.pvideo.runtime.settings.preview_timeout_seconds = 1
        time.sleep(1)
        started = _started_previews(monkeypatch)
        jobs: set[int] = set()

        def watch() -> None:  # the job's child, forked from the fork server while the request waits
            for _ in range(30):
                jobs.update(children(server, CHILD))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        response = _preview(client, _shape("uhd.mp4", 7680, 4320))
        watcher.join()
        assert response.status_code == 504 and "longer than 1 s" in response.json()["detail"]
        (running,) = started
        assert running.killed, "the job was not killed at the deadline: it had ended first, or was left running"
        assert jobs, "the preview ran in no child of the fork server"
        assert wait_until(lambda: not any(alive(pid) for pid in jobs), 2), "the preview child outlived its 504"
        assert wait_until(lambda: running.frames.returncode is not None, 10), "no exit reported for the job"
        assert running.frames.returncode == -signal.SIGKILL, "the job ended otherwise than by the kill"
        assert alive(server), "the fork server went down with the job"
        client.app.state.pvideo.runtime.settings.preview_timeout_seconds = 60
        _card(client)  # its slot is free again


def test_a_preview_whose_client_leaves_is_killed(tmp_path, big_assets, scenes_dir):
    with served(tmp_path, big_assets, scenes_dir) as server:
        body = {"scene": yaml.safe_dump(CARD_SCENE), "row": ROW, "at": 1.5}
        warm = httpx.post(f"{server.url}/api/scenes/preview", headers=AUTH, json=body, timeout=60)
        assert warm.status_code == 200, warm.text
        time.sleep(1)
        forks = children(server.pid, CHILD)
        assert len(forks) == 1, "no warm preview fork server"
        heavy = json.dumps({"scene": _shape("uhd.mp4", 7680, 4320), "row": {}, "at": 0.2}).encode()
        sock = raw(server.port, post_head("/api/scenes/preview", len(heavy)) + heavy)
        time.sleep(1)
        jobs = children(next(iter(forks)), CHILD)
        assert jobs, "the preview ended before its client left"
        sock.close()
        assert wait_until(lambda: not any(alive(pid) for pid in jobs), 3), "the preview outlived its client"


SLOW = {"body_idle_timeout_seconds": 1, "body_timeout_seconds": 3, "header_timeout_seconds": 2}


@pytest.fixture()
def slow_server(tmp_path, assets_dir, scenes_dir):
    with served(tmp_path, assets_dir, scenes_dir, **SLOW) as server:
        yield server


def test_stalled_and_dripping_bodies_get_408(slow_server):
    """Stalled uploads were held 62 s and more; one byte a second was still open after 40 s."""
    port = slow_server.port
    stalled = refusal(port, post_head("/api/campaigns", 1000) + b'{"scene": ')
    assert stalled.status == "HTTP/1.1 408 Request Timeout" and stalled.closed, stalled
    assert stalled.detail == "no request body data for 1 s" and stalled.took >= 0.8, stalled  # not before
    for path in ("/api/campaigns", "/api/scenes/preview"):  # the idle timeout never fires: the whole body's does
        dripped = refusal(port, post_head(path, 1000) + b"{", drip=0.5)
        assert dripped.status == "HTTP/1.1 408 Request Timeout" and dripped.closed, (path, dripped)
        assert dripped.detail.startswith("request body not received within 3"), (path, dripped)
        assert dripped.took >= 2.5, (path, dripped)


def test_many_stalled_uploads_are_all_released(slow_server):
    socks = [raw(slow_server.port, post_head("/api/campaigns", 1000) + b"{") for _ in range(200)]
    time.sleep(3)
    statuses = [whole_answer(sock, within=30).status for sock in socks]
    for sock in socks:
        sock.close()
    assert statuses == ["HTTP/1.1 408 Request Timeout"] * 200
    assert httpx.get(f"{slow_server.url}/healthz", timeout=5).status_code == 200


def test_stalled_headers_get_408_and_huge_headers_are_refused(slow_server):
    for head in (b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b""):  # half the headers; connected, sent nothing
        stalled = refusal(slow_server.port, head)
        assert stalled.status == "HTTP/1.1 408 Request Timeout" and stalled.closed, (head, stalled)
        assert stalled.took >= 1.5, (head, stalled)  # the header timeout (2 s), not before
    huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 100_000 + b"\r\n\r\n"
    refused = refusal(slow_server.port, huge)  # refused for its size: a timeout would be a 408
    assert refused.status.startswith("HTTP/1.1 400") and refused.closed, refused


def test_a_declared_length_over_the_routes_limit_is_413_at_once(slow_server):
    """/api/events waited for a body it would refuse: 64 KB is its limit."""
    assert ROUTE_BODY_LIMITS["/api/events"] == events.MAX_BODY
    # no byte of the body is ever sent: waiting for it would end in a 408, so a 413 was "at once"
    refused = refusal(slow_server.port, post_head("/api/events", 100_000, key=None))
    assert refused.status == "HTTP/1.1 413 Request Entity Too Large" and refused.closed, refused
    assert refused.detail == "request body larger than 64 KB", refused


def test_readyz_answers_within_2_s_with_s3_frozen_and_shows_details_only_to_admins(tmp_path, assets_dir, scenes_dir):
    """/readyz hung 330 s while S3 hung, and named the hosts and the bucket to anyone."""
    frozen = FrozenListener()
    s3 = {
        "storage_url": "s3://frozen-bucket/pv",
        "s3_endpoint_url": f"http://127.0.0.1:{frozen.port}",
        "s3_read_timeout": 300,  # S3 answers nothing while the test runs, not even a timeout
    }
    aws = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        with served(tmp_path, assets_dir, scenes_dir, env=aws, **s3) as server:
            for _ in range(3):
                response = _readyz(server.url)
                assert response.status_code == 503
                assert response.json() == {
                    "status": "unavailable",
                    "checks": {"database": "ok", "storage": "fail", "redis": "embedded"},
                }
                assert str(frozen.port) not in response.text and "frozen-bucket" not in response.text
            # one request reached S3 and is unanswered still: the three answers did not wait for it
            assert len(frozen.accepted) == 1, f"{len(frozen.accepted)} connections to S3"
            threads = _threads(server.pid)
            admin = _readyz(server.url, AUTH)
            assert admin.status_code == 503, admin.text
            assert admin.json()["checks"]["storage"] == "error: no answer in 2 s"  # the check's own deadline
            assert _threads(server.pid) <= threads + 1  # the hung check is waited on, not started again
    finally:
        frozen.close()


def _readyz(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """GET /readyz; the test fails if no answer comes in 30 s (a point to stop waiting)."""
    try:
        return httpx.get(f"{url}/readyz", headers=headers, timeout=30)
    except httpx.TimeoutException:
        pytest.fail("/readyz gave no answer in 30 s while S3 hung")


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def test_readyz_details_need_an_admin_key(settings):
    broken = {"storage_url": "s3://no-such-bucket/x", "s3_endpoint_url": "http://127.0.0.1:1"}
    with app_client(settings, **broken) as client:
        client.app.state.pvideo.runtime.storage._config.retries["max_attempts"] = 1
        with client.app.state.pvideo.runtime.db.session() as session:
            _, analytics = create_key(session, ["analytics"])
            _, admin = create_key(session, ["admin"])
        for headers in ({}, {"X-API-Key": analytics}):
            public = client.get("/readyz", headers=headers)
            assert public.status_code == 503 and public.json()["checks"]["storage"] == "fail"
            assert "127.0.0.1" not in public.text and "no-such-bucket" not in public.text
        detailed = client.get("/readyz", headers={"X-API-Key": admin})
        assert detailed.status_code == 503 and "127.0.0.1:1" in detailed.json()["checks"]["storage"]
        assert client.get("/readyz", headers={"X-API-Key": "pvk_0000_wrong"}).status_code == 401
