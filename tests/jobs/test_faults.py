"""Fault tests: killed workers, a restarted Redis, a flaky S3, bad rows, a hanging ffmpeg.

The worker tests run the real ``dramatiq workers.main`` command against the
real Redis and PostgreSQL. A slow ffmpeg (a wrapper script that waits while a
flag file exists) keeps a render in flight long enough to break things under it.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render
from pvideo.errors import RenderError
from pvideo.jobs import pipeline
from pvideo.jobs.campaigns import status_counts, submit_campaign
from pvideo.render.ffmpeg_run import run_ffmpeg
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import load_scene
from pvideo.settings import PROJECT_ROOT, Settings
from tests.conftest import CARD_SCENE
from tests.services import unavailable
from workers.queue import RenderQueue

ROW = {"customer_id": "c", "first_name": "Kim", "price": 5}


def slow_ffmpeg(tmp_path: Path, real: str) -> tuple[Path, Path, Path]:
    """A wrapper: while ``slow`` exists it touches ``started`` and sleeps, then runs the real ffmpeg."""
    flag, started, wrapper = tmp_path / "slow", tmp_path / "started", tmp_path / "ffmpeg-wrapper"
    wrapper.write_text(f"""#!/bin/sh
if [ -e "{flag}" ]; then touch "{started}"; sleep "$(cat "{flag}")"; fi
exec "{real}" "$@"
""")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return wrapper, flag, started


def worker_env(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            k: str(v)
            for k, v in {
                "PVIDEO_REDIS_URL": s.redis_url,
                "PVIDEO_DATABASE_URL": s.database_url,
                "PVIDEO_STORAGE_URL": s.storage_url,
                "PVIDEO_S3_ENDPOINT_URL": s.s3_endpoint_url,
                "PVIDEO_ASSETS_DIR": s.assets_dir,
                "PVIDEO_SCENES_DIR": s.scenes_dir,
                "PVIDEO_DATA_DIR": s.data_dir,
                "PVIDEO_SECRET_KEY": s.secret_key,
                "PVIDEO_X264_PRESET": s.x264_preset,
                "PVIDEO_FFMPEG": s.ffmpeg,
                "PVIDEO_FFMPEG_TIMEOUT": s.ffmpeg_timeout,
            }.items()
            if v is not None
        }
    )
    return env


class Worker:
    """``dramatiq workers.main`` in its own process group, logging to a file."""

    def __init__(self, settings: Settings, log: Path, threads: int = 2) -> None:
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "workers.main",
                "--processes",
                "1",
                "--threads",
                str(threads),
                "--queues",
                "renders",
                "campaigns",
                "webhooks",
            ],
            cwd=PROJECT_ROOT,
            env=worker_env(settings),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _submit(runtime: Runtime, spec, rows) -> tuple[str, list[str]]:
    with runtime.db.session() as session:
        submission = submit_campaign(
            session,
            spec,
            rows,
            assets_dir=runtime.settings.assets_dir,
            tokens=ViewerTokens(runtime.settings.signing_key),
        )
        return submission.campaign.id, submission.queued


def _wait_finished(runtime: Runtime, campaign_id: str, total: int, timeout: float, worker: Worker | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            counts = status_counts(session, campaign_id)
        if counts["done"] + counts["failed"] >= total:
            return counts
        time.sleep(0.25)
    raise AssertionError(f"campaign not finished in {timeout} s: {counts}\n{worker.tail() if worker else ''}")


def _outputs(root: Path, name: str = "video.mp4") -> list[Path]:
    return sorted((root / "outputs").glob(f"*/{name}")) if (root / "outputs").exists() else []


@pytest.fixture()
def shared(settings, redis_url, postgres_url, tmp_path) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "database_url": postgres_url,
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
        }
    )


def test_killed_worker_render_is_redelivered_and_stored_once(shared, card_spec, tmp_path):
    wrapper, flag, started = slow_ffmpeg(tmp_path, shared.ffmpeg_exe)
    s = shared.model_copy(update={"ffmpeg": str(wrapper)})
    runtime = Runtime.from_settings(s)
    queue = RenderQueue(runtime)
    campaign_id, ids = _submit(runtime, card_spec, [CustomerRow(1, ROW)])
    flag.write_text("60")
    first = Worker(s, tmp_path / "worker-1.log")
    second = None
    try:
        queue.fan_out(campaign_id)
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline and first.process.poll() is None, first.tail()
            time.sleep(0.1)
        with runtime.db.session() as session:
            assert session.get(Render, ids[0]).status == "rendering"
        first.kill9()  # the machine dies mid-render: worker, its threads and its ffmpeg
        killed_at = time.monotonic()
        flag.unlink()
        second = Worker(s, tmp_path / "worker-2.log")
        counts = _wait_finished(runtime, campaign_id, 1, timeout=60, worker=second)
        recovered_in = time.monotonic() - killed_at
    finally:
        for w in (first, second):
            if w is not None:
                w.stop()
        queue.close()
    assert counts["done"] == 1, second.tail()
    assert recovered_in < 60
    with runtime.db.session() as session:
        render = session.get(Render, ids[0])
        assert render.attempts == 2 and render.error is None
    root = runtime.storage.root
    assert len(_outputs(root)) == 1 and len(_outputs(root, "poster.jpg")) == 1
    assert not list(root.rglob("*.tmp"))  # no half-written object either
    print(f"killed worker's render finished {recovered_in:.1f} s after the kill")
    runtime.db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server of this test's own (AOF on, as production should run it) that it may restart."""

    def __init__(self, directory: Path) -> None:
        self.dir, self.port = directory, _free_port()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        try:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self.dir),
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--save",
                    "",
                ],
                stdout=(self.dir / "redis.log").open("ab"),
                stderr=subprocess.STDOUT,
            )
        except FileNotFoundError as exc:
            unavailable("redis-server", exc)
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: redis flushes the AOF and exits
            self.process.wait(timeout=20)


def test_redis_restart_mid_campaign_loses_and_repeats_nothing(settings, postgres_url, card_spec, tmp_path):
    own = OwnRedis(tmp_path / "redis")
    own.start()
    wrapper, flag, _started = slow_ffmpeg(tmp_path, settings.ffmpeg_exe)
    s = settings.model_copy(
        update={
            "redis_url": own.url,
            "database_url": postgres_url,
            "ffmpeg": str(wrapper),
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
        }
    )
    runtime = Runtime.from_settings(s)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"c{i}", first_name=f"N{i}")) for i in range(1, 9)]
    campaign_id, ids = _submit(runtime, card_spec, rows)
    flag.write_text("0.7")
    worker = Worker(s, tmp_path / "worker.log")
    queue = RenderQueue(runtime)
    try:
        queue.fan_out(campaign_id)
        deadline = time.monotonic() + 60
        while True:
            with runtime.db.session() as session:
                done = status_counts(session, campaign_id)["done"]
            if done >= 2:
                break
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.1)
        own.stop()
        time.sleep(2)
        own.start()
        counts = _wait_finished(runtime, campaign_id, len(rows), timeout=90, worker=worker)
    finally:
        worker.stop()
        queue.close()
        own.stop()
    assert counts["done"] == len(rows), (counts, worker.tail())
    with runtime.db.session() as session:
        attempts = {r.id: r.attempts for r in session.query(Render).filter_by(campaign_id=campaign_id)}
    assert attempts == dict.fromkeys(ids, 1), worker.tail()  # none rendered twice
    assert len(_outputs(runtime.storage.root)) == len(rows)
    runtime.db.dispose()


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
    proxy = FlakyS3Proxy(endpoint, failures=7)  # more than botocore's own 5 attempts: our retries count
    s = settings.model_copy(update={"storage_url": f"s3://{bucket}/pv", "s3_endpoint_url": proxy.url})
    runtime = Runtime.from_settings(s)
    queue = RenderQueue(runtime)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"s{i}", first_name=f"S{i}")) for i in range(1, 4)]
    campaign_id, ids = _submit(runtime, card_spec, rows)
    try:
        queue.start()
        queue.fan_out(campaign_id)
        counts = _wait_finished(runtime, campaign_id, len(rows), timeout=90)
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
        assert max(session.get(Render, i).attempts for i in ids) >= 2  # a storage failure was retried
    runtime.db.dispose()


def test_permanent_error_fails_its_row_only_and_is_not_retried(settings, tmp_path):
    scene = dict(CARD_SCENE, fields={**CARD_SCENE["fields"], "link": {"type": "str"}})
    scene["layers"] = [dict(CARD_SCENE["layers"][2], href="{{ link }}")]
    path = tmp_path / "linked.yaml"
    path.write_text(yaml.safe_dump(scene))
    spec = load_scene(path)
    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"p{i}", link=f"https://ok.example/{i}")) for i in range(1, 5)]
    rows[2] = CustomerRow(3, dict(ROW, customer_id="p3", link="javascript:alert(1)"))
    campaign_id, ids = _submit(runtime, spec, rows)
    try:
        queue.start()
        queue.fan_out(campaign_id)
        counts = _wait_finished(runtime, campaign_id, 4, timeout=60)
    finally:
        queue.close()
    assert counts["done"] == 3 and counts["failed"] == 1
    with runtime.db.session() as session:
        bad = session.get(Render, ids[2])
        good = [session.get(Render, i) for i in ids if i != ids[2]]
    assert bad.status == "failed" and bad.attempts == 1  # failed at once, never retried
    assert "row 3" in bad.error and "href" in bad.error and "scheme" in bad.error
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


def test_hanging_ffmpeg_is_killed_with_its_children(tmp_path):
    script = hanging_ffmpeg(tmp_path)
    started = time.monotonic()
    with pytest.raises(RenderError, match="did not finish within 1 s"):
        run_ffmpeg([str(script), "-i", "x"], timeout=1)
    assert time.monotonic() - started < 5
    time.sleep(0.2)
    assert _processes_mentioning(str(tmp_path)) == []


def test_hanging_ffmpeg_fails_the_render_with_its_reason(settings, card_spec, tmp_path):
    s = settings.model_copy(update={"ffmpeg": str(hanging_ffmpeg(tmp_path)), "ffmpeg_timeout": 1})
    runtime = Runtime.from_settings(s)
    _, ids = _submit(runtime, card_spec, [CustomerRow(1, ROW)])
    with pytest.raises(RenderError):
        pipeline.render_customer(runtime.db, runtime.storage, s, ids[0], final_attempt=False)
    with runtime.db.session() as session:
        assert session.get(Render, ids[0]).status == "queued"  # transient: back in the queue
    status = None
    with pytest.raises(RenderError):
        status = pipeline.render_customer(runtime.db, runtime.storage, s, ids[0], final_attempt=True)
    assert status is None
    with runtime.db.session() as session:
        row = session.get(Render, ids[0])
    assert row.status == "failed" and "did not finish within 1 s" in row.error and row.attempts == 2
    time.sleep(0.2)
    assert _processes_mentioning(str(tmp_path)) == []
    runtime.db.dispose()
