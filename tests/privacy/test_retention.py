"""Retention with a controlled clock (``now=`` given), on SQLite + a local folder and on PostgreSQL +
S3 (moto's server): before N days nothing goes; after, raw events and answers and the outputs are
gone and every analytics number is unchanged; a run cut short by a storage failure is completed
by the next; storage-less mode clears row data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pvideo.db.models import Render
from pvideo.errors import StorageError
from pvideo.privacy.retention import apply_retention
from pvideo.runtime import Runtime
from pvideo.settings import Settings
from pvideo.storage import Storage
from pvideo.tracking.analytics import campaign_analytics
from tests.conftest import API_KEY, SECRET
from tests.privacy.retention_seed import (
    SEGMENT,
    audit_runs,
    days,
    raw_counts,
    renders_of,
    seed,
    stored_keys,
)
from tests.s3server import _raw_client

RANGES = [(None, None), (days(0).date(), days(0).date())]


@pytest.fixture(params=["sqlite-local", "postgresql-s3"])
def world(request, tmp_path, assets_dir, scenes_dir):
    values = {"data_dir": tmp_path / "data", "assets_dir": assets_dir, "scenes_dir": scenes_dir, "secret_key": SECRET}
    if request.param == "postgresql-s3":
        endpoint, bucket = request.getfixturevalue("s3_bucket")
        values.update(
            database_url=request.getfixturevalue("own_postgres_url"),  # retention runs deployment-wide
            storage_url=f"s3://{bucket}/pv",
            s3_endpoint_url=endpoint,
        )
    runtime = Runtime.from_settings(Settings(**values, api_keys=[API_KEY]))
    runtime.bucket = values.get("storage_url")  # type: ignore[attr-defined]
    yield runtime
    runtime.db.dispose()


def _numbers(runtime: Runtime, campaign_id: str) -> list[dict]:
    with runtime.db.session() as session:
        return [campaign_analytics(session, campaign_id, start=s, end=e) for s, e in RANGES]


def _bucket_keys(runtime: Runtime) -> list[str]:
    """Every object name in the bucket, read over S3 (a local folder: the files under it)."""
    url = runtime.bucket  # type: ignore[attr-defined]
    if url is None:
        root = runtime.settings.data_dir / "storage"
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    bucket = url.removeprefix("s3://").split("/")[0]
    client = _raw_client(runtime.settings.s3_endpoint_url)
    pages = client.get_paginator("list_object_versions").paginate(Bucket=bucket)
    return sorted(v["Key"].removeprefix("pv/") for page in pages for v in page.get("Versions", []))


def test_before_n_days_nothing_goes_after_it_all_does_and_the_numbers_stay(world):
    seeded = seed(world, retention={"events_days": 30, "outputs_days": 10})
    numbers, raw = _numbers(world, seeded.campaign_id), raw_counts(world, seeded.campaign_id)
    objects = _bucket_keys(world)
    assert raw[0] > 0 and raw[1] > 0 and len(objects) == 6 * 4 + 1  # the twin shares render 0's folder

    early = apply_retention(world, now=days(9.9))  # ended at day 0, events on day 0
    assert not early.changed and early.campaigns == {}
    assert raw_counts(world, seeded.campaign_id) == raw and _bucket_keys(world) == objects
    assert audit_runs(world) == []

    outputs_only = apply_retention(world, now=days(10.5))
    assert outputs_only.campaigns[seeded.campaign_id].renders_expired == 4
    assert raw_counts(world, seeded.campaign_id) == raw
    left = _bucket_keys(world)
    # render 0's folder is also the other campaign's render's: it stays, as does the template segment
    assert left == sorted([SEGMENT, *(f"outputs/{seeded.shared_digest}/{n}" for n in _files())])
    for render in renders_of(world, seeded.campaign_id):
        assert render.outputs_expired_at is not None and render.status == "done"
        assert (render.video_key, render.poster_key, render.thumbnail_key, render.outputs) == (None, None, None, None)

    late = apply_retention(world, now=days(30.5))
    assert late.campaigns[seeded.campaign_id].events == raw[0]
    assert late.campaigns[seeded.campaign_id].responses == raw[1]
    assert raw_counts(world, seeded.campaign_id) == (0, 0)
    assert _numbers(world, seeded.campaign_id) == numbers

    runs = audit_runs(world)
    assert [r.actor for r in runs] == ["system", "system"]
    assert runs[1].detail["events"] == raw[0] and runs[0].detail["renders_expired"] == 4
    again = apply_retention(world, now=days(60))
    assert not again.changed and len(audit_runs(world)) == 2


def _files() -> tuple[str, ...]:
    from tests.privacy.retention_seed import OWN_FILES

    return OWN_FILES


class FailingStorage:
    """The real storage, whose deletes fail after ``allowed`` folders (an S3 outage mid-run)."""

    def __init__(self, inner: Storage, allowed: int) -> None:
        self.inner, self.allowed = inner, allowed

    def delete_prefix(self, prefix: str) -> int:
        if self.allowed <= 0:
            raise StorageError(f"storage unreachable while deleting {prefix}")
        self.allowed -= 1
        return self.inner.delete_prefix(prefix)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_run_stopped_by_the_storage_halfway_is_completed_by_the_next(world):
    seeded = seed(world, retention={"outputs_days": 0, "events_days": 0})
    numbers = _numbers(world, seeded.campaign_id)
    storage = world.storage
    world.storage = FailingStorage(storage, allowed=1)  # type: ignore[assignment]
    cut = apply_retention(world, now=days(1), batch=1)
    state = cut.campaigns[seeded.campaign_id]
    assert state.error and "storage unreachable" in state.error
    expired = [r.id for r in renders_of(world, seeded.campaign_id) if r.outputs_expired_at is not None]
    assert 0 < len(expired) < 4  # committed batch by batch: the first renders are done, the others not
    world.storage = storage
    rest = apply_retention(world, now=days(1), batch=1)
    assert rest.errors == {}
    assert rest.campaigns[seeded.campaign_id].renders_expired == 4 - len(expired)
    assert all(r.outputs_expired_at is not None for r in renders_of(world, seeded.campaign_id))
    for n in range(1, 4):
        assert stored_keys(world.storage, f"{n:02d}" + "ab" * 31) == []
    assert raw_counts(world, seeded.campaign_id) == (0, 0)
    assert _numbers(world, seeded.campaign_id) == numbers


def test_nothing_configured_nothing_removed_and_a_dry_run_changes_nothing(world):
    seeded = seed(world, retention=None)
    raw, objects = raw_counts(world, seeded.campaign_id), _bucket_keys(world)
    assert apply_retention(world, now=days(10_000)).campaigns == {}
    with world.db.session() as session:
        session.get(Render, seeded.render_ids[0])  # nothing to see: the rows are as they were
    world.settings = world.settings.model_copy(update={"retention_events_days": 1, "retention_outputs_days": 1})
    dry = apply_retention(world, now=days(5), dry_run=True)
    assert dry.campaigns[seeded.campaign_id].events == raw[0]
    assert dry.campaigns[seeded.campaign_id].renders_expired == 4
    assert raw_counts(world, seeded.campaign_id) == raw and _bucket_keys(world) == objects
    assert [(a.actor, a.detail) for a in audit_runs(world)] == []
    # the deployment's settings apply to a campaign without its own; its own key wins, even null
    with world.db.session() as session:
        from pvideo.db.models import Campaign

        session.get(Campaign, seeded.campaign_id).retention = {"events_days": None}
    done = apply_retention(world, now=days(5))
    assert done.campaigns[seeded.campaign_id].events == 0
    assert done.campaigns[seeded.campaign_id].renders_expired == 4
    assert raw_counts(world, seeded.campaign_id) == raw


def test_storage_less_rows_done_before_are_cleared(world):
    seeded = seed(world, retention={"row_data": "after_render"})
    with world.db.session() as session:
        failed = session.get(Render, seeded.render_ids[3])
        failed.status = "failed"  # kept: a retry needs it
    report = apply_retention(world, now=days(0))
    assert report.campaigns[seeded.campaign_id].rows_cleared == 3
    with world.db.session() as session:
        data = dict(
            session.execute(select(Render.id, Render.data).where(Render.campaign_id == seeded.campaign_id)).all()
        )
    assert [data[r] for r in seeded.render_ids[:3]] == [None, None, None]
    assert data[seeded.render_ids[3]]["email"].endswith("@example.com")
    assert not apply_retention(world, now=days(0)).changed
