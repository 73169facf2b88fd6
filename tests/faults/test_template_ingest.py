"""A fresh template is ingested once across machines, and one machine's threads share its segment cache.

Before the fix, two worker machines that met a new template at the same moment both ingested it
and PUT every segment and the manifest twice, and two threads of one worker wrote the same
``seg_NNNNN.part`` in the local cache, one of them failing with FileNotFoundError.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest

from pvideo.render.ingest import IngestOptions, TemplateVersion, ingest, segment_files
from pvideo.settings import Settings
from pvideo.storage import S3Storage
from tests.faults.deployment import Deployment, Services, customer_rows

pytestmark = pytest.mark.faults

INGEST_SECONDS = 2.0  # added to each ingest: real templates take minutes, both machines meet mid-ingest


def test_two_machines_ingest_a_fresh_template_once(deployment: Deployment) -> None:
    d = deployment
    d.gate.ingest_delay(INGEST_SECONDS)
    machines = [d.start_worker(name, gated=True, wait=False) for name in ("m1", "m2")]
    d.wait_ready(d.start_api(wait=False), *machines)
    campaign = d.campaign(customer_rows(6))
    d.wait_finished(campaign, 90)

    rows = d.renders(campaign)
    problems = d.problems(rows)
    templates = {k: n for k, n in d.stored().items() if "/templates/" in f"/{k}"}
    if not any(k.endswith("/manifest.json") for k in templates):
        problems.append(f"no template manifest stored: {sorted(templates)}")
    ingests = Counter(role.split(":")[1] for role, _, kind in d.gate.calls() if kind == "ingest")
    renders = Counter(role.split(":")[1] for role, _, kind in d.gate.calls() if kind == "render")
    if len(renders) < 2:
        problems.append(f"only {dict(renders)} rendered: both machines must meet the fresh template")
    problems += [f"{m.name}: FileNotFoundError in its log" for m in machines if "FileNotFoundError" in m.text()]
    problems += [f"row {r.row_number}: {r.attempts} attempts" for r in rows if r.attempts != 1]
    assert not problems, "\n".join(problems) + f"\ningests per machine: {dict(ingests)}"
    print(f"ingests per machine: {dict(ingests)}; template objects stored: {sorted(templates.values())}")


def test_threads_of_one_worker_fill_the_segment_cache_without_racing(
    fault_services: Services, assets_dir: Path, tmp_path: Path
) -> None:
    moto = fault_services.moto
    storage = S3Storage(moto.new_bucket(), "pv", endpoint_url=moto.url)
    version = ingest(
        assets_dir / "templates" / "tiny.mp4",
        storage,
        ffmpeg_exe=Settings().ffmpeg_exe,
        options=IngestOptions(preset="ultrafast"),
    )
    expected = {s.key: storage.get_bytes(s.key) for s in version.segments}
    threads, trials = 4, 20
    failures = [f"trial {n}: {p}" for n in range(trials) for p in race(version, storage, tmp_path / f"c{n}", threads)]
    for n in range(trials):
        for path in (tmp_path / f"c{n}").rglob("*"):
            if path.is_file() and path.suffix != ".ts":
                failures.append(f"trial {n}: partial file left in the cache: {path.name}")
            elif path.is_file() and path.read_bytes() != expected[str(path.relative_to(tmp_path / f"c{n}"))]:
                failures.append(f"trial {n}: {path.name} differs from the stored segment")
    assert not failures, f"{len(failures)} failures in {trials} trials of {threads} threads:\n" + "\n".join(
        failures[:10]
    )


def race(version: TemplateVersion, storage: S3Storage, cache: Path, threads: int) -> list[str]:
    """``threads`` threads filling an empty segment cache at the same moment; what went wrong."""
    start, failures = threading.Barrier(threads), []

    def fill() -> None:
        start.wait()
        try:
            paths = segment_files(version, storage, cache)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            return
        if [p.name for p in paths] != [Path(s.key).name for s in version.segments]:
            failures.append(f"segment_files answered {[p.name for p in paths]}")

    workers = [threading.Thread(target=fill) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    return failures
