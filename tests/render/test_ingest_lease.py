"""Ingest once across machines: one machine makes a template version, the others wait for it.

"Machines" here are threads with their own data folder, their own S3 client and
their own database connection pool, sharing one real S3 endpoint (moto) and one
database (SQLite file, and PostgreSQL). PUTs are counted as the S3 client sends them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from pvideo.db import leases
from pvideo.db.engine import Database
from pvideo.db.models import Lease
from pvideo.errors import RenderError
from pvideo.files import file_hash
from pvideo.plan.compiler import compile_plan
from pvideo.plan.model import RenderPlan
from pvideo.render.ingest import TemplateVersion, segment_files, version_hash
from pvideo.render.versions import cache_dir, ingest_options, template_version
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.settings import Settings
from pvideo.storage import S3Storage

SCENE = {"name": "lease", "video": "templates/tiny.mp4", "fields": {"customer_id": {"type": "str"}}, "layers": []}


@pytest.fixture()
def plan(settings: Settings) -> RenderPlan:
    spec = parse_scene(SCENE)
    return compile_plan(spec, coerce_row(spec, {"customer_id": "c1"}), assets_dir=settings.assets_dir)


def machine(settings: Settings, tmp_path: Path, name: str, **changes: object) -> Settings:
    """Settings of another worker machine: its own data folder (so its own cache and host locks)."""
    return settings.model_copy(update={"data_dir": tmp_path / name, **changes})


def counted_storage(endpoint: str, bucket: str, puts: list[str]) -> S3Storage:
    """A storage of its own whose S3 client appends every PUT of a template object to ``puts``."""
    storage = S3Storage(bucket, endpoint_url=endpoint)
    lock = threading.Lock()

    def count(request, **_) -> None:
        if "/templates/" in request.url:
            with lock:
                puts.append(request.url.rsplit("/templates/", 1)[1])

    for operation in ("PutObject", "CreateMultipartUpload"):
        storage.client.meta.events.register(f"before-send.s3.{operation}", count)
    return storage


def lease_name(plan: RenderPlan, settings: Settings) -> str:
    options = replace(ingest_options(settings), cuts=plan.cuts)
    return f"ingest:{version_hash(file_hash(plan.template), options, plan.static_overlays)}"


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def test_two_machines_on_a_fresh_template_store_it_once(db, plan, settings, s3_bucket, tmp_path) -> None:
    endpoint, bucket = s3_bucket
    puts: list[str] = []
    start = threading.Barrier(2)
    versions: dict[str, TemplateVersion] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        # a lease shorter than the ingest: the holder must renew it or the other machine takes over
        own = machine(settings, tmp_path, name, ingest_lease_seconds=1.0)
        database = Database(url_of(db))
        storage = counted_storage(endpoint, bucket, puts)
        try:
            start.wait()
            version = template_version(plan, storage, own, db=database)
            versions[name] = version
            assert all(p.is_file() for p in segment_files(version, storage, cache_dir(own)))
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert versions["a"] == versions["b"]
    version = versions["a"]
    expected = [f"{version.hash}/{s.key.rsplit('/', 1)[1]}" for s in version.segments]
    assert sorted(puts) == sorted([*expected, f"{version.hash}/manifest.json"])  # each object once
    with db.session() as session:
        assert session.scalars(select(Lease)).all() == []  # the holder released it


def test_a_waiter_takes_over_when_the_holder_dies(db, plan, settings, s3_bucket) -> None:
    endpoint, bucket = s3_bucket
    name = lease_name(plan, settings)
    assert leases.acquire(db, name, "dead-machine:1:0", 1.5)  # it never renews: it died
    puts: list[str] = []
    started = time.monotonic()
    version = template_version(plan, counted_storage(endpoint, bucket, puts), settings, db=db)
    assert time.monotonic() - started >= 1.2  # it waited for the lease to lapse
    assert f"{version.hash}/manifest.json" in puts and len(puts) == len(version.segments) + 1
    with db.session() as session:
        assert session.get(Lease, name) is None


def test_a_waiter_gives_up_after_the_bounded_wait(db, plan, settings, s3_bucket, monkeypatch) -> None:
    endpoint, bucket = s3_bucket
    assert leases.acquire(db, lease_name(plan, settings), "busy-machine:1:0", 60)
    impatient = settings.model_copy(update={"ingest_wait_seconds": 1.0})
    puts: list[str] = []
    tries: list[str] = []
    acquire = leases.acquire

    def counted(db: Database, name: str, holder: str, seconds: float) -> bool:
        tries.append(holder)
        return acquire(db, name, holder, seconds)

    monkeypatch.setattr(leases, "acquire", counted)
    started = time.monotonic()
    with pytest.raises(RenderError, match="still being made by another worker after 1 s"):
        template_version(plan, counted_storage(endpoint, bucket, puts), impatient, db=db)
    assert time.monotonic() - started >= 0.8  # it waited (a lower bound: a busy machine only adds to it)
    # and asked for the lease at its pace, pauses of 0.2 s growing by half, not in a loop: five
    # tries fit in the 1 s (at 0, 0.2, 0.5, 0.95 and 1 s); a slower machine fits fewer
    assert len(tries) <= 5, f"{len(tries)} tries for the lease in 1 s"
    assert puts == []


def test_a_renewed_lease_outlives_its_period_and_is_released_after(db) -> None:
    holder = leases.new_holder()
    assert leases.acquire(db, "ingest:renewal", holder, 0.6)
    with leases.renewed(db, "ingest:renewal", holder, 0.6):
        time.sleep(1.5)  # 2.5 lease periods
        assert not leases.acquire(db, "ingest:renewal", "other:1:0", 0.6)
    assert leases.acquire(db, "ingest:renewal", "other:1:0", 0.6)


def test_without_a_database_one_machine_still_ingests(plan, settings, s3_bucket) -> None:
    endpoint, bucket = s3_bucket
    puts: list[str] = []
    version = template_version(plan, counted_storage(endpoint, bucket, puts), settings)
    assert len(puts) == len(version.segments) + 1


def test_an_unreachable_database_costs_the_lease_not_the_ingest(plan, settings, s3_bucket) -> None:
    endpoint, bucket = s3_bucket
    down = Database("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")  # nothing listens on port 1
    puts: list[str] = []
    try:
        version = template_version(plan, counted_storage(endpoint, bucket, puts), settings, db=down)
    finally:
        down.dispose()
    assert len(puts) == len(version.segments) + 1
