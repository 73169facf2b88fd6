"""Render processes yield the CPU to interactive work: the studio's previews and viewers' pages.

A worker renders campaigns flat out; a preview is 150 ms of CPU that a person
waits for. On a small machine both share the cores, so the worker lowers its
own priority at start (``PVIDEO_RENDER_NICE``): its ffmpeg runs inherit it, and
it loses nothing while no preview runs. Linux groups the processes of a
session for scheduling (autogroup, on by default): a nice value then weighs only
against the same session's processes, while the server's preview children run
in sessions of their own. So the session's group is lowered too, where the
kernel has it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

AUTOGROUP = "/proc/{pid}/autogroup"


def lower_priority(nice: int) -> None:
    """Lower this process (and what it starts) by ``nice`` steps, and its session's scheduling group."""
    if nice <= 0:
        return
    os.nice(nice)
    _lower_group("self", nice)


def pass_on_priority(pid: int) -> None:
    """Give child ``pid``, started in a session of its own (ffmpeg runs are, to be killed whole),
    this process's lowered priority for its session's group too: its nice value alone would weigh
    only inside that new group."""
    nice = os.nice(0)
    if nice > 0:
        _lower_group(str(pid), nice)


def _lower_group(pid: str, nice: int) -> None:
    with contextlib.suppress(OSError):  # no autogroup (another OS, a kernel without it, gone): nice alone
        Path(AUTOGROUP.format(pid=pid)).write_text(str(min(nice, 19)))
