"""``pvideo customer``: what pvideo holds about one customer: erase it (``erase``), export it (``export``).

``erase`` does the database part at once, in this process (``pvideo.privacy.erasure``); the
stored outputs are deleted by the job it creates: by the workers when a Redis queue is set
(``--wait`` follows the job until it is done), else here, before the command returns.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pvideo.cli.console import console, fail, load_settings
from pvideo.errors import PvideoError

if TYPE_CHECKING:
    from pvideo.db.models import ErasureJob
    from pvideo.runtime import Runtime

app = typer.Typer(help="A customer's data: erase it everywhere, or export it.", no_args_is_help=True)


@app.command("erase")
def customer_erase(
    customer_id: Annotated[str, typer.Argument(help="the id from the customer file")],
    campaign: Annotated[str | None, typer.Option("--campaign", help="erase them from this campaign only")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="return once the stored outputs are deleted too")] = False,
) -> None:
    """Erase a customer: row data, links, outputs (every version), events, answers, webhook payloads."""
    from pvideo.access import audit
    from pvideo.privacy.erasure import load, request_erasure
    from pvideo.runtime import Runtime

    runtime = Runtime.from_settings(load_settings())
    try:
        job = request_erasure(runtime, customer_id, campaign_id=campaign, actor=audit.cli_actor(), role="admin")
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"erasure {job.id}: {len(job.render_ids)} renders erased, links revoked")
    if job.state != "done":
        if runtime.settings.redis_url:
            _send(runtime, job.id)
            if not wait:
                console.print(f"{len(job.keys)} stored outputs are being deleted by the workers")
                return
            while (job := load(runtime.db, job.id)).state != "done":
                time.sleep(1)
        else:
            job = _run_here(runtime, job.id)
    removed = ", ".join(f"{v} {k}" for k, v in sorted(job.removed.items()))
    console.print(f"erasure {job.id} done: {removed}")


def _send(runtime: Runtime, job_id: str) -> None:
    from workers.queue import RenderQueue

    queue = RenderQueue(runtime)
    try:
        queue.actors.send_erasure(job_id)
    finally:
        queue.close()


def _run_here(runtime: Runtime, job_id: str) -> ErasureJob:
    """Run the job in this process until it is done, waiting out the storage's backoffs."""
    from pvideo.db.models import utcnow
    from pvideo.privacy.erasure import run_erasure

    while True:
        job = run_erasure(runtime, job_id)
        if job.state == "done":
            return job
        until = job.claimed_until.replace(tzinfo=job.claimed_until.tzinfo or UTC) if job.claimed_until else None
        pause = max(1.0, (until - utcnow()).total_seconds()) if until else 1.0
        console.print(f"the storage failed ({job.last_error}); {len(job.keys)} left, trying again in {pause:.0f} s")
        time.sleep(pause)


@app.command("export")
def customer_export(
    customer_id: Annotated[str, typer.Argument(help="the id from the customer file")],
    campaign: Annotated[str | None, typer.Option("--campaign", help="export this campaign only")] = None,
    zip_file: Annotated[Path | None, typer.Option("--zip", help="write a ZIP: the JSON and the media files")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the JSON here (default: print it)")] = None,
) -> None:
    """Export everything pvideo holds about a customer: rows, events, answers, deliveries, media."""
    from pvideo.access import audit
    from pvideo.privacy import archive, export
    from pvideo.runtime import Runtime

    if zip_file is not None and json_file is not None:
        raise fail("give --zip or --json, not both")
    runtime = Runtime.from_settings(load_settings())
    try:
        found = export.customer_export(runtime, customer_id, campaign_id=campaign)
        if zip_file is not None:
            archive.write_zip(found, runtime.storage, zip_file)
        elif json_file is not None:
            with json_file.open("wb") as out:
                archive.write_json(found, out)
        else:
            sys.stdout.buffer.write(archive.json_bytes(found) + b"\n")
        kind = "zip" if zip_file is not None else "json"
        export.record_export(runtime, found, actor=audit.cli_actor(), role="admin", format=kind)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    if zip_file is not None or json_file is not None:
        console.print(f"{len(found.renders)} renders, {len(found.events)} events, {len(found.media)} media files")
