"""``pvideo retention run``: apply the retention settings now (the workers also do it periodically)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from pvideo.cli.console import console, fail, load_settings

app = typer.Typer(help="Retention: delete raw events, outputs and row data past their time.", no_args_is_help=True)

ERRORS_EXIT = 2
"""The exit code of a run that could not finish some campaign (storage down): run it again later."""


@app.command("run")
def retention_run(
    now: Annotated[
        str | None, typer.Option(help="apply as of this moment (ISO 8601, UTC if no offset); default: now")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would go, change nothing")] = False,
) -> None:
    """Apply every campaign's retention once; prints what went (JSON). Safe to run again at any time."""
    from pvideo.privacy.retention import apply_retention
    from pvideo.runtime import Runtime

    try:
        moment = datetime.fromisoformat(now) if now else datetime.now(UTC)
    except ValueError:
        raise fail(f"--now: not an ISO 8601 date and time: {now!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    runtime = Runtime.from_settings(load_settings())
    try:
        report = apply_retention(runtime, now=moment, dry_run=dry_run)
    finally:
        runtime.db.dispose()
    console.print_json(json.dumps(report.to_json()))
    if report.errors:
        raise fail(f"{len(report.errors)} campaign(s) not finished; run again: {report.errors}", ERRORS_EXIT)
