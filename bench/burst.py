"""``python -m bench.burst``: a burst of first views of on-demand links while an eager campaign renders.

What an email blast does to viewers: N viewers (default 20) open their
on-demand links within one second while the same process's embedded worker
renders an eager campaign. Everything goes through the real app (landing page,
playlist and segment routes) on a fresh SQLite database and local storage.

For each viewer:

* **time to first part**: from opening the landing page until the player
  holds the playlist, which is answered once the first personalized part is
  stored (``api.routes.hls``), and its first entry: the moment playback starts;
* **stall**: the simulated player then fetches the playlist's entries in order
  as fast as the server answers (the segment route waits for a part still being
  encoded) and needs each entry by its play time; any lateness adds to the
  stall and pushes the later play times back.

The eager campaign's progress is counted before and during the burst (until the
last viewer holds every entry of their video). Run it from the repository root on a quiet machine:
``python -m bench.burst [--viewers 20] [--eager 40] [--workload reference] [--spread 1.0] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.workloads import WORKLOADS, Workload, prepare
from pvideo.settings import Settings

API_KEY = "bench-burst-key"
TARGET_P95_SECONDS = 2.0
TARGET_ZERO_STALL_SHARE = 0.9  # 18 of 20


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def fetch(client: Any, url: str, retries: list[str]) -> Any:
    """GET ``url`` as a viewer would: a "being prepared" page (202) is reloaded, a segment not ready
    (503) asked again after its ``Retry-After``; each such retry is noted in ``retries``."""
    while True:
        response = client.get(url)
        if response.status_code not in (202, 503):
            assert response.status_code == 200, (url, response.status_code)
            return response
        retries.append(f"{response.status_code} {url.rsplit('/', 1)[-1]}")
        time.sleep(float(response.headers.get("retry-after", 1)))


def play(client: Any, token: str, opened: float) -> dict[str, Any]:
    """One viewer: landing page, playlist (answered with the first part stored), then every entry by its time."""
    retries: list[str] = []
    fetch(client, f"/v/{token}", retries)
    lines = fetch(client, f"/v/{token}/index.m3u8", retries).text.splitlines()
    entries = [
        (float(line.split(":", 1)[1].rstrip(",")), lines[i + 1])
        for i, line in enumerate(lines)
        if line.startswith("#EXTINF:")
    ]
    started, stall, at, waits = 0.0, 0.0, 0.0, []
    for number, (duration, uri) in enumerate(entries):
        fetch(client, uri, retries)
        if number == 0:  # playback starts with the first entry in hand
            started = time.perf_counter()
        late = time.perf_counter() - (started + at + stall)
        if number and late > 0:
            stall += late
            waits.append(round(late, 3))
        at += duration
    return {
        "first_part_seconds": started - opened,
        "stall_seconds": stall,
        "stalls": waits,
        "retries": retries,
        "video_seconds": at,
    }


def _eager_done(runtime: Any, campaign_id: str) -> int:
    from pvideo.jobs.campaigns import status_counts

    with runtime.db.session() as session:
        return int(status_counts(session, campaign_id).get("done", 0))


def _submit(client: Any, workload: Workload, mode: str, rows: int, first: int) -> dict[str, Any]:
    body = {"scene": workload.scene.stem, "render": mode, "rows": [workload.row(first + i) for i in range(rows)]}
    response = client.post("/api/campaigns", headers={"X-API-Key": API_KEY}, json=body)
    assert response.status_code == 201, response.text
    campaign = response.json()
    renders = client.get(
        f"/api/campaigns/{campaign['id']}/renders", headers={"X-API-Key": API_KEY}, params={"limit": rows}
    )
    return {"id": campaign["id"], "renders": renders.json()}


def bench_burst(*, viewers: int, eager: int, workload: str, spread: float, worker_threads: int) -> dict[str, Any]:
    """Run the burst once in a fresh data folder; the report (see the module docstring)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from pvideo.runtime import Runtime

    with tempfile.TemporaryDirectory(prefix="pvideo-burst-") as tmp:
        root = Path(tmp)
        base = Settings()
        load = prepare(workload, root / "workload", base)
        settings = base.model_copy(
            update={
                "data_dir": root / "data",
                "database_url": None,
                "storage_url": None,
                "redis_url": None,
                "assets_dir": load.assets_dir,
                "scenes_dir": load.scene.parent,
                "api_keys": [API_KEY],
                "secret_key": "bench-burst-secret-" + "x" * 32,
                "worker_threads": worker_threads,
            }
        )
        runtime = Runtime.from_settings(settings)
        with TestClient(create_app(runtime=runtime)) as client:
            campaign = _submit(client, load, "eager", eager, 0)
            ondemand = _submit(client, load, "on_demand", viewers, eager)
            tokens = [r["landing_url"].rsplit("/", 1)[1] for r in ondemand["renders"]]
            warm = time.perf_counter()
            while _eager_done(runtime, campaign["id"]) < 1:  # the template version is ingested
                time.sleep(0.1)
            time.sleep(2.0)  # eager rendering at its steady pace
            load_before = os.getloadavg()
            done_before, burst_at = _eager_done(runtime, campaign["id"]), time.perf_counter()
            results: list[dict[str, Any]] = [{} for _ in tokens]

            def viewer(i: int) -> None:
                opened = burst_at + spread * i / max(1, len(tokens))
                time.sleep(max(0.0, opened - time.perf_counter()))
                results[i] = play(client, tokens[i], opened)

            threads = [threading.Thread(target=viewer, args=(i,)) for i in range(len(tokens))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            burst_seconds = time.perf_counter() - burst_at
            done_after = _eager_done(runtime, campaign["id"])
            load_after = os.getloadavg()
            client.app.state.pvideo.queue.close()  # the rest of the eager campaign is not measured
    firsts = [r["first_part_seconds"] for r in results]
    stalls = [r["stall_seconds"] for r in results]
    zero = sum(1 for s in stalls if s == 0)
    return {
        "workload": workload,
        "viewers": viewers,
        "spread_seconds": spread,
        "eager_rows": eager,
        "worker_threads": worker_threads,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "video_seconds": round(results[0]["video_seconds"], 3),
        "first_part_p50_seconds": round(statistics.median(firsts), 3),
        "first_part_p95_seconds": round(percentile(firsts, 0.95), 3),
        "first_part_max_seconds": round(max(firsts), 3),
        "zero_stall_viewers": zero,
        "stall_total_seconds": round(sum(stalls), 3),
        "stall_max_seconds": round(max(stalls), 3),
        "stalls": [r["stalls"] for r in results],
        "retries": [r["retries"] for r in results],
        "eager_done_before_burst": done_before,
        "eager_seconds_before_burst": round(burst_at - warm, 1),
        "eager_done_during_burst": done_after - done_before,
        "burst_seconds": round(burst_seconds, 1),
        "meets_targets": {
            "first_part_p95": percentile(firsts, 0.95) <= TARGET_P95_SECONDS,
            "zero_stall": zero >= math.ceil(TARGET_ZERO_STALL_SHARE * viewers),
            "eager_progresses": done_after > done_before,
        },
    }


def table(report: dict[str, Any]) -> list[str]:
    """The report as lines of text."""
    targets = report["meets_targets"]
    yes = {True: "yes", False: "NO"}
    return [
        f"{report['viewers']} viewers within {report['spread_seconds']:g} s, eager campaign of "
        f"{report['eager_rows']} rows ({report['workload']}, {report['worker_threads']} worker threads, "
        f"{report['cpus']} CPUs)",
        f"load average before {report['load_average_before']}, after {report['load_average_after']}",
        f"time to first part   p50 {report['first_part_p50_seconds']:.2f} s   p95 "
        f"{report['first_part_p95_seconds']:.2f} s   max {report['first_part_max_seconds']:.2f} s   "
        f"(target p95 <= {TARGET_P95_SECONDS:g} s: {yes[targets['first_part_p95']]})",
        f"viewers with 0 s stall {report['zero_stall_viewers']} of {report['viewers']}   total stall "
        f"{report['stall_total_seconds']:.2f} s   max {report['stall_max_seconds']:.2f} s   "
        f"(target >= {math.ceil(TARGET_ZERO_STALL_SHARE * report['viewers'])}: {yes[targets['zero_stall']]})",
        f"eager rows done: {report['eager_done_before_burst']} in the {report['eager_seconds_before_burst']:g} s "
        f"before, {report['eager_done_during_burst']} during the {report['burst_seconds']:g} s burst "
        f"(progresses: {yes[targets['eager_progresses']]})",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.burst",
        description="N viewers open on-demand links within a second while an eager campaign renders.",
    )
    parser.add_argument("--viewers", type=int, default=20, help="viewers in the burst (default: 20)")
    parser.add_argument("--eager", type=int, default=40, help="rows of the eager campaign (default: 40)")
    parser.add_argument("--workload", choices=WORKLOADS, default="reference", help="(default: reference)")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the views are spread over (default: 1)")
    parser.add_argument("--worker-threads", type=int, default=2, help="embedded worker threads (default: 2)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.viewers < 1 or args.eager < 1:
        parser.error("--viewers and --eager must be at least 1")
    report = bench_burst(
        viewers=args.viewers,
        eager=args.eager,
        workload=args.workload,
        spread=args.spread,
        worker_threads=args.worker_threads,
    )
    print(json.dumps(report, indent=2) if args.json else "\n".join(table(report)))


if __name__ == "__main__":
    main()
