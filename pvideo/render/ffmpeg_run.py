"""Running ffmpeg: the only place pvideo starts a subprocess.

``ffmpeg_args`` turns an ffmpeg-python graph into the argument list (pure);
``run_ffmpeg`` runs one in its own process group with a timeout, and on
timeout the whole group is killed so no encoder is left behind.

If the worker itself is killed (``kill -9``, the OOM killer) it cannot kill
anything, so ffmpeg is started under util-linux ``setpriv --pdeathsig KILL``:
the kernel kills it the moment its parent dies. (``setpriv`` sets the signal
and then execs ffmpeg, so Python keeps its fast spawn path; a ``preexec_fn``
would force a fork of the whole worker for every ffmpeg run.)
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence

from ffmpeg.nodes import OutputStream

from pvideo.errors import RenderError
from pvideo.render.priority import pass_on_priority

GLOBAL_FLAGS = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
_STDERR_TAIL = 2000


def ffmpeg_args(stream: OutputStream, ffmpeg_exe: str) -> list[str]:
    """The argument list of an ffmpeg-python output graph, with the flags every run uses."""
    args = stream.compile(cmd=ffmpeg_exe)
    return [args[0], *GLOBAL_FLAGS, *args[1:]]


def run_ffmpeg(args: Sequence[str], *, timeout: float) -> None:
    """Run an ffmpeg argument list (``args[0]`` is the binary); raise ``RenderError`` on failure."""
    process = subprocess.Popen(
        with_parent_death_signal(list(args)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    pass_on_priority(process.pid)
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise RenderError(f"ffmpeg did not finish within {timeout:g} s and was killed") from None
    except BaseException:
        _kill_group(process)
        raise
    if process.returncode != 0:
        tail = stderr.decode("utf-8", "replace")[-_STDERR_TAIL:].strip()
        raise RenderError(f"ffmpeg exited with code {process.returncode}: {tail}")


def with_parent_death_signal(args: list[str]) -> list[str]:
    """``args`` under ``setpriv --pdeathsig KILL`` when both it and the program exist (else as they are,
    so a missing program still raises ``FileNotFoundError`` here rather than failing inside setpriv)."""
    setpriv = _setpriv()
    if setpriv is None or shutil.which(args[0]) is None:
        return args
    return [setpriv, "--pdeathsig", "KILL", "--", *args]


@functools.cache
def _setpriv() -> str | None:
    return shutil.which("setpriv") if sys.platform == "linux" else None


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
