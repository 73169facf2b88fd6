"""Fixtures of the fault suite: its own services once per session, a ``Deployment`` per test.

The services (a ``pg_createcluster`` cluster, a ``redis-server``, a moto S3 server) are the
suite's alone, on ports of their own, so tests may stop and start them. They are removed when
the session ends, also after a failure (a finalizer, and ``atexit`` should pytest be
interrupted); a session killed outright leaves them to the next one, which removes them first.
Under ``CI=true`` a missing tool fails the test instead of skipping it.
"""

from __future__ import annotations

import atexit
import os
import subprocess
from collections.abc import Iterator

import pytest

from pvideo.settings import PROJECT_ROOT
from tests.faults.deployment import PVIDEO, Deployment, Services, clean_base_env
from tests.faults.procs import RUN_VAR, forget, kill_all, own_start_time, registered, tagged
from tests.faults.services import MotoServer, PgCluster, RedisServer, missing_tools, run_id, sweep_dead_sessions
from tests.services import unavailable


@pytest.fixture(scope="session")
def fault_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    missing = missing_tools("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "redis-server")
    if missing:
        unavailable("fault suite services", f"missing {', '.join(missing)}")
    sweep_dead_sessions()
    run = run_id(os.getpid(), own_start_time())
    root = tmp_path_factory.mktemp("faults")
    base = clean_base_env()
    tagged_env = {**base, RUN_VAR: run}
    pg = PgCluster(run)
    redis = RedisServer(root / "redis", tagged_env)
    moto = MotoServer(root / "moto", tagged_env)
    cleaned = False

    def cleanup() -> None:
        nonlocal cleaned
        if cleaned:
            return
        cleaned = True
        kill_all(tagged(run) + registered(run))
        redis.stop()
        moto.stop()
        pg.drop()
        forget(run)

    atexit.register(cleanup)
    aws = pytest.MonkeyPatch()  # the suite's own S3 clients (pvideo's S3Storage reads these too)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        aws.setenv(name, base[name])
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        aws.delenv(name, raising=False)
    try:
        try:
            pg.create()
            redis.start()
            moto.start()
        except (OSError, RuntimeError, AssertionError) as exc:  # e.g. not root: pg_createcluster refuses
            unavailable("the fault suite's own PostgreSQL, Redis and S3", exc)
        template = "pvf_template"
        url = pg.create_database(template)
        env = {**tagged_env, "PVIDEO_DATABASE_URL": url, "PYTHONPATH": str(PROJECT_ROOT)}
        migrated = subprocess.run([*PVIDEO, "db", "upgrade"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
        assert migrated.returncode == 0, f"pvideo db upgrade failed: {migrated.stdout}{migrated.stderr}"
        yield Services(pg=pg, redis=redis, moto=moto, run=run, template_db=template, base_env=base)
    finally:
        aws.undo()
        cleanup()
        atexit.unregister(cleanup)


@pytest.fixture()
def deployment(fault_services: Services, tmp_path, assets_dir, scenes_dir) -> Iterator[Deployment]:
    deployment = Deployment(fault_services, tmp_path, assets_dir, scenes_dir)
    try:
        yield deployment
    finally:
        deployment.close()
