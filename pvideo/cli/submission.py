"""Submitting a customers file from the command line, and following its renders to the end.

``campaign submit`` and ``demo`` both go through ``submit_file``: the same
``pvideo.jobs.campaigns.submit`` the API calls, so the same limits hold
(``PVIDEO_MAX_ROWS``, the scene's assets).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pvideo.cli.console import console, err

ROWS_FAILED_EXIT = 3
"""The exit code of ``campaign submit`` that waited for its rows when any of them failed
(1 is an error that stopped the command itself)."""

if TYPE_CHECKING:
    from pvideo.jobs.privacy_options import PrivacyOptions
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue


def submit_file(
    runtime: Runtime,
    queue: RenderQueue,
    scene: Path,
    customers_file: Path,
    *,
    name: str | None = None,
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    metadata: dict[str, Any] | None = None,
    scene_version_id: str | None = None,
    privacy: PrivacyOptions | None = None,
) -> tuple[str, int]:
    """Submit a campaign (streaming the file) and fan it out; returns its id and row count."""
    from pvideo.access.audit import cli_actor
    from pvideo.access.tokens import ViewerTokens
    from pvideo.jobs.campaigns import CampaignRequest, submit
    from pvideo.jobs.privacy_options import PrivacyOptions
    from pvideo.scene.customers import stream_customers
    from pvideo.scene.spec import load_scene

    settings = runtime.settings
    spec = load_scene(scene)
    request = CampaignRequest(
        spec=spec,
        rows=stream_customers(customers_file, spec),
        source=str(customers_file),
        name=name,
        webhook_url=webhook_url,
        metadata=metadata,
        idempotency_key=idempotency_key,
        submitted_by=cli_actor(),
        scene_version_id=scene_version_id,
        privacy=privacy or PrivacyOptions(),
    )
    with runtime.db.session() as session:
        submission = submit(session, request, settings=settings, tokens=ViewerTokens(settings.signing_key))
        campaign_id, total = submission.campaign.id, submission.campaign.total
    for _, reason in submission.rejected:
        err.print(f"[yellow]rejected[/yellow] {reason}", highlight=False)
    if submission.rejected_count > len(submission.rejected):
        err.print(f"[yellow]... {submission.rejected_count} rows rejected in all (see the manifest)[/yellow]")
    if not queue.dispatch(submission.fan_out):
        err.print(
            "[yellow]the queue (Redis) is unreachable: the campaign is saved and starts once a worker reaches it"
            "[/yellow]"
        )
    return campaign_id, total


def render_here(queue: RenderQueue) -> None:
    """Embedded mode: start the in-process workers and drain the queue in the background."""
    queue.start()
    threading.Thread(target=queue.join, daemon=True).start()


def wait_with_progress(runtime: Runtime, campaign_ids: list[str], total: int) -> dict[str, int]:
    """A progress bar over every row of ``campaign_ids`` until all are finished; the final counts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pvideo.jobs.campaigns import progress as campaign_progress

    with Progress(
        TextColumn("rendering"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("render", total=total, detail="")
        while True:
            with runtime.db.session() as session:
                each = [
                    campaign_progress(session, c, window_seconds=runtime.settings.eta_window_seconds)
                    for c in campaign_ids
                ]
            counts = {k: sum(p.counts[k] for p in each) for k in each[0].counts}
            finished, rate = sum(p.finished for p in each), sum(p.rate_per_minute for p in each)
            eta = f", ETA {(total - finished) / rate * 60:.0f} s" if rate and finished < total else ""
            bar.update(
                task, completed=finished, detail=f"{counts['done']} done, {counts['failed']} failed, {rate:g}/min{eta}"
            )
            if finished >= total:
                return counts
            time.sleep(0.5)
