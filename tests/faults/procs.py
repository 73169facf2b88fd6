"""Processes of the fault suite: started in process groups of their own, found again through /proc.

Every process the suite starts carries ``FAULTS_RUN`` (this session's id) and, for pvideo
processes, ``FAULTS_ROLE`` (which worker or server) in its environment. ffmpeg children inherit
both, so a child that outlived its killed worker, or a process left by an earlier session that
was killed itself, is found by its environment rather than by a name pattern.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

RUN_VAR, ROLE_VAR = "FAULTS_RUN", "FAULTS_ROLE"
# Every process started with a run's tag is also listed here (pid and start time), for processes
# that overwrite their environment (redis-server sets its title there).
REGISTRY = Path(tempfile.gettempdir()) / "pvideo-faults-sessions"
T = TypeVar("T")


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    state: str
    start: int  # clock ticks after boot: tells a process from a later one that reused its pid
    command: str


def proc_info(pid: int) -> ProcInfo | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name in parentheses may hold spaces
    return ProcInfo(pid, int(fields[1]), fields[0], int(fields[19]), command)


def running(pid: int, start: int | None = None) -> bool:
    """True while ``pid`` exists and is not a zombie (and, given ``start``, is still that process)."""
    info = proc_info(pid)
    return info is not None and info.state not in ("Z", "X") and (start is None or info.start == start)


def all_pids() -> Iterator[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def environ_value(pid: int, name: str) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = f"{name}=".encode()
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def tagged(run: str, role: str = "", *, prefix: bool = False) -> list[ProcInfo]:
    """Live processes started by this run (ffmpeg children included) with ``role``, or with a role
    starting with it given ``prefix``."""
    found = []
    for pid in all_pids():
        if pid == os.getpid() or environ_value(pid, RUN_VAR) != run:
            continue
        own = environ_value(pid, ROLE_VAR) or ""
        if role and not (own.startswith(role) if prefix else own == role):
            continue
        info = proc_info(pid)
        if info is not None and info.state not in ("Z", "X"):
            found.append(info)
    return found


def registered(run: str) -> list[ProcInfo]:
    """The live processes listed for ``run`` in the registry."""
    listing = REGISTRY / f"{run}.pids"
    found = []
    for line in listing.read_text().splitlines() if listing.exists() else []:
        pid, start = (int(x) for x in line.split())
        info = proc_info(pid)
        if info is not None and info.start == start and info.state not in ("Z", "X"):
            found.append(info)
    return found


def forget(run: str) -> None:
    (REGISTRY / f"{run}.pids").unlink(missing_ok=True)


def kill_all(processes: Sequence[ProcInfo]) -> None:
    for info in processes:
        if running(info.pid, info.start):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(info.pid, signal.SIGKILL)


def own_start_time() -> int:
    info = proc_info(os.getpid())
    assert info is not None
    return info.start


class Proc:
    """A subprocess in a new session (its own process group), its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        self.name, self.log, self.args = name, log, list(args)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self.process.pid
        if run := env.get(RUN_VAR):
            REGISTRY.mkdir(exist_ok=True)
            if (info := proc_info(self.pid)) is not None:
                with (REGISTRY / f"{run}.pids").open("a") as listing:
                    listing.write(f"{info.pid} {info.start}\n")

    def alive(self) -> bool:
        return self.process.poll() is None

    def group(self) -> list[ProcInfo]:
        """The live processes of this one's process group (a worker: the dramatiq parent and its children)."""
        found = []
        for pid in all_pids():
            try:
                if os.getpgid(pid) != self.pid:
                    continue
            except ProcessLookupError:
                continue
            info = proc_info(pid)
            if info is not None and info.state not in ("Z", "X"):
                found.append(info)
        return found

    def kill9(self) -> None:
        """``kill -9`` of the whole process group, as when the OOM killer or an operator ends a worker."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, grace: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # children the parent left behind
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 12, width: int = 400) -> str:
        """The log's last ``lines``, each cut to ``width`` characters (JSON tracebacks are long)."""
        last = [line if len(line) <= width else line[:width] + " ..." for line in self.text().splitlines()[-lines:]]
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(last)


def wait_until(
    what: str, check: Callable[[], T], timeout: float, interval: float = 0.2, details: Callable[[], str] = str
) -> T:
    """``check()``'s first truthy value, polled every ``interval``; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s\n{details()}")
        time.sleep(interval)
