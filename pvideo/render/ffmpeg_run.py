"""Running ffmpeg: the only place pvideo starts a subprocess.

ffmpeg runs in its own process group with a timeout; on timeout the whole
group is killed so no encoder is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence

from pvideo.errors import RenderError

_STDERR_TAIL = 2000


def run_ffmpeg(args: Sequence[str], *, timeout: float) -> None:
    """Run an ffmpeg argument list (``args[0]`` is the binary); raise ``RenderError`` on failure."""
    process = subprocess.Popen(
        list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
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


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
