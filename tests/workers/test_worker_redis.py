"""A real ``dramatiq`` worker process on the real Redis renders a 3-row campaign."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pvideo.db.models import Render
from pvideo.jobs.campaigns import status_counts
from pvideo.render.probe import probe
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.settings import PROJECT_ROOT, Settings
from tests.conftest import FPS, SECONDS
from tests.jobs.runs import submit
from workers.queue import RenderQueue


@pytest.fixture()
def redis_settings(settings, redis_url, own_postgres_url, tmp_path) -> Settings:
    return settings.model_copy(
        update={
            "redis_url": redis_url,
            "database_url": own_postgres_url,
            "storage_url": f"file://{tmp_path / 'shared-storage'}",
        }
    )


def _worker_env(s: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PVIDEO_REDIS_URL": s.redis_url,
            "PVIDEO_RENDER_NICE": "0",  # at the tests' priority: no preview here to yield to
            "PVIDEO_DATABASE_URL": s.database_url,
            "PVIDEO_STORAGE_URL": s.storage_url,
            "PVIDEO_ASSETS_DIR": str(s.assets_dir),
            "PVIDEO_SCENES_DIR": str(s.scenes_dir),
            "PVIDEO_DATA_DIR": str(s.data_dir),
            "PVIDEO_SECRET_KEY": s.secret_key,
            "PVIDEO_X264_PRESET": s.x264_preset,
        }
    )
    return env


def test_real_worker_renders_campaign_from_redis(redis_settings, card_spec, tmp_path):
    runtime = Runtime.from_settings(redis_settings)
    queue = RenderQueue(runtime)
    assert not queue.embedded
    rows = [
        CustomerRow(i, {"customer_id": f"r{i}", "first_name": name, "price": i})
        for i, name in enumerate(["Ana", "Bo", "Cy"], start=1)
    ]
    campaign_id, queued = submit(runtime, card_spec, rows)
    assert queue.enqueue(queued) == 3

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "workers.main", "--processes", "1", "--threads", "2", "--queues", "renders"],
        cwd=PROJECT_ROOT,
        env=_worker_env(redis_settings),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with runtime.db.session() as session:
                counts = status_counts(session, campaign_id)
            if counts["done"] + counts["failed"] == 3:
                break
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        assert counts == {"queued": 0, "rendering": 0, "done": 3, "failed": 0, "cancelled": 0}, (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        queue.close()
    with runtime.db.session() as session:
        renders = session.query(Render).filter_by(campaign_id=campaign_id).all()
        keys = {r.video_key for r in renders}
    assert len(keys) == 3  # three different customers, three different videos
    for key in keys:
        info = probe(runtime.storage.local_path(key))
        assert info.frames == FPS * SECONDS and info.has_audio
    runtime.db.dispose()
