"""``pvideo campaign``: submit a campaign, follow it, export its links, cancel and retry it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pvideo.cli.console import console, database, fail, load_settings
from pvideo.cli.submission import ROWS_FAILED_EXIT, render_here, submit_file, wait_with_progress
from pvideo.errors import PvideoError

if TYPE_CHECKING:
    from pvideo.jobs.privacy_options import PrivacyOptions
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings
    from workers.queue import RenderQueue

app = typer.Typer(help="Submit campaigns and follow them.", no_args_is_help=True)


def _run_campaign(
    settings: Settings,
    scene: Path,
    customers_file: Path,
    *,
    wait: bool,
    name: str | None = None,
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    metadata: dict[str, Any] | None = None,
    privacy: PrivacyOptions | None = None,
) -> tuple[Runtime, RenderQueue, str, dict[str, int] | None]:
    """Submit (streaming the file), fan out and (embedded, or with ``wait``) render.

    Returns the final counts per status when it waited (``None`` otherwise). The
    queue is closed if the submission fails; otherwise the caller closes it.
    """
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue

    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    try:
        campaign_id, total = submit_file(
            runtime,
            queue,
            scene,
            customers_file,
            name=name,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            metadata=metadata,
            privacy=privacy,
        )
    except BaseException:
        queue.close()
        raise
    counts = None
    if queue.embedded or wait:
        if queue.embedded:
            render_here(queue)
        counts = wait_with_progress(runtime, [campaign_id], total)
    return runtime, queue, campaign_id, counts


@app.command("submit")
def campaign_submit(
    scene: Path,
    customers: Path,
    wait: Annotated[bool, typer.Option(help="show a progress bar until every row is finished")] = False,
    name: str | None = None,
    idempotency_key: Annotated[
        str | None, typer.Option(help="a repeat with the same key returns the first campaign")
    ] = None,
    webhook_url: Annotated[str | None, typer.Option(help="receives signed render/campaign events")] = None,
    metadata: Annotated[str | None, typer.Option(help="JSON object passed through in webhooks")] = None,
    tracking: Annotated[str, typer.Option(help="full | anonymous | consent: what landing pages record")] = "full",
    events_days: Annotated[
        int | None, typer.Option(help="keep raw events and answers this many days (default: the deployment's)")
    ] = None,
    outputs_days: Annotated[
        int | None, typer.Option(help="keep outputs this many days after the campaign ends (default: deployment's)")
    ] = None,
    row_data: Annotated[
        str | None, typer.Option(help="keep | after_render (storage-less: clear row data once rendered)")
    ] = None,
    ends_at: Annotated[str | None, typer.Option(help="when the campaign ends (ISO 8601, UTC if no offset)")] = None,
) -> None:
    """Submit a campaign; prints its id. Without Redis it renders here and waits.

    With ``--wait`` it exits 3 if any row failed (rejected at submission or failed rendering).
    """
    try:
        meta = json.loads(metadata) if metadata else None
        if meta is not None and not isinstance(meta, dict):
            raise fail("--metadata must be a JSON object")
        privacy = privacy_options(tracking, events_days, outputs_days, row_data, ends_at)
        _runtime, queue, campaign_id, counts = _run_campaign(
            load_settings(),
            scene,
            customers,
            wait=wait,
            name=name,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            metadata=meta,
            privacy=privacy,
        )
    except (PvideoError, json.JSONDecodeError) as exc:
        raise fail(str(exc)) from None
    queue.close()
    print(campaign_id)
    if wait and counts is not None and counts.get("failed", 0):
        raise fail(
            f"{counts['failed']} of {sum(counts.values())} rows failed (pvideo campaign manifest {campaign_id})",
            ROWS_FAILED_EXIT,
        )


def privacy_options(
    tracking: str, events_days: int | None, outputs_days: int | None, row_data: str | None, ends_at: str | None
) -> PrivacyOptions:
    """The submit command's privacy options, checked as the API checks them; a bad one names its option."""
    from pydantic import ValidationError

    from pvideo.jobs.privacy_options import PrivacyOptions

    given = {"events_days": events_days, "outputs_days": outputs_days, "row_data": row_data}
    options: dict[str, Any] = {"tracking": tracking, "ends_at": ends_at}
    if any(v is not None for v in given.values()):
        options["retention"] = {k: v for k, v in given.items() if v is not None}
    try:
        return PrivacyOptions.model_validate({k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        option = "--" + str(first["loc"][-1]).replace("_", "-")
        raise fail(f"{option}: {first['msg']}") from None


@app.command("status")
def campaign_status(campaign_id: str) -> None:
    """Counts of renders per status, the recent rate and an ETA."""
    from pvideo.jobs.campaigns import get_campaign, progress

    settings = load_settings()
    db = database(settings)
    try:
        with db.session() as session:
            campaign = get_campaign(session, campaign_id)
            now = progress(session, campaign_id, window_seconds=settings.eta_window_seconds)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    eta = f"; ETA {now.eta_seconds:.0f} s" if now.eta_seconds else ""
    console.print(
        f"{campaign.name} ({campaign.scene_name}, {campaign.status}): "
        + ", ".join(f"{k} {v}" for k, v in now.counts.items())
        + f"; {now.rate_per_minute:g}/min{eta}"
    )


@app.command("cancel")
def campaign_cancel(campaign_id: str) -> None:
    """Cancel the rows not started yet (rows rendering now finish)."""
    from pvideo.access import audit
    from pvideo.jobs.campaigns import cancel_campaign

    try:
        with database(load_settings()).session() as session:
            cancelled = cancel_campaign(session, campaign_id)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.CAMPAIGN_CANCEL,
                target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"cancelled": cancelled},
            )  # fmt: skip
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"cancelled {cancelled} rows")


@app.command("retry")
def campaign_retry(campaign_id: str) -> None:
    """Queue again the rows that failed while rendering (and cancelled rows)."""
    from pvideo.access import audit
    from pvideo.jobs.campaigns import retry_failed
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue

    runtime = Runtime.from_settings(load_settings())
    queue = RenderQueue(runtime)
    try:
        with runtime.db.session() as session:
            ids = retry_failed(session, campaign_id)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.CAMPAIGN_RETRY,
                target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"queued": len(ids)},
            )  # fmt: skip
        queue.enqueue(ids)
        if queue.embedded and ids:
            queue.join()
    except PvideoError as exc:
        raise fail(str(exc)) from None
    finally:
        queue.close()
    console.print(f"queued {len(ids)} rows again")


@app.command("manifest")
def campaign_manifest(
    campaign_id: str,
    out: Annotated[Path, typer.Option("-o", "--out", help="file to write")] = Path("links.csv"),
    format: Annotated[str, typer.Option(help="csv or json (default: from the file suffix)")] = "",
) -> None:
    """Export customer id, landing/video/poster/thumbnail URLs, status and error (CSV or JSON)."""
    from pvideo.access import audit
    from pvideo.jobs.campaigns import get_campaign
    from pvideo.jobs.manifest import csv_chunks, iter_manifest, json_chunks

    settings = load_settings()
    fmt = format or ("json" if out.suffix.lower() == ".json" else "csv")
    if fmt not in ("csv", "json"):
        raise fail("--format must be csv or json")
    count = 0

    def counted(rows: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    try:
        with database(settings).session() as session, out.open("w", encoding="utf-8", newline="") as f:
            get_campaign(session, campaign_id)
            audit.record(
                session, actor=audit.cli_actor(), action=audit.Action.MANIFEST_DOWNLOAD,
                target_type=audit.Target.CAMPAIGN, target_id=campaign_id, detail={"format": fmt},
            )  # fmt: skip
            rows = counted(iter_manifest(session, campaign_id, settings.public_base_url))
            for chunk in csv_chunks(rows) if fmt == "csv" else json_chunks(rows):
                f.write(chunk)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"wrote {count} rows to {out}")
