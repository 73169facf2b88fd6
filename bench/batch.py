"""``python -m bench.batch``: batch throughput (issue 19, bench item f) at K = 1, 4, 8, side by side.

For each workload (``bench.workloads``: the reference one and ``scenes/welcome.yaml``
with windows off whole seconds) and each K, a fresh child process renders the same
``--customers`` customers (a multiple of every K) K at a time: K = 1 is today's
engine (``render_plan``, one customer after another, its parts encoded two at a
time), K > 1 is ``pvideo.render.batch.render_batch`` (each shared part decoded once
and split into K overlay + encode chains in one ffmpeg process). The template
version is ingested before any timing. Each render makes what the engine makes for
a worker: the HLS parts, the spliced MP4, the poster.

Reported per K: videos per minute (wall clock), CPU seconds per video (the child and
its ffmpeg processes), and the peak RSS of the child and all its ffmpeg processes
together (sampled every 20 ms from ``/proc``) and of the largest single one of them; the ratio best K / K = 1 in videos per
minute; and the 1-minute load average before and after (the machine is shared).

Run it from the repository root: ``python -m bench.batch [--ks 1,4,8] [--customers 8]
[--workloads reference,welcome] [--workdir DIR] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.workloads import WORKLOADS, prepare, workload
from pvideo.settings import PROJECT_ROOT, Settings

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _tree_rss_kb(root: int) -> tuple[int, int]:
    """Resident KiB of ``root`` and every process descending from it, and of the largest of them."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21]) * PAGE_KB
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    sizes = [rss.get(pid, 0) for pid in tree]
    return sum(sizes), max(sizes)


class PeakRss:
    """Samples this process tree's total RSS in a thread until stopped; ``peak_mb`` is the highest."""

    def __init__(self, every: float = 0.02) -> None:
        self.every, self.peak_kb, self.largest_kb = every, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total, largest = _tree_rss_kb(os.getpid())
            self.peak_kb, self.largest_kb = max(self.peak_kb, total), max(self.largest_kb, largest)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_k(name: str, root: Path, k: int, customers: int, out: Path) -> dict[str, Any]:
    """Render ``customers`` customers of workload ``name`` K at a time, in this (child) process."""
    from pvideo.plan.compiler import compile_plan
    from pvideo.render.batch import render_batch
    from pvideo.render.engine import render_plan
    from pvideo.render.ingest import segment_files
    from pvideo.render.versions import cache_dir, template_version
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import load_scene
    from pvideo.storage import LocalStorage

    load = workload(name, root)
    settings = Settings(data_dir=root / "data", assets_dir=load.assets_dir)
    storage = LocalStorage(root / "data" / "storage")
    spec = load_scene(load.scene)
    plans = [
        compile_plan(spec, coerce_row(spec, load.row(i)), assets_dir=settings.assets_dir) for i in range(customers)
    ]
    version = template_version(plans[0], storage, settings)
    paths = segment_files(version, storage, cache_dir(settings))
    exe, timeout = settings.ffmpeg_exe, settings.ffmpeg_timeout
    cpu0, started = _cpu(), time.perf_counter()
    failed = 0
    with PeakRss() as peak:
        for first in range(0, customers, k):
            chunk = plans[first : first + k]
            workdirs = [out / f"k{k}-{first + i}" for i in range(len(chunk))]
            if k == 1:
                render_plan(chunk[0], version, paths, workdirs[0], ffmpeg_exe=exe, timeout=timeout)
            else:
                outcomes = render_batch(chunk, version, paths, workdirs, ffmpeg_exe=exe, timeout=timeout)
                failed += sum(o.error is not None for o in outcomes)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu0
    return {
        "k": k,
        "customers": customers,
        "failed": failed,
        "wall": wall,
        "videos_per_minute": customers / wall * 60,
        "cpu_per_video": cpu / customers,
        "peak_rss_mb": peak.peak_mb,
        "largest_process_mb": peak.largest_kb / 1024,
    }


def _child(name: str, root: Path, k: int, customers: int, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.batch", "--child", name, str(root), str(k), str(customers), str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {name} K={k} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_bench(root: Path, ks: list[int], customers: int, names: list[str]) -> dict[str, Any]:
    settings = Settings(data_dir=root / "data")
    report: dict[str, Any] = {"load_before": os.getloadavg()[0], "cores": os.cpu_count(), "workloads": {}}
    for name in names:
        prepare(name, root, settings)
        _child(name, root, 1, 1, root / "warm")  # ingest the template version (and warm the cache) untimed
        rows = [_child(name, root, k, customers, root / "out" / name) for k in ks]
        base = next(r for r in rows if r["k"] == 1) if 1 in ks else rows[0]
        best = max(rows, key=lambda r: r["videos_per_minute"])
        for r in rows:
            r["budget_mb"] = 250 + 60 * (r["k"] - 1)
        report["workloads"][name] = {
            "rows": rows,
            "best_k": best["k"],
            "best_over_k1": best["videos_per_minute"] / base["videos_per_minute"],
        }
    report["load_after"] = os.getloadavg()[0]
    return report


def print_report(report: dict[str, Any], console: Console) -> None:
    for name, result in report["workloads"].items():
        table = Table(title=f"batches, workload {name!r}")
        for column in (
            "K",
            "videos/min",
            "CPU s/video",
            "peak RSS MB (all)",
            "largest process MB",
            "budget MB",
            "failed",
        ):
            table.add_column(column, justify="right")
        for r in result["rows"]:
            table.add_row(
                str(r["k"]),
                f"{r['videos_per_minute']:.1f}",
                f"{r['cpu_per_video']:.2f}",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['largest_process_mb']:.0f}",
                str(r["budget_mb"]),
                str(r["failed"]),
            )
        console.print(table)
        console.print(f"best K = {result['best_k']}: {result['best_over_k1']:.2f} x K = 1 (target >= 1.3)")
    console.print(f"load average (1 min): {report['load_before']:.2f} before, {report['load_after']:.2f} after")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default="1,4,8", help="batch sizes, comma-separated (default: 1,4,8)")
    parser.add_argument("--customers", type=int, default=None, help="customers per K (default: the lcm of the Ks)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"of {', '.join(WORKLOADS)}")
    parser.add_argument("--workdir", type=Path, default=None, help="where the workload and outputs go")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        name, root, k, customers, out = args.child
        print(json.dumps(run_k(name, Path(root), int(k), int(customers), Path(out))))
        return
    ks = sorted({int(k) for k in args.ks.split(",")})
    customers = args.customers or math.lcm(*ks)
    if any(customers % k for k in ks):
        parser.error(f"--customers {customers} is not a multiple of every K")
    names = args.workloads.split(",")
    with tempfile.TemporaryDirectory(prefix="pvideo-bench-batch-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        report = run_bench(root, ks, customers, names)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, Console())


if __name__ == "__main__":
    main()
