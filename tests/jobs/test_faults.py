"""Fault tests in one process: a flaky S3, bad rows, a hanging ffmpeg. (Killed workers and a
restarted Redis: ``tests/workers/test_worker_faults.py``.)"""

from __future__ import annotations

import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from pvideo.db.models import Render
from pvideo.errors import RenderError
from pvideo.jobs import pipeline
from pvideo.render.ffmpeg_run import run_ffmpeg
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from tests.conftest import CARD_SCENE
from tests.jobs.runs import ROW, submit, wait_finished
from workers.queue import RenderQueue


class FlakyS3Proxy:
    """Answers 503 to the first ``failures`` requests, then forwards to the real (moto) S3 server."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream, self.remaining, self.failed, self.forwarded = upstream, failures, 0, 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    fail = proxy.remaining > 0
                    proxy.remaining -= fail
                    proxy.failed += fail
                    proxy.forwarded += not fail
                if fail:
                    payload = b"<Error><Code>SlowDown</Code><Message>injected 503</Message></Error>"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                response = httpx.request(self.command, proxy.upstream + self.path, headers=headers, content=body)
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.content)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_campaign_completes_through_s3_answering_503(settings, s3_bucket, card_spec):
    endpoint, bucket = s3_bucket
    proxy = FlakyS3Proxy(endpoint, failures=7)  # more than botocore's own 3 attempts: pvideo's retries count
    s = settings.model_copy(update={"storage_url": f"s3://{bucket}/pv", "s3_endpoint_url": proxy.url})
    runtime = Runtime.from_settings(s)
    queue = RenderQueue(runtime)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"s{i}", first_name=f"S{i}")) for i in range(1, 4)]
    campaign_id, ids = submit(runtime, card_spec, rows)
    try:
        queue.start()
        queue.fan_out(campaign_id)
        counts = wait_finished(runtime, campaign_id, len(rows), timeout=90)
    finally:
        queue.close()
        proxy.close()
    assert counts["done"] == 3 and counts["failed"] == 0
    assert proxy.failed == 7 and proxy.forwarded > 0
    import boto3

    raw = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in raw.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sum(k.endswith("/video.mp4") for k in keys) == 3
    with runtime.db.session() as session:
        assert {session.get(Render, i).attempts for i in ids} == {1}  # retried inside the attempt, none used up
    runtime.db.dispose()


def test_permanent_error_fails_its_row_only_and_is_not_retried(settings, tmp_path):
    # a picture chosen by the data that is no picture: only a render finds that out (a bad link
    # or a missing file is rejected when the campaign is submitted)
    scene = dict(CARD_SCENE, fields={**CARD_SCENE["fields"], "link": {"type": "str"}, "pic": {"default": " "}})
    scene["layers"] = [
        dict(CARD_SCENE["layers"][2], href="{{ link }}"),
        dict(CARD_SCENE["layers"][1], id="pic", src="{{ pic }}"),
    ]
    path = tmp_path / "linked.yaml"
    path.write_text(yaml.safe_dump(scene))
    spec = load_scene(path)
    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"p{i}", link=f"https://ok.example/{i}")) for i in range(1, 5)]
    rows[2] = CustomerRow(3, dict(ROW, customer_id="p3", link="https://ok.example/3", pic="not-an-image.png"))
    campaign_id, ids = submit(runtime, spec, rows)
    try:
        queue.start()
        queue.fan_out(campaign_id)
        counts = wait_finished(runtime, campaign_id, 4, timeout=60)
    finally:
        queue.close()
    assert counts["done"] == 3 and counts["failed"] == 1
    with runtime.db.session() as session:
        bad = session.get(Render, ids[2])
        good = [session.get(Render, i) for i in ids if i != ids[2]]
    assert bad.status == "failed" and bad.attempts == 1  # failed at once, never retried
    assert "row 3" in bad.error and "field 'src'" in bad.error and "not-an-image.png" in bad.error
    assert all(r.status == "done" and r.error is None for r in good)
    runtime.db.dispose()


def _processes_mentioning(marker: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def hanging_ffmpeg(tmp_path: Path) -> Path:
    """An "ffmpeg" that never finishes and has a child of its own (like a real encoder pipeline)."""
    sleeper = tmp_path / "sleeper"
    sleeper.write_text("#!/bin/sh\nwhile true; do sleep 1; done\n")
    script = tmp_path / "hanging-ffmpeg"
    script.write_text(f"#!/bin/sh\n{sleeper} &\n{sleeper}\n")
    for path in (sleeper, script):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.timeout(60)  # not a bound on the kill's speed: only an end to the wait should run_ffmpeg hang
def test_hanging_ffmpeg_is_killed_with_its_children(tmp_path):
    script = hanging_ffmpeg(tmp_path)
    with pytest.raises(RenderError, match="did not finish within 1 s"):
        run_ffmpeg([str(script), "-i", "x"], timeout=1)
    time.sleep(0.2)
    assert _processes_mentioning(str(tmp_path)) == []


def test_hanging_ffmpeg_fails_the_render_with_its_reason(settings, card_spec, tmp_path):
    s = settings.model_copy(
        update={"ffmpeg": str(hanging_ffmpeg(tmp_path)), "ffmpeg_timeout": 1, "render_max_retries": 1}
    )
    runtime = Runtime.from_settings(s)
    _, ids = submit(runtime, card_spec, [CustomerRow(1, ROW)])
    with pytest.raises(RenderError):  # attempt 1 of 2: transient, re-raised for the queue to retry
        pipeline.render_customer(runtime.db, runtime.storage, s, ids[0])
    with runtime.db.session() as session:
        assert session.get(Render, ids[0]).status == "queued"  # back in the queue, lease released
    assert pipeline.render_customer(runtime.db, runtime.storage, s, ids[0]) == "failed"  # attempt 2 of 2
    with runtime.db.session() as session:
        row = session.get(Render, ids[0])
    assert row.status == "failed" and "did not finish within 1 s" in row.error and row.attempts == 2
    assert row.error.startswith("gave up after 2 attempts")
    assert pipeline.render_customer(runtime.db, runtime.storage, s, ids[0]) == "failed"  # a late message: nothing
    time.sleep(0.2)
    assert _processes_mentioning(str(tmp_path)) == []
    runtime.db.dispose()
