"""An ffmpeg that a test can slow down or hold, per worker, given to pvideo as ``PVIDEO_FFMPEG``.

It is one process from start to end: a small Python program that waits as told, then ``exec``s
the real ffmpeg in place (same pid). So signals meant for ffmpeg (a kill of its process group, a
parent-death signal) reach it while it waits, exactly as they would reach ffmpeg.

Control files in the gate's folder, read on every call (``<role>`` is the worker's
``FAULTS_ROLE``):

* ``hold-<role>``: while it exists, calls of that worker wait (and leave ``held-<role>-<pid>``).
* ``delay-<role>``, else ``delay``: seconds every call waits first.
* ``ingest-delay``: seconds a template ingest (the call that cuts ``seg_%05d.ts``) waits first.

Each call is logged in ``calls.log`` (role, pid, ingest or render).
"""

from __future__ import annotations

import sys
from pathlib import Path

_PROGRAM = """\
#!{python} -S
import os, sys, time
real, folder = {real!r}, {folder!r}
role = os.environ.get("FAULTS_ROLE", "")

def number(name):
    try:
        with open(os.path.join(folder, name)) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return None

ingest = any(a.endswith("seg_%05d.ts") for a in sys.argv[1:])
with open(os.path.join(folder, "calls.log"), "a") as log:
    log.write("%s %d %s\\n" % (role, os.getpid(), "ingest" if ingest else "render"))
hold = os.path.join(folder, "hold-" + role)
if role and os.path.exists(hold):
    open(os.path.join(folder, "held-%s-%d" % (role, os.getpid())), "w").close()
    while os.path.exists(hold):
        time.sleep(0.05)
delay = number("delay-" + role)
if delay is None:
    delay = number("delay") or 0
if ingest:
    delay += number("ingest-delay") or 0
if delay > 0:
    time.sleep(delay)
os.execv(real, [real, *sys.argv[1:]])
"""


class FfmpegGate:
    def __init__(self, folder: Path, real: str) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "ffmpeg"
        self.path.write_text(_PROGRAM.format(python=sys.executable, real=real, folder=str(folder)))
        self.path.chmod(0o755)

    def _set(self, name: str, value: float | None) -> None:
        target = self.folder / name
        if value is None:
            target.unlink(missing_ok=True)
        else:
            partial = target.with_suffix(".part")
            partial.write_text(str(value))
            partial.replace(target)

    def delay(self, seconds: float | None, role: str | None = None) -> None:
        self._set(f"delay-{role}" if role else "delay", seconds)

    def ingest_delay(self, seconds: float | None) -> None:
        self._set("ingest-delay", seconds)

    def hold(self, role: str) -> None:
        (self.folder / f"hold-{role}").touch()

    def release(self, role: str) -> None:
        (self.folder / f"hold-{role}").unlink(missing_ok=True)

    def calls(self) -> list[tuple[str, int, str]]:
        """Every call so far: (role, pid, "ingest" or "render")."""
        log = self.folder / "calls.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [(role, int(pid), kind) for role, pid, kind in (line.split(" ") for line in lines)]

    def held(self, role: str) -> list[int]:
        """Pids of ``role``'s calls that reached the hold."""
        return sorted(int(p.name.rsplit("-", 1)[1]) for p in self.folder.glob(f"held-{role}-*"))
