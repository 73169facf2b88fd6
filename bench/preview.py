"""``python -m bench.preview``: the studio's live preview after an edit, and a sample render.

Live preview: the frame at the middle of a personal text layer's window, made
the way the API and the studio make it (``PreviewSandbox.start(job).result()``:
a warm sandboxed child that parses, compiles and draws it with the engine's own
code, ``pvideo.render.still``), after an edit: each preview changes that layer's
colour and the row's ``first_name``, so no cached picture can answer. The
template version is ingested and the frame's decoded base cached by a first
preview, reported apart (once per version and frame); between previews the
benchmark waits ``--pause`` seconds, a person's pace between edits, in which the
sandbox warms its next child. It runs quiet, then with a campaign rendering in
the background: a child process rendering customers of the same scene one after
another with the production engine, as a worker does, for as long as the
previews run.

Sample render: one row's whole MP4 by ``pvideo.jobs.samplevideo.render_sample``
(the studio's "render sample"), the template version already made.

Run it from the repository root: ``python -m bench.preview [--scene welcome] [--edits 40]
[--pause 0.3] [--samples 3] [--quiet-only] [--campaign-nice N] [--workdir DIR] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from pvideo.jobs.samplevideo import render_sample
from pvideo.render.priority import lower_priority
from pvideo.render.probe import probe
from pvideo.render.sandboxed import PreviewJob, PreviewSandbox
from pvideo.scene.samples import sample_row
from pvideo.scene.spec import load_scene, parse_scene
from pvideo.settings import PROJECT_ROOT, Settings
from pvideo.storage import LocalStorage


def bench_settings(workdir: Path) -> Settings:
    return Settings(data_dir=workdir / "data", storage_url=f"file://{(workdir / 'store').resolve()}")


def edited_layer(scene: dict[str, Any]) -> int:
    """The first text layer with template markup: a personal layer, so an edit to it keeps the
    template version (a static layer's edit makes a new version)."""
    for index, layer in enumerate(scene["layers"]):
        if layer.get("type") == "text" and "{{" in str(layer.get("text", "")):
            return index
    raise SystemExit("the scene has no personal text layer to edit")


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(row, default=str)))


def previews(settings: Settings, scene: dict[str, Any], edits: int, pause: float, seed: int) -> dict[str, Any]:
    """Milliseconds per preview after an edit (``edits`` of them), and the first (cold) one's."""
    rng = random.Random(seed)
    index = edited_layer(scene)
    layer = scene["layers"][index]
    at = (float(layer["start"]) + float(layer["end"])) / 2
    row = jsonable(sample_row(parse_scene(scene, source="bench")))
    sandbox = PreviewSandbox()
    try:

        def one(k: int) -> tuple[float, float]:
            edited = json.loads(json.dumps(scene))
            edited["layers"][index]["color"] = f"#{rng.randrange(0x1000000):06x}"
            job = PreviewJob.for_settings(settings, edited, {**row, "first_name": f"Name {seed}-{k}"}, at)
            cpu, started = children_cpu(sandbox.server_pid), time.perf_counter()
            png = sandbox.start(job).result()
            elapsed = (time.perf_counter() - started) * 1000
            assert png.startswith(b"\x89PNG"), png[:40]
            return elapsed, (children_cpu(sandbox.server_pid) - cpu) * 1000

        cold = one(-1)[0]
        times, cpus = [], []
        for k in range(edits):
            time.sleep(pause)
            wall, cpu = one(k)
            times.append(wall)
            cpus.append(cpu)
    finally:
        sandbox.close()
    return {"at": at, "layer": index, "cold_ms": cold, **summary(times), "cpu_ms_p50": statistics.median(cpus)}


def children_cpu(pid: int | None) -> float:
    """CPU seconds of the reaped children of ``pid`` (the fork server reaps each preview's child,
    which has waited for its ffmpeg runs): a preview's own CPU, whatever else the machine runs."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "runs": len(times),
        "p50_ms": statistics.median(ordered),
        "p95_ms": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max_ms": ordered[-1],
    }


def campaign(workdir: Path, scene: str, nice: int = 0) -> subprocess.Popen[bytes]:
    """A child rendering customers of ``scene`` one after another until it is killed, in a session
    of its own as a worker runs, at ``nice`` (its ffmpeg runs inherit it: a worker started with
    ``PVIDEO_RENDER_NICE``, see ``pvideo.runtime.lower_priority``)."""
    command = [sys.executable, "-m", "bench.preview", "--campaign-loop", "--scene", scene, "--workdir", str(workdir)]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        cwd=PROJECT_ROOT,
        start_new_session=True,
        preexec_fn=(lambda: lower_priority(nice)) if nice else None,
    )


def campaign_loop(workdir: Path, scene: str) -> int:
    settings = bench_settings(workdir)
    spec = load_scene(PROJECT_ROOT / "scenes" / f"{scene}.yaml")
    row = dict(sample_row(spec))
    for number in range(1, 1_000_000):
        out = workdir / "campaign" / f"{number % 4}.mp4"
        render_sample(spec, {**row, "first_name": f"Customer {number}"}, number=number, out=out, **_engine(settings))
    return 0


def _engine(settings: Settings) -> dict[str, Any]:
    """The settings and storage a render takes: the same storage the previews read."""
    return {"settings": settings, "storage": LocalStorage(Path(settings.resolved_storage_url.removeprefix("file://")))}


def samples(settings: Settings, scene: str, count: int) -> dict[str, Any]:
    """Seconds per sample render of one row (the version made beforehand, not counted)."""
    spec = load_scene(PROJECT_ROOT / "scenes" / f"{scene}.yaml")
    row = dict(sample_row(spec))
    out = settings.data_dir / "sample.mp4"
    started = time.perf_counter()
    render_sample(spec, row, number=1, out=out, **_engine(settings))
    first = time.perf_counter() - started
    times = []
    for k in range(count):
        started = time.perf_counter()
        render_sample(spec, {**row, "first_name": f"Sample {k}"}, number=1, out=out, **_engine(settings))
        times.append(time.perf_counter() - started)
    info = probe(out, count_frames=False)
    return {
        "first_s": first,
        "runs": count,
        "median_s": statistics.median(times) if times else None,
        "max_s": max(times) if times else None,
        "duration_s": info.duration,
        "size": f"{info.width}x{info.height}",
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    settings = bench_settings(workdir)
    scene = load_scene(PROJECT_ROOT / "scenes" / f"{args.scene}.yaml").to_json()
    report: dict[str, Any] = {"scene": args.scene, "pause_s": args.pause, "load_before": os.getloadavg()[0]}
    report["sample"] = samples(settings, args.scene, args.samples)  # makes the version first
    report["quiet"] = previews(settings, scene, args.edits, args.pause, seed=1)
    if not args.quiet_only:
        background = campaign(workdir, args.scene, args.campaign_nice)
        try:
            time.sleep(args.warmup)  # the campaign's child imports and starts its first render
            report["campaign"] = previews(settings, scene, args.edits, args.pause, seed=2)
            report["campaign"]["campaign_running"] = background.poll() is None
            report["campaign"]["nice"] = args.campaign_nice
        finally:
            background.kill()
            background.wait()
    report["load_after"] = os.getloadavg()[0]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="welcome", help="a bundled scene (scenes/NAME.yaml)")
    parser.add_argument("--edits", type=int, default=40, help="previews timed, quiet and under load each")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between edits")
    parser.add_argument("--samples", type=int, default=3, help="sample renders timed")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds the campaign runs before timing")
    parser.add_argument("--quiet-only", action="store_true", help="no background campaign")
    parser.add_argument("--campaign-nice", type=int, default=0, help="the background campaign's niceness")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--campaign-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pvideo-preview-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if args.campaign_loop:
            return campaign_loop(workdir, args.scene)
        report = run(args, workdir)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    table = Table(title=f"live preview after an edit: scene {args.scene!r}, frame at {report['quiet']['at']:g} s")
    for column in ("", "runs", "p50 ms", "p95 ms", "max ms", "CPU ms (p50)", "first (cold) ms"):
        table.add_column(column, justify="right")
    for label in ("quiet", "campaign"):
        if label in report:
            r = report[label]
            cells = (r["runs"], r["p50_ms"], r["p95_ms"], r["max_ms"], r["cpu_ms_p50"], r["cold_ms"])
            table.add_row(label, str(cells[0]), *(f"{c:.0f}" for c in cells[1:]))
    console = Console()
    console.print(table)
    s = report["sample"]
    median = f"{s['median_s']:.2f} s" if s["median_s"] is not None else "-"
    console.print(
        f"sample render ({s['size']}, {s['duration_s']:.1f} s): median {median} of {s['runs']}, "
        f"first {s['first_s']:.2f} s (with the template version's ingest); "
        f"load average {report['load_before']:.1f} before, {report['load_after']:.1f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
