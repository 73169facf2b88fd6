"""The ``pvideo`` command line (Typer)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pvideo.errors import PvideoError

app = typer.Typer(help="pvideo: personalized video from scene scripts.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
campaign_app = typer.Typer(help="Submit campaigns and follow them.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")
console = Console()
err = Console(stderr=True)


def _settings():
    from pvideo.settings import Settings

    return Settings()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scene scripts."""
    from pvideo.spec import SceneSpec

    print(json.dumps(SceneSpec.model_json_schema(), indent=2))


@app.command()
def validate(scene: Path, data: Annotated[Optional[Path], typer.Option(help="customers CSV or JSON")] = None) -> None:
    """Check a scene script (and optionally every customer row) without rendering."""
    from pvideo.validation import validate_scene

    problems = validate_scene(scene, data, _settings())
    if problems:
        for problem in problems:
            err.print(problem, highlight=False, markup=False, soft_wrap=True)
        raise _fail(f"{len(problems)} problem(s) found")
    console.print(f"[green]ok[/green]: {scene}" + (f" with {data}" if data else ""))


@app.command()
def render(scene: Path,
           out: Annotated[Path, typer.Option("-o", "--out", help="output MP4 path")],
           data: Annotated[Optional[Path], typer.Option(help="one customer row as a JSON object")] = None,
           row: Annotated[Optional[list[str]], typer.Option(help="a field as key=value (repeatable)")] = None) -> None:
    """Render one personalized MP4 (and a poster JPEG beside it)."""
    from pvideo import customers, plan, render as renderer
    from pvideo.spec import load_scene

    settings = _settings()
    values: dict[str, object] = {}
    try:
        if data:
            values.update(json.loads(data.read_text()))
        for item in row or []:
            key, sep, value = item.partition("=")
            if not sep:
                raise _fail(f"--row {item!r} must be key=value")
            values[key] = value
        spec = load_scene(scene)
        coerced = customers.coerce_row(spec, values, source=str(data or "--row"))
        the_plan = plan.compile(spec, coerced, assets_dir=settings.assets_dir)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="pvideo-") as tmp:
            outputs = renderer.render(the_plan, Path(tmp), settings)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outputs.video, out)
            shutil.copyfile(outputs.poster, out.with_suffix(".jpg"))
    except (PvideoError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from None
    info = outputs.info
    console.print(f"wrote {out} ({info.width}x{info.height}, {info.duration:.2f} s, {info.frames} frames) "
                  f"and {out.with_suffix('.jpg')} in {time.perf_counter() - started:.1f} s")
    for hotspot in the_plan.hotspots:
        console.print(f"  CTA {hotspot.id}: {hotspot.href} at {hotspot.start:g}-{hotspot.end:g} s", highlight=False)


def _wait_with_progress(runtime, campaign_id: str, total: int) -> dict[str, int]:
    from pvideo.campaigns import status_counts

    with Progress(TextColumn("rendering"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("render", total=total, detail="")
        while True:
            with runtime.db.session() as session:
                counts = status_counts(session, campaign_id)
            finished = counts["done"] + counts["failed"]
            progress.update(task, completed=finished, detail=f"{counts['done']} done, {counts['failed']} failed")
            if finished >= total:
                return counts
            time.sleep(0.5)


def _run_campaign(settings, scene: Path, customers_file: Path, *, wait: bool, name: str | None = None):
    """Submit, enqueue and (embedded, or with ``wait``) render; returns (runtime, queue, campaign id)."""
    import threading

    from pvideo.campaigns import submit_campaign
    from pvideo.customers import read_customers
    from pvideo.spec import load_scene
    from pvideo.tokens import ViewerTokens
    from workers.queue import RenderQueue
    from workers.runtime import Runtime

    spec = load_scene(scene)
    rows = read_customers(customers_file, spec)
    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    with runtime.db.session() as session:
        submission = submit_campaign(session, spec, rows, assets_dir=settings.assets_dir,
                                     tokens=ViewerTokens(settings.signing_key), name=name, source=str(customers_file))
        campaign_id = submission.campaign.id
    for number, reason in submission.rejected:
        err.print(f"[yellow]rejected[/yellow] {reason}", highlight=False)
    queue.enqueue(submission.queued)
    if queue.embedded or wait:
        if queue.embedded:
            queue.start()
            threading.Thread(target=queue.join, daemon=True).start()
        _wait_with_progress(runtime, campaign_id, len(rows))
    return runtime, queue, campaign_id


def _print_links(runtime, campaign_id: str) -> list[dict[str, str]]:
    from pvideo.campaigns import list_renders
    from pvideo.manifest import manifest_rows

    with runtime.db.session() as session:
        rows = manifest_rows(list_renders(session, campaign_id), runtime.settings.public_base_url)
    for r in rows:
        color = {"done": "green", "failed": "red"}.get(r["status"], "yellow")
        target = r["landing_url"] if r["status"] != "failed" else r["error"]
        console.print(f"{r['row']:>4}  {r['customer_id']:<12} [{color}]{r['status']:<9}[/{color}] {target}",
                      soft_wrap=True, highlight=False)
    return rows


@app.command()
def demo(serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the landing pages after rendering")] = True,
         host: str = "127.0.0.1", port: int = 8000) -> None:
    """Render the bundled sample campaign with embedded defaults, then serve its landing pages."""
    from pvideo.settings import Settings

    overrides = {} if os.environ.get("PVIDEO_PUBLIC_BASE_URL") else {"public_base_url": f"http://{host}:{port}"}
    settings = Settings(**overrides)
    scene = settings.scenes_dir / "welcome.yaml"
    customers = settings.assets_dir / "sample_customers.csv"
    console.print(f"pvideo demo: {scene.name} x {customers.name} -> {settings.resolved_storage_url}")
    try:
        runtime, queue, campaign_id = _run_campaign(settings, scene, customers, wait=True, name="Northwind welcome")
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    rows = _print_links(runtime, campaign_id)
    done = sum(r["status"] == "done" for r in rows)
    console.print(f"campaign {campaign_id}: {done}/{len(rows)} rendered; files under {settings.data_dir.resolve()}")
    queue.close()
    if serve:
        console.print(f"serving landing pages on http://{host}:{port} (Ctrl-C to stop)")
        _announce_api_key(settings)
        console.print(f"analytics: curl -H 'X-API-Key: ...' "
                      f"{settings.public_base_url}/api/campaigns/{campaign_id}/analytics", soft_wrap=True)
        _serve(runtime=runtime, host=host, port=port)
    if done < len(rows):
        raise typer.Exit(1)


def _serve(*, runtime, host: str, port: int) -> None:
    import uvicorn

    from api.main import create_app
    from pvideo.logs import configure_logging

    configure_logging()
    uvicorn.run(create_app(runtime=runtime), host=host, port=port, log_level="info")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the API, the landing pages and (without Redis) an in-process worker."""
    from workers.runtime import Runtime

    settings = _settings()
    runtime = Runtime.from_settings(settings)
    _announce_api_key(settings)
    _serve(runtime=runtime, host=host, port=port)


def _announce_api_key(settings) -> None:
    """Embedded mode generates a key; say where it is so the API can be tried at once."""
    if not settings.api_keys:
        key_file = (settings.data_dir / "api.key").resolve()
        console.print(f"API key (X-API-Key header): {settings.effective_api_keys[0]}  "
                      f"[dim](kept in {key_file}; set PVIDEO_API_KEYS to choose your own)[/dim]", soft_wrap=True)


@app.command()
def worker(processes: int = typer.Option(1, min=1), threads: int = typer.Option(2, min=1)) -> None:
    """Run Dramatiq render workers against PVIDEO_REDIS_URL."""
    if not _settings().redis_url:
        raise _fail("pvideo worker needs PVIDEO_REDIS_URL (without it, `pvideo serve` renders in-process)")
    args = [sys.executable, "-m", "dramatiq", "workers.main", "--processes", str(processes),
            "--threads", str(threads), "--queues", "renders"]
    os.execv(sys.executable, args)


@campaign_app.command("submit")
def campaign_submit(scene: Path, customers: Path,
                    wait: Annotated[bool, typer.Option(help="show progress until every row is done")] = False,
                    name: Optional[str] = None) -> None:
    """Submit a campaign; prints its id. Without Redis it renders here and waits."""
    try:
        runtime, queue, campaign_id = _run_campaign(_settings(), scene, customers, wait=wait, name=name)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    queue.close()
    print(campaign_id)


@campaign_app.command("status")
def campaign_status(campaign_id: str) -> None:
    """Counts of renders per status."""
    from pvideo.campaigns import get_campaign, status_counts
    from pvideo.database import Database

    db = Database(_settings().resolved_database_url)
    try:
        with db.session() as session:
            campaign = get_campaign(session, campaign_id)
            counts = status_counts(session, campaign_id)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{campaign.name} ({campaign.scene_name}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@campaign_app.command("manifest")
def campaign_manifest(campaign_id: str,
                      out: Annotated[Path, typer.Option("-o", "--out", help="CSV file to write")] = Path("links.csv")) -> None:
    """Export customer id, landing URL, video URL, poster URL, status and error as CSV."""
    from pvideo.campaigns import get_campaign, list_renders
    from pvideo.database import Database
    from pvideo.manifest import manifest_csv, manifest_rows

    settings = _settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            get_campaign(session, campaign_id)
            rows = manifest_rows(list_renders(session, campaign_id, limit=10**9), settings.public_base_url)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    out.write_text(manifest_csv(rows), encoding="utf-8")
    console.print(f"wrote {len(rows)} rows to {out}")
