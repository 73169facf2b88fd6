"""Scene previews in a child process that the server can bound and kill.

A preview parses untrusted scene text, rasterizes its layers and decodes the
template: work whose memory and CPU time follow the input. Run in the server's
own process, a 12000x12000 box took 3.7 GB (944 MB of it kept for good) and a
pathological scene kept a thread busy long after its client had been told 504,
for nothing can stop a Python thread. So each preview runs in a fresh
``python -m pvideo.render.sandboxed``: ``RLIMIT_AS`` and ``RLIMIT_CPU`` are set
before it reads its job, and it runs in a session of its own, so that it and
its ffmpeg children die together when the server gives up on it.

One child is kept warm (its modules imported, waiting on stdin for its job), so
a preview does not pay for an interpreter start; each child runs one job only,
so nothing one scene did can leak into the next.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import math
import os
import resource
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

import pvideo
from pvideo.errors import (
    AssetError,
    DataError,
    NotFound,
    PermanentError,
    PvideoError,
    RenderError,
    SceneError,
    StorageError,
)
from pvideo.settings import Settings

log = logging.getLogger(__name__)

MB = 1024 * 1024
EXIT_REFUSED = 3  # stdout holds {"permanent": bool, "kind": str, "message": str}
EXIT_MEMORY = 4
EXIT_CPU = 5
_KNOWN = {cls.__name__: cls for cls in (SceneError, DataError, AssetError, NotFound, StorageError, RenderError)}
# imported by a spare child while it waits for its job
WARM_MODULES = (
    "moviepy",
    "pvideo.plan.compiler",
    "pvideo.render.preview",
    "pvideo.render.probe",
    "pvideo.scene.customers",
    "pvideo.scene.spec",
    "pvideo.storage",
)


class PreviewLimitError(PermanentError):
    """The preview needed more memory or CPU time than a preview may have."""


@dataclass(frozen=True)
class PreviewJob:
    """Everything the child needs, as plain data (it travels as JSON on the child's stdin)."""

    scene: str | dict[str, Any]
    row: dict[str, Any]
    at: float
    assets_dir: str
    storage_url: str
    s3_endpoint_url: str | None
    allow_private_fetch: bool
    memory_mb: int
    cpu_seconds: int

    @classmethod
    def for_settings(
        cls, settings: Settings, scene: str | dict[str, Any], row: dict[str, Any], at: float
    ) -> PreviewJob:
        return cls(
            scene=scene,
            row=row,
            at=at,
            assets_dir=str(Path(settings.assets_dir).resolve()),
            storage_url=settings.resolved_storage_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            allow_private_fetch=settings.fetch_allow_private,
            memory_mb=settings.preview_memory_mb,
            cpu_seconds=settings.preview_cpu_seconds,
        )


class RunningPreview:
    """One child at work: ``result`` waits for its PNG, ``kill`` ends it and its children."""

    def __init__(self, process: subprocess.Popen[bytes], job: PreviewJob, on_exit: Callable[[], None]) -> None:
        self.process = process
        self.job = job
        self.killed = False
        self._on_exit = on_exit

    def result(self) -> bytes:
        """The PNG, or the child's error raised here (``PreviewLimitError`` past a limit)."""
        try:
            out, err = self.process.communicate(json.dumps(asdict(self.job)).encode())
        finally:
            self._on_exit()
        code = self.process.returncode
        if code == 0:
            return out
        if self.killed:
            raise RenderError("the preview was stopped")
        if code == EXIT_REFUSED:
            raise _error(json.loads(out), self.job.assets_dir)
        if code == EXIT_MEMORY:
            raise PreviewLimitError(f"the preview needs more than {self.job.memory_mb} MB of memory")
        if code in (EXIT_CPU, -signal.SIGXCPU, -signal.SIGKILL):  # SIGKILL: past the hard CPU limit
            raise PreviewLimitError(f"the preview needs more than {self.job.cpu_seconds} s of CPU time")
        log.error("preview process failed (exit %s): %s", code, err.decode(errors="replace")[-2000:])
        raise RenderError("the preview process failed")

    def kill(self) -> None:
        """SIGKILL to the child's whole process group (its ffmpeg readers too); a no-op once it exited."""
        if self.process.returncode is not None:
            return
        self.killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)


class PreviewSandbox:
    """Starts previews in child processes, keeping one child warm for the next.

    The next child is started when a preview ends, not when it starts: two interpreters
    importing and compositing at once on a small machine made each preview slower."""

    def __init__(self) -> None:
        self._spare: list[subprocess.Popen[bytes]] = []  # at most one
        self._lock = threading.Lock()
        self._closed = False
        weakref.finalize(self, _release, self._spare)  # an unused spare reads EOF and exits

    def start(self, job: PreviewJob) -> RunningPreview:
        with self._lock:
            spare = self._spare.pop() if self._spare else None
        if spare is None or spare.poll() is not None:  # none yet, or it died
            spare = _spawn()
        return RunningPreview(spare, job, on_exit=self._refill)

    def _refill(self) -> None:
        with self._lock:
            if not self._closed and not any(p.poll() is None for p in self._spare):
                self._spare[:] = [_spawn()]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            spares = list(self._spare)
            _release(self._spare)
        for spare in spares:
            spare.wait()


def _release(spares: list[subprocess.Popen[bytes]]) -> None:
    for spare in spares:
        if spare.stdin is not None:
            spare.stdin.close()
    spares.clear()


def _spawn() -> subprocess.Popen[bytes]:
    root = str(Path(pvideo.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        # one thread each: thread stacks and BLAS buffers count against the address-space ceiling
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pvideo.render.sandboxed"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )


def _error(report: dict[str, Any], assets_dir: str) -> PvideoError:
    """The child's error as the same kind of error here; the assets folder's path is not shown."""
    message = str(report.get("message", "")).replace(assets_dir, "assets")
    kind = _KNOWN.get(str(report.get("kind")))
    if kind is not None:
        return kind(message)
    return PermanentError(message) if report.get("permanent") else RenderError(message)


# --- the child -------------------------------------------------------------------------------


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
    """Parse, check the pixel budget, compile like ``pvideo preview`` does, composite: a PNG."""
    from pvideo.plan.assets import resolve_asset
    from pvideo.plan.compiler import compile_plan
    from pvideo.render.preview import check_pixel_budget, preview_frame
    from pvideo.render.probe import probe
    from pvideo.scene.customers import coerce_row
    from pvideo.scene.spec import parse_scene
    from pvideo.storage import storage_from_url

    spec = parse_scene(scene_data(job.scene), source="scene")
    row = coerce_row(spec, job.row, source="row")
    assets = Path(job.assets_dir)
    template = probe(resolve_asset(assets, spec.video), count_frames=False)
    check_pixel_budget(spec, (template.width, template.height))
    storage = storage_from_url(job.storage_url, endpoint_url=job.s3_endpoint_url)
    plan = compile_plan(spec, row, assets_dir=assets, storage=storage, allow_private_fetch=job.allow_private_fetch)
    out = io.BytesIO()
    preview_frame(plan, job.at).save(out, format="PNG")
    return out.getvalue()


def _limit(memory_mb: int, cpu_seconds: int) -> None:
    """The job's ceilings: address space (soft: ``MemoryError`` past it) and CPU time (SIGXCPU at the
    soft limit, SIGKILL two seconds later)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * MB, resource.RLIM_INFINITY))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + cpu_seconds)  # the imports are not the job's
    resource.setrlimit(resource.RLIMIT_CPU, (soft, soft + 2))
    signal.signal(signal.SIGXCPU, lambda *_: os._exit(EXIT_CPU))
    subprocess.Popen = _DecoderPopen  # type: ignore[misc,assignment]


def _lift_memory_ceiling() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class _DecoderPopen(subprocess.Popen[bytes]):
    """Processes started by the job are moviepy's ffmpeg readers: they decode the template and clips,
    assets whose size no scene changes, and would pass the job's address-space ceiling on their own
    (a 4K decoder with a thread per core), so they start without it. The CPU limit stays."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("preexec_fn", _lift_memory_ceiling)
        super().__init__(*args, **kwargs)


def main() -> int:
    for name in WARM_MODULES:
        importlib.import_module(name)
    raw = sys.stdin.buffer.read()
    if not raw:
        return 0  # the server closed: this spare is not needed
    job = PreviewJob(**json.loads(raw))
    _limit(job.memory_mb, job.cpu_seconds)
    try:
        png = render_job(job)
    except MemoryError:
        return EXIT_MEMORY
    except PvideoError as exc:
        report = {"permanent": isinstance(exc, PermanentError), "kind": type(exc).__name__, "message": str(exc)}
        sys.stdout.buffer.write(json.dumps(report).encode())
        return EXIT_REFUSED
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
