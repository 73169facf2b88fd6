"""A worker's renders yield the CPU to previews: its nice value, its session's scheduling group,
and its ffmpeg runs' groups (each in a session of its own) are lowered together."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

AUTOGROUP = Path("/proc/self/autogroup")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="the kernel has no scheduler autogroups")
def test_a_lowered_worker_lowers_its_group_and_its_ffmpeg_runs_groups():
    script = textwrap.dedent(
        """
        import os, subprocess, time
        from pathlib import Path
        from pvideo.render.priority import lower_priority, pass_on_priority

        lower_priority(7)
        child = subprocess.Popen(["sleep", "5"], start_new_session=True)
        pass_on_priority(child.pid)
        print(os.nice(0))
        print(Path("/proc/self/autogroup").read_text().split()[-1])
        print(Path(f"/proc/{child.pid}/autogroup").read_text().split()[-1])
        print(int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[16]))
        child.kill()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, start_new_session=True
    )
    nice, group, child_group, child_nice = out.stdout.split()
    assert (nice, group, child_group, child_nice) == ("7", "7", "7", "7")
