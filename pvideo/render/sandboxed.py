"""Scene previews in a child process that the server can bound and kill.

A preview parses untrusted scene text, rasterizes its layers and decodes the
template: work whose memory and CPU time follow the input. Run in the server's
own process, a 12000x12000 box took 3.7 GB (944 MB of it kept for good) and a
pathological scene kept a thread busy long after its client had been told 504,
for nothing can stop a Python thread. So each preview runs in a child process
of its own: ``RLIMIT_AS`` and ``RLIMIT_CPU`` are set before it reads its job,
and it runs in a session of its own, so that it and its ffmpeg runs die
together when the server gives up on it.

The children are forked from one warm fork server
(``python -m pvideo.render.sandboxed_child``, see ``pvideo.render.zygote``),
which imports pvideo and reads the bundled fonts once: a new interpreter per
preview spent 1.5-3 CPU s importing, more than the preview, and a person
editing a scene outran it. Each child still runs one job only, so nothing one
scene did can leak into the next.

The frame is the production engine's (``pvideo.render.still``): the child finds
the scene's template version in the storage the workers use (ingesting it there
if no render has yet: once per version) and draws the personal layers with the
engine's filters, so the job carries the settings that decide the version and
where decoded frames are cached.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
from pvideo.render.zygote import Frames
from pvideo.settings import Settings

log = logging.getLogger(__name__)

MB = 1024 * 1024
EXIT_REFUSED = 3  # the output is {"permanent": bool, "kind": str, "message": str}
EXIT_MEMORY = 4
EXIT_CPU = 5
_KNOWN = {cls.__name__: cls for cls in (SceneError, DataError, AssetError, NotFound, StorageError, RenderError)}


class PreviewLimitError(PermanentError):
    """The preview needed more memory or CPU time than a preview may have."""


@dataclass(frozen=True)
class PreviewJob:
    """Everything the child needs, as plain data (it travels as JSON on the child's socket)."""

    scene: str | dict[str, Any]
    row: dict[str, Any]
    at: float
    assets_dir: str
    storage_url: str
    s3_endpoint_url: str | None
    allow_private_fetch: bool
    memory_mb: int
    cpu_seconds: int
    # what finds (or makes) the template version a campaign render uses, and caches its frames
    data_dir: str = "pvideo-data"
    ffmpeg_exe: str = "ffmpeg"
    ffmpeg_timeout: float = 600.0
    segment_seconds: float = 1.0
    x264_preset: str = "veryfast"
    x264_crf: int = 23

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
            data_dir=str(Path(settings.data_dir).resolve()),
            ffmpeg_exe=settings.ffmpeg_exe,
            ffmpeg_timeout=settings.ffmpeg_timeout,
            segment_seconds=settings.segment_seconds,
            x264_preset=settings.x264_preset,
            x264_crf=settings.x264_crf,
        )

    def engine_settings(self) -> Settings:
        """The settings the engine reads for this job (template versions, frame cache, ffmpeg); the
        server validated them, and reading the environment again would cost the child ~20 ms."""
        return Settings.model_construct(
            data_dir=Path(self.data_dir),
            assets_dir=Path(self.assets_dir),
            storage_url=self.storage_url,
            s3_endpoint_url=self.s3_endpoint_url,
            ffmpeg=self.ffmpeg_exe,
            ffmpeg_timeout=self.ffmpeg_timeout,
            segment_seconds=self.segment_seconds,
            x264_preset=self.x264_preset,
            x264_crf=self.x264_crf,
        )


class RunningPreview:
    """One job at work in a child forked for it: ``result`` waits for its PNG, ``kill`` ends it and
    its children."""

    def __init__(self, conn: socket.socket, job: PreviewJob) -> None:
        self.conn = conn
        self.job = job
        self.killed = False
        self.frames = Frames()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The child's pid (its process group's too), once it has reported it."""
        return self.frames.pid

    def result(self) -> bytes:
        """The PNG, or the child's error raised here (``PreviewLimitError`` past a limit)."""
        try:
            self._exchange()
        finally:
            self.conn.close()
        code, out = self.frames.returncode, self.frames.output
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
        log.error("preview process failed (exit %s; its traceback is on the server's stderr)", code)
        raise RenderError("the preview process failed")

    def _exchange(self) -> None:
        """Send the job, then read frames until the fork server reports the child's exit (or hangs up)."""
        with contextlib.suppress(OSError):  # a child killed early stops reading: its code says why
            self.conn.sendall(json.dumps(asdict(self.job)).encode())
            self.conn.shutdown(socket.SHUT_WR)
        while self.frames.returncode is None:
            try:
                data = self.conn.recv(1 << 16)
            except OSError:
                return
            if not data:
                return
            if b"P" in self.frames.feed(data):
                with self._lock:
                    if self.killed:
                        self._kill_group()

    def kill(self) -> None:
        """SIGKILL to the child's whole process group (its ffmpeg runs too); a no-op once it exited."""
        with self._lock:
            if self.frames.returncode is not None:
                return
            self.killed = True
            self._kill_group()  # before its pid came, the reader kills it as soon as it does

    def _kill_group(self) -> None:
        if self.frames.pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.frames.pid, signal.SIGKILL)


class PreviewSandbox:
    """Starts previews in child processes forked from one warm fork server (``pvideo.render.zygote``).

    The fork server is started at the first preview and again if it died; closing the sandbox
    closes its control socket, and it exits once its running jobs have."""

    def __init__(self) -> None:
        self._server: list[tuple[subprocess.Popen[bytes], socket.socket]] = []  # at most one
        self._lock = threading.Lock()
        weakref.finalize(self, _release, self._server)  # the fork server reads EOF and exits

    def start(self, job: PreviewJob) -> RunningPreview:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self._lock:
                for attempt in range(2):
                    if not self._server or self._server[0][0].poll() is not None:  # none yet, or it died
                        _release(self._server)
                        self._server.append(_spawn())
                    try:
                        socket.send_fds(self._server[0][1], [b"j"], [theirs.fileno()])
                        break
                    except OSError:
                        _release(self._server)
                        if attempt:
                            raise RenderError("the preview process could not be started") from None
        finally:
            theirs.close()
        return RunningPreview(ours, job)

    @property
    def server_pid(self) -> int | None:
        with self._lock:
            return self._server[0][0].pid if self._server else None

    def close(self) -> None:
        with self._lock:
            servers = [process for process, _ in self._server]
            _release(self._server)
        for process in servers:
            process.wait()


def _release(server: list[tuple[subprocess.Popen[bytes], socket.socket]]) -> None:
    for _, control in server:
        control.close()
    server.clear()


def _spawn() -> tuple[subprocess.Popen[bytes], socket.socket]:
    """The fork server, and the control socket the server sends it jobs on."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    root = str(Path(pvideo.__file__).resolve().parent.parent)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        # one thread each: thread stacks and BLAS buffers count against the address-space ceiling
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pvideo.render.sandboxed_child", str(theirs.fileno())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        pass_fds=[theirs.fileno()],
        start_new_session=True,
        env=env,
    )
    theirs.close()
    return process, ours


def _error(report: dict[str, Any], assets_dir: str) -> PvideoError:
    """The child's error as the same kind of error here; the assets folder's path is not shown."""
    message = str(report.get("message", "")).replace(assets_dir, "assets")
    kind = _KNOWN.get(str(report.get("kind")))
    if kind is not None:
        return kind(message)
    return PermanentError(message) if report.get("permanent") else RenderError(message)
