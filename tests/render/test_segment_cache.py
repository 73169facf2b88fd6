"""The local segment cache under concurrent readers: every thread gets whole segments, first try.

A worker's threads share one cache folder; on a cold cache several of them fetch
the same segments from S3 at once. Each must get the stored bytes, none may see a
partial file, and none may fail because another thread moved its temp file away.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import pytest

from pvideo.render.ingest import IngestOptions, Segment, TemplateVersion, segment_files
from pvideo.storage import S3Storage

SEGMENTS = 8
TRIALS = 20


@pytest.fixture()
def stored_version(s3_bucket: tuple[str, str]) -> tuple[TemplateVersion, list[bytes], tuple[str, str]]:
    """A version whose segments (random bytes, 200 KB each) are stored in a real S3 bucket."""
    endpoint, bucket = s3_bucket
    blobs = [os.urandom(200_000) for _ in range(SEGMENTS)]
    segments = tuple(Segment(i, f"templates/cafe/seg_{i:05d}.ts", i * 30, 30, len(b)) for i, b in enumerate(blobs))
    version = TemplateVersion("cafe", "t.mp4", 640, 360, Fraction(30), 30 * SEGMENTS, 30, IngestOptions(), segments)
    storage = S3Storage(bucket, endpoint_url=endpoint)
    for segment, blob in zip(segments, blobs, strict=True):
        storage.put_bytes(segment.key, blob)
    return version, blobs, s3_bucket


def fetch(version: TemplateVersion, storage: S3Storage, cache: Path, start: threading.Barrier) -> list[bytes]:
    start.wait()
    return [p.read_bytes() for p in segment_files(version, storage, cache)]


@pytest.mark.parametrize("threads", [2, 4, 8])
def test_threads_filling_one_cold_cache_all_get_whole_segments(stored_version, tmp_path: Path, threads: int) -> None:
    version, blobs, (endpoint, bucket) = stored_version
    storages = [S3Storage(bucket, endpoint_url=endpoint) for _ in range(threads)]  # one per worker thread
    failures: list[str] = []
    for trial in range(TRIALS):
        cache, start = tmp_path / f"cache{trial}", threading.Barrier(threads)
        with ThreadPoolExecutor(threads) as pool:
            runs = [pool.submit(fetch, version, storage, cache, start) for storage in storages]
        for run in runs:
            if run.exception() is not None:
                failures.append(f"trial {trial}: {run.exception()!r}")
            elif run.result() != blobs:
                failures.append(f"trial {trial}: a segment differs from the stored bytes")
        left = sorted(p.name for p in (cache / "templates" / "cafe").iterdir())
        assert left == [f"seg_{i:05d}.ts" for i in range(SEGMENTS)], f"trial {trial} left temp files: {left}"
    assert failures == []
