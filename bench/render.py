"""``python -m bench.render``: the render approaches side by side, in one run, as ratios.

Two workloads (``bench.workloads``, ``--workloads reference,welcome``): the
reference one (a 30 s 1280x720 30 fps template with moving content and AAC
audio, three 3 s text overlays and one CTA on whole seconds, 30% of the frames
personalized) and the bundled welcome template and scene with windows off whole
seconds; x264 veryfast CRF 23 for every approach. For each customer, in turn,
each approach renders in a fresh child process so CPU time and peak memory
belong to that render alone (the child first compiles another row, as a worker
that has rendered before would have: imports and font tables loaded):

(a) moviepy ``CompositeVideoClip`` of the same overlay PNGs;
(b) ``full``: one ffmpeg filter graph re-encoding the whole video;
(c) ``segments``: pvideo's default engine;
(d) on demand: from request to the first personalized segment stored;
(e) the physical limit: one ffmpeg process decoding, drawing and encoding only the
    personalized frames (``bench.limit``; beside it, x264 alone fed them composited);
    (c) / (e) in CPU seconds is the engine's distance from it.

Run it from the repository root: ``python -m bench.render [--customers 8] [--approaches abcde]
[--workloads reference,welcome] [--slow-customers N] [--workdir DIR] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.workloads import NAMES, SCENE, WORKLOADS, build_workload, prepare, workload
from pvideo.settings import PROJECT_ROOT, Settings

__all__ = ["NAMES", "SCENE", "build_workload", "main", "run_bench", "summarize"]

APPROACHES = {
    "a": "moviepy CompositeVideoClip",
    "b": "ffmpeg full re-encode",
    "c": "pvideo segments (default)",
    "d": "on demand: first segment",
    "e": "physical limit: only the personal frames",
}


def _usage() -> tuple[float, int]:
    """CPU seconds of this process and its children, and the peak RSS (KiB) of either."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, max(_own_peak(me.ru_maxrss), kids.ru_maxrss)


def _own_peak(maxrss: int) -> int:
    """This process's own peak RSS: ``VmHWM``. Linux carries ``ru_maxrss`` across ``exec``, so a child
    started by a parent that once held more would report the parent's peak."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return maxrss
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) if line else maxrss


def run_one(approach: str, root: Path, index: int, out: Path, name: str = "reference") -> dict[str, Any]:
    """One render of one approach of workload ``name``, in this (child) process; returns its measurements."""
    from pvideo.plan.compiler import compile_plan
    from pvideo.render import hls
    from pvideo.render.versions import render_on_template, template_version
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import load_scene
    from pvideo.storage import LocalStorage

    load = workload(name, root)
    settings = Settings(
        data_dir=root / "data", assets_dir=load.assets_dir, engine="full" if approach == "b" else "segments"
    )
    storage = LocalStorage(root / "data" / "storage")
    spec = load_scene(load.scene)
    row = load.row(index)
    # the child stands for a worker that has rendered before: its font tables are loaded (~0.1 CPU s once)
    compile_plan(spec, coerce_row(spec, load.row(index + 1)), assets_dir=settings.assets_dir)
    cpu0, _ = _usage()
    started = time.perf_counter()
    first: list[float] = []
    plan = compile_plan(spec, coerce_row(spec, row), assets_dir=settings.assets_dir)
    result: dict[str, Any] = {}
    if approach == "a":
        result["bytes"] = _moviepy(plan, out)
    elif approach == "e":
        from bench.limit import one_process
        from pvideo.render.ingest import segment_files
        from pvideo.render.versions import cache_dir

        version = template_version(plan, storage, settings)
        paths = segment_files(version, storage, cache_dir(settings))
        return one_process(plan, version, paths, out.parent / f"work-e-{index}", ffmpeg_exe=settings.ffmpeg_exe)
    else:
        version = template_version(plan, storage, settings)
        outputs = render_on_template(
            plan,
            version,
            storage,
            settings,
            out.parent / f"work-{approach}-{index}",
            mp4=approach != "d",
            # (d) waits for its first part as a viewer does; (c) renders as a campaign's worker does
            on_part=(lambda part: first or first.append(time.perf_counter() - started)) if approach == "d" else None,
        )
        if outputs.video is not None:
            outputs.video.replace(out)
            result["bytes"] = out.stat().st_size
        if approach != "b":  # the full engine makes no HLS parts
            playlist = hls.media_playlist(
                hls.entries(version, [(p.first, p.count) for p in outputs.parts], "outputs/x")
            )
            result["hls_bytes"] = sum(p.path.stat().st_size for p in outputs.parts) + len(playlist.encode())
        result["segments"] = len(version.segments)
        result["personal_segments"] = sum(p.count for p in outputs.parts)
    wall = time.perf_counter() - started
    cpu1, rss = _usage()
    result.update(wall=first[0] if approach == "d" else wall, cpu=cpu1 - cpu0, rss_mb=rss / 1024)
    return result


def _moviepy(plan, out: Path) -> int:
    import io

    import numpy as np
    from moviepy import CompositeVideoClip, ImageClip, VideoFileClip
    from PIL import Image

    base = VideoFileClip(str(plan.template))
    layers = [base]
    for o in plan.overlays:
        rgba = np.array(Image.open(io.BytesIO(o.png)).convert("RGBA"))
        end = min(o.end, base.duration)
        layers.append(ImageClip(rgba).with_start(o.start).with_duration(end - o.start).with_position((o.x, o.y)))
    clip = CompositeVideoClip(layers, size=base.size).with_duration(base.duration)
    clip.write_videofile(
        str(out),
        codec="libx264",
        audio_codec="aac",
        preset="veryfast",
        fps=base.fps,
        ffmpeg_params=["-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart"],
        logger=None,
    )
    base.close()
    return out.stat().st_size


def _child(approach: str, root: Path, index: int, out: Path, name: str = "reference") -> dict[str, Any]:
    """``run_one`` in a fresh ``python -m bench.render --child ...``; its last stdout line is the JSON result."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.render", "--child", approach, str(root), str(index), str(out), name],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,  # where ``bench`` is importable from (it is not installed)
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {approach}#{index} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def psnr_c_vs_b(seg: Path, full: Path, personal_frames: set[int]) -> dict[str, float]:
    """PSNR of ``seg`` against ``full`` on ``personal_frames``, two frames in memory at a time (a parent
    holding hundreds would pass its peak RSS on to every child it starts: Linux keeps it across exec)."""
    import av
    import numpy as np

    mse = []
    with av.open(str(seg)) as a, av.open(str(full)) as b:
        for i, (x, y) in enumerate(zip(a.decode(video=0), b.decode(video=0))):
            if i in personal_frames:
                diff = x.to_ndarray(format="rgb24").astype(np.float64) - y.to_ndarray(format="rgb24")
                mse.append(float(np.mean(diff**2)))
    to_db = lambda m: 99.0 if m == 0 else float(10 * np.log10(255**2 / m))  # noqa: E731
    return {"sequence_db": round(to_db(float(np.mean(mse))), 2), "worst_frame_db": round(min(map(to_db, mse)), 2)}


def run_bench(
    customers: int = 8,
    approaches: str = "abcd",
    slow_customers: int | None = None,
    workdir: Path | None = None,
    progress: Callable[[str, int], None] | None = None,
    settings: Settings | None = None,
    name: str = "reference",
) -> dict[str, Any]:
    """Every approach for each of ``customers`` of workload ``name``, interleaved; ``progress(approach,
    index)`` after each render."""
    settings = settings or Settings()
    root = Path(workdir or settings.data_dir / "bench").resolve()
    root.mkdir(parents=True, exist_ok=True)
    load = prepare(name, root, settings)
    ingest_started = time.perf_counter()
    _child("c", root, 0, root / "warmup.mp4", name)  # ingest (once per template version) is not per-customer work
    ingest_seconds = time.perf_counter() - ingest_started
    slow = customers if slow_customers is None else min(slow_customers, customers)
    results: dict[str, list[dict[str, Any]]] = {a: [] for a in approaches}
    with tempfile.TemporaryDirectory(prefix="pvideo-bench-", dir=root) as tmp:
        for index in range(customers):
            for approach in approaches:
                if approach == "a" and index >= slow:
                    continue
                out = Path(tmp) / f"{approach}-{index}.mp4"
                results[approach].append(_child(approach, root, index, out, name))
                if progress:
                    progress(approach, index)
        quality = (
            psnr_c_vs_b(Path(tmp) / "c-0.mp4", Path(tmp) / "b-0.mp4", _personalized(load))
            if "b" in approaches and "c" in approaches
            else None
        )
    report = summarize(results, customers, ingest_seconds, quality)
    return {"workload": name, **report}


def _personalized(load: Any) -> set[int]:
    """Frames of customer 0's personal layers (both workloads run at 30 fps)."""
    from fractions import Fraction

    from pvideo.plan.compiler import compile_plan
    from pvideo.render.overlays import frame_window
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import load_scene

    spec = load_scene(load.scene)
    plan = compile_plan(spec, coerce_row(spec, load.row(0)), assets_dir=load.assets_dir)
    return {k for o in plan.personal_overlays for k in range(*frame_window(o.start, o.end, Fraction(30)))}


def summarize(
    results: dict[str, list[dict[str, Any]]], customers: int, ingest_seconds: float, quality: dict[str, float] | None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "customers": customers,
        "cpu_count": os.cpu_count(),
        "ingest_seconds_once": round(ingest_seconds, 2),
        "approaches": {},
    }
    for approach, runs in results.items():
        if not runs:
            continue
        wall = statistics.median(r["wall"] for r in runs)
        report["approaches"][approach] = {
            "name": APPROACHES[approach],
            "runs": len(runs),
            "median_wall_s": round(wall, 3),
            "videos_per_minute": round(60 / wall, 1),
            "median_cpu_s": round(statistics.median(r["cpu"] for r in runs), 2),
            "peak_rss_mb": round(max(r["rss_mb"] for r in runs), 1),
            "mp4_bytes": int(statistics.median(r.get("bytes", 0) for r in runs)) or None,
            "hls_bytes_per_customer": int(statistics.median(r["hls_bytes"] for r in runs))
            if "hls_bytes" in runs[0]
            else None,
        }
    a = report["approaches"]
    ratios = {}
    if "c" in a:
        for other in ("a", "b"):
            if other in a:
                ratios[f"{other}/c"] = round(a[other]["median_wall_s"] / a["c"]["median_wall_s"], 2)
        if "e" in a and a["e"]["median_cpu_s"]:
            ratios["c/e cpu"] = round(a["c"]["median_cpu_s"] / a["e"]["median_cpu_s"], 3)
            floor = [r["encode_only_cpu"] for r in results["e"] if "encode_only_cpu" in r]
            if floor:  # the stricter floor: x264 fed the composited frames, nothing decoded or drawn
                ratios["c/encode-only cpu"] = round(a["c"]["median_cpu_s"] / statistics.median(floor), 3)
        if a["c"]["hls_bytes_per_customer"] and a["c"]["mp4_bytes"]:
            ratios["hls/mp4 bytes"] = round(a["c"]["hls_bytes_per_customer"] / a["c"]["mp4_bytes"], 3)
    report["ratios"] = ratios
    report["psnr_c_vs_b_personalized"] = quality
    return report


def print_report(report: dict[str, Any], console: Console) -> None:
    """The report as a table of approaches, then the ratios, the ingest time and the PSNR."""
    table = Table(
        "approach",
        "runs",
        "median s/video",
        "videos/min",
        "CPU s",
        "peak RSS MB",
        "MP4 bytes",
        "HLS bytes/customer",
        title=f"python -m bench.render: {report['customers']} customers, {report['cpu_count']} cores",
    )
    for key, r in report["approaches"].items():
        table.add_row(
            f"({key}) {r['name']}",
            str(r["runs"]),
            f"{r['median_wall_s']:.2f}",
            f"{r['videos_per_minute']}",
            f"{r['median_cpu_s']}",
            f"{r['peak_rss_mb']}",
            str(r["mp4_bytes"] or "-"),
            str(r["hls_bytes_per_customer"] or "-"),
        )
    console.print(table)
    console.print("ratios: " + ", ".join(f"{k} = {v}" for k, v in report["ratios"].items()))
    console.print(f"template ingest (once per template version): {report['ingest_seconds_once']} s")
    if report["psnr_c_vs_b_personalized"]:
        q = report["psnr_c_vs_b_personalized"]
        console.print(
            f"PSNR (c) vs (b) on personalized frames: {q['sequence_db']} dB sequence, "
            f"{q['worst_frame_db']} dB worst frame"
        )


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.render",
        description="Render the workloads with each approach, interleaved, and compare them as ratios.",
    )
    parser.add_argument("--customers", type=_at_least_one, default=8, help="customers per approach (default: 8)")
    parser.add_argument(
        "--approaches",
        default="abcde",
        help="subset of abcde: a moviepy, b full, c segments, d on demand, e physical limit (default: abcde)",
    )
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, of {', '.join(WORKLOADS)} (default: all, in one run)",
    )
    parser.add_argument("--slow-customers", type=int, default=None, help="cap moviepy (a) runs, which take ~1 min each")
    parser.add_argument("--workdir", type=Path, default=None, help="where the workload and outputs go")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(  # the per-render child process run_bench starts
        "--child", nargs=5, metavar=("APPROACH", "ROOT", "INDEX", "OUT", "WORKLOAD"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        approach, root, index, out, name = args.child
        print(json.dumps(run_one(approach, Path(root), int(index), Path(out), name)))
        return
    if set(args.approaches) - set(APPROACHES) or not args.approaches:
        parser.error(f"--approaches takes letters from {''.join(APPROACHES)}")
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    if not names or set(names) - set(WORKLOADS):
        parser.error(f"--workloads takes names from {', '.join(WORKLOADS)}")
    console, err = Console(), Console(stderr=True)
    done, total = 0, args.customers * len(args.approaches) * len(names)

    def tick(approach: str, index: int) -> None:
        nonlocal done
        done += 1
        if not args.json:
            err.print(f"  [{done}/{total}] {APPROACHES[approach]} #{index + 1}", highlight=False)

    reports = {
        name: run_bench(
            customers=args.customers,
            approaches=args.approaches,
            slow_customers=args.slow_customers,
            workdir=args.workdir,
            progress=tick,
            settings=Settings(),
            name=name,
        )
        for name in names
    }
    if args.json:
        print(json.dumps({"load_average": os.getloadavg(), "workloads": reports}, indent=2))
        return
    for name, report in reports.items():
        console.print(f"[bold]workload {name}[/bold]")
        print_report(report, console)
    targets = [
        f"{n}: (c)/(e) CPU = {r['ratios'].get('c/e cpu', '-')}, a/c = {r['ratios'].get('a/c', '-')}"
        for n, r in reports.items()
    ]
    console.print("; ".join(targets) + f"; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
