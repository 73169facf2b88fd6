"""Fault tests with real worker processes: a killed worker, a restarted Redis.

They run the real ``dramatiq workers.main`` command against the real Redis and PostgreSQL. A
slow ffmpeg (a wrapper script that waits while a flag file exists) keeps a render in flight long
enough to break things under it.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pvideo.db.models import Render
from pvideo.jobs.campaigns import status_counts
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.settings import PROJECT_ROOT, Settings
from tests.jobs.runs import ROW, outputs, submit, wait_finished
from tests.services import unavailable
from workers.queue import RenderQueue

# How long a test waits for its workers before it gives up: a point to stop waiting and fail with
# the worker's log, never a measure of speed. A killed worker's render waits for the worker's
# heartbeat and its ingest lease to lapse (redis_heartbeat_timeout, ingest_lease_seconds), then
# for a render on a machine other tests keep busy. Under the suite's per-test timeout (300 s), so
# that a test that gives up says why.
PATIENCE = 240


def _patience_left(give_up: float) -> float:
    """The seconds left until ``give_up`` (a ``time.monotonic()``), at least one: a last look."""
    return round(max(1.0, give_up - time.monotonic()), 1)


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
                # at the tests' priority: the other test worker is no preview to yield to, and these
                # tests wait for a kill and a recovery
                "PVIDEO_RENDER_NICE": 0,
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


@pytest.fixture()
def shared(settings, redis_url, own_postgres_url, tmp_path) -> Settings:
    """Settings the test and its worker processes share: a database schema of the test's own, as
    a worker's reconciler re-sends every unfinished render it finds (other tests leave some)."""
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "database_url": own_postgres_url,
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
        }
    )


def test_killed_worker_render_is_redelivered_and_stored_once(shared, card_spec, tmp_path):
    wrapper, flag, started = slow_ffmpeg(tmp_path, shared.ffmpeg_exe)
    s = shared.model_copy(update={"ffmpeg": str(wrapper)})
    runtime = Runtime.from_settings(s)
    queue = RenderQueue(runtime)
    campaign_id, ids = submit(runtime, card_spec, [CustomerRow(1, ROW)])
    flag.write_text("60")
    first = Worker(s, tmp_path / "worker-1.log")
    second = None
    root = runtime.storage.root
    try:
        queue.fan_out(campaign_id)
        give_up = time.monotonic() + PATIENCE
        while not started.exists():
            assert time.monotonic() < give_up, f"no ffmpeg started in {PATIENCE} s\n{first.tail()}"
            assert first.process.poll() is None, first.tail()
            time.sleep(0.1)
        first.kill9()  # the machine dies mid-render: worker, its threads and its ffmpeg
        with runtime.db.session() as session:
            render = session.get(Render, ids[0])
            assert render is not None and (render.status, render.attempts) == ("rendering", 1)
        assert not outputs(root), "the render was stored before the kill"
        flag.unlink()
        second = Worker(s, tmp_path / "worker-2.log")
        counts = wait_finished(runtime, campaign_id, 1, timeout=_patience_left(give_up), tail=second.tail)
    finally:
        for w in (first, second):
            if w is not None:
                w.stop()
        queue.close()
    assert counts["done"] == 1, second.tail()
    with runtime.db.session() as session:
        render = session.get(Render, ids[0])
        assert render is not None and render.attempts == 2 and render.error is None  # the second worker's
    assert len(outputs(root)) == 1 and len(outputs(root, "poster.jpg")) == 1
    assert not list(root.rglob("*.tmp"))  # no half-written object either
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


def test_redis_restart_mid_campaign_loses_and_repeats_nothing(settings, own_postgres_url, card_spec, tmp_path):
    own = OwnRedis(tmp_path / "redis")
    own.start()
    wrapper, flag, _started = slow_ffmpeg(tmp_path, settings.ffmpeg_exe)
    s = settings.model_copy(
        update={
            "redis_url": own.url,
            "database_url": own_postgres_url,
            "ffmpeg": str(wrapper),
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
        }
    )
    runtime = Runtime.from_settings(s)
    rows = [CustomerRow(i, dict(ROW, customer_id=f"c{i}", first_name=f"N{i}")) for i in range(1, 9)]
    campaign_id, ids = submit(runtime, card_spec, rows)
    flag.write_text("0.7")
    worker = Worker(s, tmp_path / "worker.log")
    queue = RenderQueue(runtime)
    try:
        queue.fan_out(campaign_id)
        give_up = time.monotonic() + PATIENCE
        while True:
            with runtime.db.session() as session:
                done = status_counts(session, campaign_id)["done"]
            if done >= 2:
                break
            assert time.monotonic() < give_up, f"not two renders done in {PATIENCE} s\n{worker.tail()}"
            time.sleep(0.1)
        own.stop()
        time.sleep(2)
        own.start()
        counts = wait_finished(runtime, campaign_id, len(rows), timeout=_patience_left(give_up), tail=worker.tail)
    finally:
        worker.stop()
        queue.close()
        own.stop()
    assert counts["done"] == len(rows), (counts, worker.tail())
    with runtime.db.session() as session:
        attempts = {r.id: r.attempts for r in session.query(Render).filter_by(campaign_id=campaign_id)}
    assert attempts == dict.fromkeys(ids, 1), worker.tail()  # none rendered twice
    assert len(outputs(runtime.storage.root)) == len(rows)
    runtime.db.dispose()
