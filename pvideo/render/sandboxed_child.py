"""The preview sandbox's child side: the fork server's warm-up and one job in a forked child.

``python -m pvideo.render.sandboxed_child FD`` is the fork server
(``pvideo.render.zygote``) the server's ``PreviewSandbox`` starts: it imports
what a preview needs and reads the bundled fonts once, then forks a child per
job that sets the job's limits (``_limit``) before it reads anything the job
sent, and answers a PNG or the error the server raises again.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import yaml

from pvideo.errors import PermanentError, PvideoError, RenderError, SceneError
from pvideo.render.sandboxed import EXIT_CPU, EXIT_MEMORY, EXIT_REFUSED, MB, PreviewJob
from pvideo.render.zygote import serve
from pvideo.settings import Settings

# imported by the fork server, once for every job
WARM_MODULES = (
    "pvideo.plan.compiler",
    "pvideo.render.preview",
    "pvideo.render.probe",
    "pvideo.render.still",
    "pvideo.scene.customers",
    "pvideo.scene.spec",
    "pvideo.storage",
)
WARM_FONTS = ("Inter-Bold", "Inter-Regular")  # the text layers' default font and its regular weight


def scene_data(scene: str | dict[str, Any]) -> dict[str, Any]:
    """The scene as data; YAML text is loaded here, in the child, where its cost is bounded."""
    if isinstance(scene, dict):
        return scene
    try:
        data = yaml.safe_load(scene)
    except yaml.YAMLError as exc:
        raise SceneError(f"scene: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SceneError("scene: a scene must be a mapping with name, video and layers")
    return data


def render_job(job: PreviewJob) -> bytes:
    """Parse, check the pixel budget, compile as a campaign render does, draw the frame with the
    engine's own code (``pvideo.render.still``): a PNG."""
    from pvideo.plan.assets import resolve_asset
    from pvideo.plan.compiler import compile_plan
    from pvideo.plan.uploads import asset_root
    from pvideo.render.parts import skipped_segments
    from pvideo.render.preview import check_pixel_budget
    from pvideo.render.probe import probe
    from pvideo.render.still import base_frame, draw_still, pick_frame, png_bytes, still_version
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import parse_scene
    from pvideo.storage import storage_from_url

    spec = parse_scene(scene_data(job.scene), source="scene")
    row = coerce_row(spec, job.row, source="row")
    settings = job.engine_settings()
    storage = storage_from_url(job.storage_url, endpoint_url=job.s3_endpoint_url)
    assets = asset_root(settings, storage)  # bundled assets, and uploads from the storage
    template = probe(resolve_asset(assets, spec.video), count_frames=False)
    check_pixel_budget(spec, (template.width, template.height))
    plan = compile_plan(spec, row, assets_dir=assets, storage=storage, allow_private_fetch=job.allow_private_fetch)
    try:
        version, static = still_version(plan, storage, settings)  # an ingest, once per template at most
        pick = pick_frame(version, skipped_segments(plan, version), job.at)
        with _template_decode():
            base = replace(base_frame(version, pick, storage, settings), static=static)
        image = draw_still(plan, base, settings)
    except RenderError as exc:
        if any(words in str(exc) for words in _OUT_OF_MEMORY):
            raise MemoryError from None
        if _ffmpeg_spent_its_cpu():
            raise _CpuSpent from None
        raise
    return png_bytes(image)


def warm_up() -> None:
    """What every job would otherwise pay in its own child: the bundled default fonts' tables (and
    fontTools' table modules, ~0.25 s), PyAV's first open of a file (~20 ms), the engine's
    settings model. Then the heap is frozen, so the children's garbage collector leaves the
    shared pages unwritten."""
    from pvideo.plan.assets import resolve_font
    from pvideo.plan.raster import TextStyle, render_text
    from pvideo.render.probe import probe

    settings = Settings()
    for name in WARM_FONTS:
        with contextlib.suppress(PvideoError):
            font = resolve_font(settings.assets_dir, name)
            render_text("Aa 1", 64, 32, TextStyle(font=font, size=20, min_size=8, color="#ffffff"))
    for template in sorted((settings.assets_dir / "templates").glob("*.mp4"))[:1]:
        with contextlib.suppress(PvideoError):
            probe(template, count_frames=False)
    gc.collect()
    gc.freeze()


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    """The job's ceilings: address space (soft: ``MemoryError`` past it) and CPU time (SIGXCPU at the
    soft limit, SIGKILL two seconds later)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MB, resource.RLIM_INFINITY))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_seconds)  # the imports are not the job's
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
    _cpu_ceiling[0] = soft
    signal.signal(signal.SIGXCPU, lambda *_: os._exit(EXIT_CPU))
    subprocess.Popen = _DecoderPopen  # type: ignore[misc,assignment]


def _lift_memory_ceiling() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


_TEMPLATE_DECODE: list[bool] = []  # non-empty while the job decodes a template frame
_OUT_OF_MEMORY = ("Cannot allocate memory", "malloc of size", "get_buffer() failed")  # ffmpeg's and x264's words
_cpu_ceiling = [0.0]  # the job's RLIMIT_CPU soft limit, which each ffmpeg it runs inherits


class _CpuSpent(Exception):
    """An ffmpeg of the job reached the CPU ceiling: it catches SIGXCPU itself and exits 255."""


def _ffmpeg_spent_its_cpu() -> bool:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the ffmpeg runs, once waited for
    return bool(_cpu_ceiling[0]) and usage.ru_utime + usage.ru_stime >= _cpu_ceiling[0] - 0.1


@contextlib.contextmanager
def _template_decode() -> Iterator[None]:
    _TEMPLATE_DECODE.append(True)
    try:
        yield
    finally:
        _TEMPLATE_DECODE.pop()


class _DecoderPopen(subprocess.Popen[bytes]):
    """Processes started by the job are ffmpeg runs. The one that decodes a template frame works on
    an asset whose size no scene changes, and would pass the job's address-space ceiling on its own
    (a 4K decoder with a thread per core), so it starts without it (``_template_decode``). The
    others keep it: the ingest bakes the scene's static layers in, the still draws its personal
    ones, pictures the scene sizes. The CPU limit stays on all."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _TEMPLATE_DECODE:
            kwargs.setdefault("preexec_fn", _lift_memory_ceiling)
        super().__init__(*args, **kwargs)


def run_one(raw: bytes) -> tuple[int, bytes]:
    """One job in its forked child: its limits first, then the work; the exit code and what to send."""
    job = PreviewJob(**json.loads(raw))
    _limit(job.memory_mb, job.cpu_seconds)
    try:
        return 0, render_job(job)
    except MemoryError:
        return EXIT_MEMORY, b""
    except _CpuSpent:
        return EXIT_CPU, b""
    except PvideoError as exc:
        report = {"permanent": isinstance(exc, PermanentError), "kind": type(exc).__name__, "message": str(exc)}
        return EXIT_REFUSED, json.dumps(report).encode()


def main() -> int:
    control = socket.socket(fileno=int(sys.argv[1]))
    for name in WARM_MODULES:
        importlib.import_module(name)
    warm_up()
    return serve(control, run_one)


if __name__ == "__main__":
    sys.exit(main())
