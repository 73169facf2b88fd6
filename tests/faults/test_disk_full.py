"""A worker whose data folder is full fails its rows with the reason, within the attempt budget.

The full folder is real: a 256 KB tmpfs, filled to the last byte, mounted over the worker's
``PVIDEO_DATA_DIR`` inside a mount namespace of the worker's own (``unshare --mount``), so every
write there fails with ``OSError: [Errno 28] No space left on device`` while the rest of the
machine never sees the mount, and it disappears with the worker. (A file-size rlimit would give
``EFBIG`` instead, and a symlink to ``/dev/full`` would depend on pvideo's file names.)

Before the fix, such a row looped: each retry found the row's own lease live, raised
``RenderBusy`` and re-sent a fresh message, so attempts climbed past the budget while ``error``
stayed empty and the row ``rendering``.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.faults.deployment import ATTEMPT_BUDGET, Deployment, customer_rows
from tests.services import unavailable

pytestmark = pytest.mark.faults

BOUND = 90.0  # five attempts with the queue's backoff (1-2, 2-4, 4-8, 8-16 s) and a lease or two
DISK_ERROR = re.compile(r"no space left|errno 28|enospc|disk (is )?full", re.IGNORECASE)


def can_mount_tmpfs(where: Path) -> str | None:
    """None when a tmpfs can be mounted in a private mount namespace here, else why not."""
    script = 'mount -t tmpfs -o size=64k pvfaults-probe "$1" && umount "$1"'
    try:
        probe = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", str(where)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except FileNotFoundError as exc:
        return str(exc)
    return None if probe.returncode == 0 else probe.stderr.strip() or f"exit {probe.returncode}"


def test_full_data_folder_fails_rows_with_the_reason_within_the_budget(deployment: Deployment, tmp_path) -> None:
    if (reason := can_mount_tmpfs(tmp_path)) is not None:
        unavailable("a tmpfs in a private mount namespace (unshare --mount, as root)", reason)
    d = deployment
    d.wait_ready(d.start_api(wait=False), d.start_worker("full", full_disk=True, wait=False))
    started = time.monotonic()
    campaign = d.campaign(customer_rows(3))

    most: dict[int, int] = {}
    deadline = started + BOUND
    while True:
        rows = d.renders(campaign)
        for r in rows:
            most[r.row_number] = max(most.get(r.row_number, 0), r.attempts)
        over = {n: a for n, a in most.items() if a > ATTEMPT_BUDGET}
        assert not over, f"attempts beyond the budget of {ATTEMPT_BUDGET}: {over}\n{d.describe(campaign)}"
        if all(r.status in ("done", "failed", "cancelled") for r in rows):
            break
        assert time.monotonic() < deadline, f"rows still open {BOUND:.0f} s after submit\n{d.describe(campaign)}"
        time.sleep(0.5)
    finished_in = time.monotonic() - started

    wrong = [
        f"row {r.row_number}: {r.status}, attempts {r.attempts}, error {r.error!r}"
        for r in rows
        if r.status != "failed" or not r.error or not DISK_ERROR.search(r.error)
    ]
    assert not wrong, "rows should fail naming the full disk:\n" + "\n".join(wrong)
    print(f"rows failed after {finished_in:.1f} s with attempts {sorted(most.values())}: {rows[0].error!r}")
