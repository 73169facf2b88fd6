"""``python -m bench.render``: the render approaches side by side, in one run, as ratios.

The reference workload is built here: a 30 s 1280x720 30 fps template with
moving content and AAC audio, three 3 s text overlays and one CTA (30% of the
frames personalized), x264 veryfast CRF 23 for every approach. For each
customer, in turn, each approach renders in a fresh child process so CPU time
and peak memory belong to that render alone:

(a) moviepy ``CompositeVideoClip`` of the same overlay PNGs;
(b) ``full``: one ffmpeg filter graph re-encoding the whole video;
(c) ``segments``: pvideo's default engine;
(d) on demand: from request to the first personalized segment stored.

Run it from the repository root: ``python -m bench.render [--customers 8] [--approaches abcd]
[--slow-customers N] [--workdir DIR] [--json]``.
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

import yaml
from rich.console import Console
from rich.table import Table

from pvideo.settings import PROJECT_ROOT, Settings

APPROACHES = {
    "a": "moviepy CompositeVideoClip",
    "b": "ffmpeg full re-encode",
    "c": "pvideo segments (default)",
    "d": "on demand: first segment",
}
NAMES = [
    "Ana",
    "Bartholomew",
    "Chiara",
    "Dmitri",
    "Eun-ji",
    "Fatima",
    "Gustavo",
    "Hiroko",
    "Ingrid",
    "Jamal",
    "Kofi",
    "Lucía",
]
SCENE = {
    "name": "bench",
    "video": "bench/template.mp4",
    "poster_at": 3,
    "fields": {"customer_id": {"type": "str"}, "name": {"type": "str"}, "plan": {"type": "str"}},
    "layers": [
        {
            "type": "text",
            "id": "hello",
            "text": "Hello, {{ name }}!",
            "start": 2,
            "end": 5,
            "box": {"x": 80, "y": 80, "w": 700, "h": 110},
            "size": 72,
            "background": "#00000099",
        },
        {
            "type": "text",
            "id": "plan",
            "text": "Your {{ plan }} plan is ready",
            "start": 12,
            "end": 15,
            "box": {"x": 80, "y": 520, "w": 800, "h": 90},
            "size": 56,
            "background": "#1f2a44cc",
        },
        {
            "type": "text",
            "id": "offer",
            "text": "{{ name }}, this offer is yours",
            "start": 22,
            "end": 25,
            "box": {"x": 80, "y": 80, "w": 900, "h": 100},
            "size": 60,
            "background": "#00000099",
        },
        {
            "type": "cta",
            "id": "claim",
            "label": "Claim it, {{ name }}",
            "href": "https://example.com/o?c={{ customer_id | urlencode }}",
            "start": 22,
            "end": 25,
            "box": {"x": 80, "y": 560, "w": 420, "h": 90},
        },
    ],
}


def build_workload(root: Path, settings: Settings) -> Path:
    """Template + scene under ``root`` (reused when present). Returns the scene path."""
    assets = root / "assets"
    template = assets / "bench" / "template.mp4"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                settings.ffmpeg_exe,
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=1280x720:rate=30:duration=30",
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=220:beep_factor=4:sample_rate=48000:duration=30",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "23",
                "-pix_fmt",
                "yuv420p",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                "-movflags",
                "+faststart",
                str(template),
            ],
            check=True,
        )
    fonts = assets / "fonts"
    if not fonts.exists():
        fonts.symlink_to(settings.assets_dir.resolve() / "fonts", target_is_directory=True)
    scene = root / "bench.yaml"
    scene.write_text(yaml.safe_dump(SCENE, sort_keys=False))
    return scene


def _usage() -> tuple[float, int]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime, max(me.ru_maxrss, kids.ru_maxrss)


def run_one(approach: str, root: Path, index: int, out: Path) -> dict[str, Any]:
    """One render of one approach, in this (child) process; returns its measurements."""
    from pvideo.plan.compiler import compile_plan
    from pvideo.render import hls
    from pvideo.render.versions import render_on_template, template_version
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import load_scene
    from pvideo.storage import LocalStorage

    settings = Settings(
        data_dir=root / "data", assets_dir=root / "assets", engine="full" if approach == "b" else "segments"
    )
    storage = LocalStorage(root / "data" / "storage")
    spec = load_scene(root / "bench.yaml")
    row = {"customer_id": f"c{index}", "name": NAMES[index % len(NAMES)], "plan": ["Basic", "Plus", "Pro"][index % 3]}
    cpu0, _ = _usage()
    started = time.perf_counter()
    first: list[float] = []
    plan = compile_plan(spec, coerce_row(spec, row), assets_dir=settings.assets_dir)
    result: dict[str, Any] = {}
    if approach == "a":
        result["bytes"] = _moviepy(plan, out)
    else:
        version = template_version(plan, storage, settings)
        outputs = render_on_template(
            plan,
            version,
            storage,
            settings,
            out.parent / f"work-{approach}-{index}",
            mp4=approach != "d",
            on_part=lambda part: first or first.append(time.perf_counter() - started),
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
        layers.append(ImageClip(rgba).with_start(o.start).with_duration(o.end - o.start).with_position((o.x, o.y)))
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


def _child(approach: str, root: Path, index: int, out: Path) -> dict[str, Any]:
    """``run_one`` in a fresh ``python -m bench.render --child ...``; its last stdout line is the JSON result."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.render", "--child", approach, str(root), str(index), str(out)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,  # where ``bench`` is importable from (it is not installed)
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench child {approach}#{index} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def psnr_c_vs_b(seg: Path, full: Path, personal_frames: set[int]) -> dict[str, float]:
    import av
    import numpy as np

    def frames(path: Path):
        with av.open(str(path)) as c:
            return [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i in personal_frames]

    mse = [
        float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) for a, b in zip(frames(seg), frames(full))
    ]
    to_db = lambda m: 99.0 if m == 0 else float(10 * np.log10(255**2 / m))  # noqa: E731
    return {"sequence_db": round(to_db(float(np.mean(mse))), 2), "worst_frame_db": round(min(map(to_db, mse)), 2)}


def run_bench(
    customers: int = 8,
    approaches: str = "abcd",
    slow_customers: int | None = None,
    workdir: Path | None = None,
    progress: Callable[[str, int], None] | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Every approach for each of ``customers``, interleaved; ``progress(approach, index)`` after each render."""
    settings = settings or Settings()
    root = Path(workdir or settings.data_dir / "bench").resolve()
    root.mkdir(parents=True, exist_ok=True)
    build_workload(root, settings)
    ingest_started = time.perf_counter()
    _child("c", root, 0, root / "warmup.mp4")  # ingest (once per template version) is not per-customer work
    ingest_seconds = time.perf_counter() - ingest_started
    slow = customers if slow_customers is None else min(slow_customers, customers)
    results: dict[str, list[dict[str, Any]]] = {a: [] for a in approaches}
    with tempfile.TemporaryDirectory(prefix="pvideo-bench-", dir=root) as tmp:
        for index in range(customers):
            for approach in approaches:
                if approach == "a" and index >= slow:
                    continue
                out = Path(tmp) / f"{approach}-{index}.mp4"
                results[approach].append(_child(approach, root, index, out))
                if progress:
                    progress(approach, index)
        personalized = {k for layer in SCENE["layers"] for k in range(layer["start"] * 30, layer["end"] * 30)}
        quality = (
            psnr_c_vs_b(Path(tmp) / "c-0.mp4", Path(tmp) / "b-0.mp4", personalized)
            if "b" in approaches and "c" in approaches
            else None
        )
    return summarize(results, customers, ingest_seconds, quality)


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
        description="Render the reference workload with each approach, interleaved, and compare them as ratios.",
    )
    parser.add_argument("--customers", type=_at_least_one, default=8, help="customers per approach (default: 8)")
    parser.add_argument(
        "--approaches",
        default="abcd",
        help="subset of abcd: a moviepy, b full, c segments, d on demand (default: abcd)",
    )
    parser.add_argument("--slow-customers", type=int, default=None, help="cap moviepy (a) runs, which take ~1 min each")
    parser.add_argument("--workdir", type=Path, default=None, help="where the workload and outputs go")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(  # the per-render child process run_bench starts
        "--child", nargs=4, metavar=("APPROACH", "ROOT", "INDEX", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        approach, root, index, out = args.child
        print(json.dumps(run_one(approach, Path(root), int(index), Path(out))))
        return
    if set(args.approaches) - set(APPROACHES) or not args.approaches:
        parser.error(f"--approaches takes letters from {''.join(APPROACHES)}")
    console, err = Console(), Console(stderr=True)
    done, total = 0, args.customers * len(args.approaches)

    def tick(approach: str, index: int) -> None:
        nonlocal done
        done += 1
        if not args.json:
            err.print(f"  [{done}/{total}] {APPROACHES[approach]} #{index + 1}", highlight=False)

    report = run_bench(
        customers=args.customers,
        approaches=args.approaches,
        slow_customers=args.slow_customers,
        workdir=args.workdir,
        progress=tick,
        settings=Settings(),
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report, console)


if __name__ == "__main__":
    main()
