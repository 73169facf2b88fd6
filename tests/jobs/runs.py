"""Test helpers: submit a campaign straight to the database, wait until its rows are finished,
list the videos a storage holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pvideo.access.tokens import ViewerTokens
from pvideo.jobs import campaigns
from pvideo.runtime import Runtime
from pvideo.scene.customers import CustomerRow
from pvideo.scene.spec import SceneSpec

ROW = {"customer_id": "c", "first_name": "Kim", "price": 5}


def submit(runtime: Runtime, spec: SceneSpec, rows: list[CustomerRow]) -> tuple[str, list[str]]:
    """The campaign's id and its queued render ids (nothing is enqueued), through ``campaigns.submit``."""
    with runtime.db.session() as session:
        submission = campaigns.submit(
            session,
            campaigns.CampaignRequest(spec, rows),
            settings=runtime.settings,
            tokens=ViewerTokens(runtime.settings.signing_key),
        )
        return submission.campaign.id, submission.queued


def wait_finished(
    runtime: Runtime, campaign_id: str, total: int, timeout: float, tail: Callable[[], str] | None = None
) -> dict[str, Any]:
    """The status counts once ``total`` rows are done or failed; fails after ``timeout`` seconds,
    with ``tail()`` (a worker's log) in the message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            counts = campaigns.status_counts(session, campaign_id)
        if counts["done"] + counts["failed"] >= total:
            return counts
        time.sleep(0.25)
    raise AssertionError(f"campaign not finished in {timeout} s: {counts}\n{tail() if tail else ''}")


def outputs(root: Path, name: str = "video.mp4") -> list[Path]:
    """The ``name`` files of every output under a local storage's ``root``."""
    return sorted((root / "outputs").glob(f"*/{name}")) if (root / "outputs").exists() else []
