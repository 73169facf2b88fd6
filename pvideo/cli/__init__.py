"""The ``pvideo`` command line (Typer)."""

from __future__ import annotations

import enum
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


class Engine(str, enum.Enum):
    segments = "segments"
    full = "full"


app = typer.Typer(
    help="pvideo: personalized video from scene scripts.", no_args_is_help=True, pretty_exceptions_enable=False
)
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
def schema(
    markdown: Annotated[bool, typer.Option(help="print the scene reference as Markdown tables")] = False,
    readme: Annotated[
        Path | None, typer.Option(help="rewrite the generated scene reference block in this README")
    ] = None,
) -> None:
    """Print the JSON Schema of scene scripts (or the Markdown reference of every option)."""
    from pvideo.scene import reference
    from pvideo.scene.spec import SceneSpec

    if readme is not None:
        try:
            changed = reference.update_readme(readme)
        except (OSError, ValueError) as exc:
            raise _fail(str(exc)) from None
        console.print(f"{readme}: scene reference {'updated' if changed else 'already up to date'}")
    elif markdown:
        print(reference.markdown())
    else:
        print(json.dumps(SceneSpec.model_json_schema(), indent=2))


@app.command()
def validate(scene: Path, data: Annotated[Path | None, typer.Option(help="customers CSV or JSON")] = None) -> None:
    """Check a scene script (and optionally every customer row) without rendering."""
    from pvideo.jobs.validation import validate_scene

    problems = validate_scene(scene, data, _settings())
    if problems:
        for problem in problems:
            err.print(problem, highlight=False, markup=False, soft_wrap=True)
        raise _fail(f"{len(problems)} problem(s) found")
    console.print(f"[green]ok[/green]: {scene}" + (f" with {data}" if data else ""))


def _compile_row(scene: Path, data: Path | None, row: list[str] | None, settings):
    """The plan for one customer given as ``--data ROW.json`` and/or ``--row key=value``."""
    from pvideo.plan import compiler as plan
    from pvideo.scene import customers
    from pvideo.scene.spec import load_scene

    values: dict[str, object] = {}
    if data:
        values.update(json.loads(data.read_text()))
    for item in row or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--row {item!r} must be key=value")
        values[key] = value
    spec = load_scene(scene)
    coerced = customers.coerce_row(spec, values, source=str(data or "--row"))
    from pvideo.storage import storage_from_settings

    return plan.compile_plan(
        spec,
        coerced,
        assets_dir=settings.assets_dir,
        storage=storage_from_settings(settings),
        allow_private_fetch=settings.fetch_allow_private,
    )


@app.command()
def render(
    scene: Path,
    out: Annotated[Path, typer.Option("-o", "--out", help="output MP4 path")],
    data: Annotated[Path | None, typer.Option(help="one customer row as a JSON object")] = None,
    row: Annotated[list[str] | None, typer.Option(help="a field as key=value (repeatable)")] = None,
    engine: Annotated[
        Engine | None, typer.Option(help="segments (default: re-encode only personalized segments) or full")
    ] = None,
) -> None:
    """Render one personalized MP4 (and a poster JPEG beside it)."""
    from pvideo.render.versions import render_on_template, template_version
    from pvideo.storage import storage_from_settings

    settings = _settings()
    if engine:
        settings = settings.model_copy(update={"engine": engine.value})
    try:
        the_plan = _compile_row(scene, data, row, settings)
        started = time.perf_counter()
        storage = storage_from_settings(settings)
        with tempfile.TemporaryDirectory(prefix="pvideo-") as tmp:
            version = template_version(the_plan, storage, settings)
            outputs = render_on_template(the_plan, version, storage, settings, Path(tmp))
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outputs.video, out)
            shutil.copyfile(outputs.poster, out.with_suffix(".jpg"))
    except (PvideoError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from None
    info = outputs.info
    console.print(
        f"wrote {out} ({info.width}x{info.height}, {info.duration:.2f} s, {info.frames} frames) "
        f"and {out.with_suffix('.jpg')} in {time.perf_counter() - started:.1f} s"
    )
    for hotspot in the_plan.hotspots:
        console.print(f"  CTA {hotspot.id}: {hotspot.href} at {hotspot.start:g}-{hotspot.end:g} s", highlight=False)


@app.command()
def preview(
    scene: Path,
    at: Annotated[float, typer.Option("--at", min=0, help="second of the frame to show")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output PNG path")],
    data: Annotated[Path | None, typer.Option(help="one customer row as a JSON object")] = None,
    row: Annotated[list[str] | None, typer.Option(help="a field as key=value (repeatable)")] = None,
) -> None:
    """Render one frame as a PNG with moviepy (no video is encoded)."""
    from pvideo.render.preview import preview_frame

    settings = _settings()
    try:
        frame = preview_frame(_compile_row(scene, data, row, settings), at)
    except (PvideoError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.save(out, format="PNG")
    console.print(f"wrote {out} ({frame.width}x{frame.height}, t={at:g} s)")


def _wait_with_progress(runtime, campaign_ids: list[str], total: int) -> dict[str, int]:
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


def _submit(
    runtime,
    queue,
    scene: Path,
    customers_file: Path,
    *,
    name: str | None = None,
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    metadata: dict | None = None,
) -> tuple[str, int]:
    """Submit a campaign (streaming the file) and fan it out; returns its id and row count."""
    from pvideo.access.tokens import ViewerTokens
    from pvideo.jobs.campaigns import submit_campaign
    from pvideo.scene.customers import stream_customers
    from pvideo.scene.spec import load_scene

    settings = runtime.settings
    spec = load_scene(scene)
    with runtime.db.session() as session:
        submission = submit_campaign(
            session,
            spec,
            stream_customers(customers_file, spec),
            assets_dir=settings.assets_dir,
            tokens=ViewerTokens(settings.signing_key),
            name=name,
            source=str(customers_file),
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            metadata=metadata,
        )
        campaign_id, total = submission.campaign.id, submission.campaign.total
    for number, reason in submission.rejected:
        err.print(f"[yellow]rejected[/yellow] {reason}", highlight=False)
    if submission.rejected_count > len(submission.rejected):
        err.print(f"[yellow]... {submission.rejected_count} rows rejected in all (see the manifest)[/yellow]")
    queue.fan_out(campaign_id)
    return campaign_id, total


def _render_here(queue) -> None:
    """Embedded mode: start the in-process workers and drain the queue in the background."""
    import threading

    queue.start()
    threading.Thread(target=queue.join, daemon=True).start()


def _run_campaign(
    settings,
    scene: Path,
    customers_file: Path,
    *,
    wait: bool,
    name: str | None = None,
    idempotency_key: str | None = None,
    webhook_url: str | None = None,
    metadata: dict | None = None,
):
    """Submit (streaming the file), fan out and (embedded, or with ``wait``) render.

    Returns (runtime, queue, campaign id).
    """
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue

    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    campaign_id, total = _submit(
        runtime,
        queue,
        scene,
        customers_file,
        name=name,
        idempotency_key=idempotency_key,
        webhook_url=webhook_url,
        metadata=metadata,
    )
    if queue.embedded or wait:
        if queue.embedded:
            _render_here(queue)
        _wait_with_progress(runtime, [campaign_id], total)
    return runtime, queue, campaign_id


def _print_links(runtime, campaign_id: str) -> list[dict[str, str]]:
    from pvideo.jobs.campaigns import list_renders
    from pvideo.jobs.manifest import manifest_rows

    with runtime.db.session() as session:
        rows = manifest_rows(list_renders(session, campaign_id), runtime.settings.public_base_url)
    for r in rows:
        color = {"done": "green", "failed": "red"}.get(r["status"], "yellow")
        target = r["landing_url"] if r["status"] != "failed" else r["error"]
        console.print(
            f"{r['row']:>4}  {r['customer_id']:<12} [{color}]{r['status']:<9}[/{color}] {target}",
            soft_wrap=True,
            highlight=False,
        )
    return rows


DEMO_CAMPAIGNS = (
    ("welcome.yaml", "sample_customers.csv", "Northwind welcome"),
    ("bill.yaml", "bill_customers.csv", "Northwind bill explainer"),
    ("renewal.yaml", "renewal_customers.csv", "Northwind renewal offer"),
)


@app.command()
def demo(
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the landing pages after rendering")] = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Render the bundled example campaigns with embedded defaults, then serve their landing pages."""
    from pvideo.runtime import Runtime
    from pvideo.settings import Settings
    from workers.queue import RenderQueue

    overrides = {} if os.environ.get("PVIDEO_PUBLIC_BASE_URL") else {"public_base_url": f"http://{host}:{port}"}
    settings = Settings(**overrides)
    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    campaigns, total = [], 0
    try:
        for scene_file, customers_file, name in DEMO_CAMPAIGNS:
            scene, customers = settings.scenes_dir / scene_file, settings.assets_dir / customers_file
            console.print(f"pvideo demo: {scene.name} x {customers.name} -> {settings.resolved_storage_url}")
            campaign_id, rows = _submit(runtime, queue, scene, customers, name=name)
            campaigns.append((name, campaign_id))
            total += rows
        if queue.embedded:
            _render_here(queue)
        _wait_with_progress(runtime, [c for _, c in campaigns], total)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    done = rendered = 0
    for name, campaign_id in campaigns:
        console.print(f"{name}:")
        rows = _print_links(runtime, campaign_id)
        ok = sum(r["status"] == "done" for r in rows)
        console.print(f"campaign {campaign_id}: {ok}/{len(rows)} rendered")
        done, rendered = done + ok, rendered + len(rows)
    console.print(f"{done}/{rendered} videos in {len(campaigns)} campaigns; files under {settings.data_dir.resolve()}")
    queue.close()
    if serve:
        console.print(f"serving landing pages on http://{host}:{port} (Ctrl-C to stop)")
        _announce_api_key(settings)
        console.print(
            f"analytics: curl -H 'X-API-Key: ...' {settings.public_base_url}/api/campaigns/{campaigns[0][1]}/analytics",
            soft_wrap=True,
        )
        _serve(runtime=runtime, host=host, port=port)
    if done < rendered:
        raise typer.Exit(1)


def _serve(*, runtime, host: str, port: int, access_log: bool = True) -> None:
    import uvicorn

    from api.main import create_app
    from pvideo.logs import configure_logging

    configure_logging()
    uvicorn.run(create_app(runtime=runtime), host=host, port=port, log_level="info", access_log=access_log)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="server processes (production: one per core, with PostgreSQL)")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="log every request")] = True,
) -> None:
    """Serve the API, the landing pages and (without Redis) an in-process worker."""
    from pvideo.runtime import Runtime

    settings = _settings()
    _announce_api_key(settings)
    if workers == 1:
        _serve(runtime=Runtime.from_settings(settings), host=host, port=port, access_log=access_log)
        return
    import uvicorn

    from pvideo.logs import configure_logging

    configure_logging()  # each process builds its own app (and runtime) from the same PVIDEO_* settings
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
    )


def _announce_api_key(settings) -> None:
    """Embedded mode generates a key; say where it is so the API can be tried at once."""
    if not settings.api_keys:
        key_file = (settings.data_dir / "api.key").resolve()
        console.print(
            f"API key (X-API-Key header): {settings.effective_api_keys[0]}  "
            f"[dim](kept in {key_file}; set PVIDEO_API_KEYS to choose your own)[/dim]",
            soft_wrap=True,
        )


@app.command()
def worker(
    processes: Annotated[int | None, typer.Option(min=1, help="worker processes (PVIDEO_WORKER_PROCESSES)")] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="threads per process (PVIDEO_WORKER_THREADS)")] = None,
    queues: Annotated[str, typer.Option(help="comma-separated queues to consume")] = "renders,campaigns,webhooks",
) -> None:
    """Run Dramatiq workers (renders, campaign fan-out, webhooks) against PVIDEO_REDIS_URL."""
    settings = _settings()
    if not settings.redis_url:
        raise _fail("pvideo worker needs PVIDEO_REDIS_URL (without it, `pvideo serve` renders in-process)")
    args = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.main",
        "--processes",
        str(processes or settings.worker_processes),
        "--threads",
        str(threads or settings.worker_threads),
        "--queues",
        *queues.split(","),
    ]
    os.execv(sys.executable, args)


@campaign_app.command("submit")
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
) -> None:
    """Submit a campaign; prints its id. Without Redis it renders here and waits."""
    try:
        meta = json.loads(metadata) if metadata else None
        if meta is not None and not isinstance(meta, dict):
            raise _fail("--metadata must be a JSON object")
        _runtime, queue, campaign_id = _run_campaign(
            _settings(),
            scene,
            customers,
            wait=wait,
            name=name,
            idempotency_key=idempotency_key,
            webhook_url=webhook_url,
            metadata=meta,
        )
    except (PvideoError, json.JSONDecodeError) as exc:
        raise _fail(str(exc)) from None
    queue.close()
    print(campaign_id)


@campaign_app.command("status")
def campaign_status(campaign_id: str) -> None:
    """Counts of renders per status, the recent rate and an ETA."""
    from pvideo.jobs.campaigns import get_campaign, progress

    settings = _settings()
    db = _database(settings)
    try:
        with db.session() as session:
            campaign = get_campaign(session, campaign_id)
            now = progress(session, campaign_id, window_seconds=settings.eta_window_seconds)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    eta = f"; ETA {now.eta_seconds:.0f} s" if now.eta_seconds else ""
    console.print(
        f"{campaign.name} ({campaign.scene_name}, {campaign.status}): "
        + ", ".join(f"{k} {v}" for k, v in now.counts.items())
        + f"; {now.rate_per_minute:g}/min{eta}"
    )


def _database(settings):
    from pvideo.db.engine import Database

    return Database(settings.resolved_database_url)


@campaign_app.command("cancel")
def campaign_cancel(campaign_id: str) -> None:
    """Cancel the rows not started yet (rows rendering now finish)."""
    from pvideo.jobs.campaigns import cancel_campaign

    try:
        with _database(_settings()).session() as session:
            cancelled = cancel_campaign(session, campaign_id)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(f"cancelled {cancelled} rows")


@campaign_app.command("retry")
def campaign_retry(campaign_id: str) -> None:
    """Queue again the rows that failed while rendering (and cancelled rows)."""
    from pvideo.jobs.campaigns import retry_failed
    from pvideo.runtime import Runtime
    from workers.queue import RenderQueue

    runtime = Runtime.from_settings(_settings())
    queue = RenderQueue(runtime)
    try:
        with runtime.db.session() as session:
            ids = retry_failed(session, campaign_id)
        queue.enqueue(ids)
        if queue.embedded and ids:
            queue.join()
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    finally:
        queue.close()
    console.print(f"queued {len(ids)} rows again")


@campaign_app.command("manifest")
def campaign_manifest(
    campaign_id: str,
    out: Annotated[Path, typer.Option("-o", "--out", help="file to write")] = Path("links.csv"),
    format: Annotated[str, typer.Option(help="csv or json (default: from the file suffix)")] = "",
) -> None:
    """Export customer id, landing/video/poster/thumbnail URLs, status and error (CSV or JSON)."""
    from pvideo.jobs.campaigns import get_campaign
    from pvideo.jobs.manifest import csv_chunks, iter_manifest, json_chunks

    settings = _settings()
    fmt = format or ("json" if out.suffix.lower() == ".json" else "csv")
    if fmt not in ("csv", "json"):
        raise _fail("--format must be csv or json")
    count = 0

    def counted(rows):
        nonlocal count
        for row in rows:
            count += 1
            yield row

    try:
        with _database(settings).session() as session, out.open("w", encoding="utf-8", newline="") as f:
            get_campaign(session, campaign_id)
            rows = counted(iter_manifest(session, campaign_id, settings.public_base_url))
            for chunk in csv_chunks(rows) if fmt == "csv" else json_chunks(rows):
                f.write(chunk)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(f"wrote {count} rows to {out}")


db_app = typer.Typer(help="Database schema (PostgreSQL: Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the latest schema (Alembic on PostgreSQL, create_all on SQLite)."""
    settings = _settings()
    db = _database(settings)
    db.create_schema()
    if db.engine.dialect.name == "postgresql":
        from pvideo.db import migrations

        console.print(f"database at revision {migrations.current(db.engine)}")
    else:
        console.print(f"SQLite schema ready at {settings.resolved_database_url}")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration from the models against PVIDEO_DATABASE_URL (PostgreSQL)."""
    from pvideo.db import migrations

    db = _database(_settings())
    if db.engine.dialect.name != "postgresql":
        raise _fail("migrations are generated against PostgreSQL: set PVIDEO_DATABASE_URL")
    migrations.revision(db.engine, message)


@app.command("bench-queue")
def bench_queue(
    rows: Annotated[int, typer.Option(help="rows in the ingest benchmark")] = 100_000,
    renders: Annotated[int, typer.Option(help="renders in the queue-overhead benchmark (0: skip)")] = 20,
    scene: Annotated[Path | None, typer.Option(help="scene for the overhead benchmark")] = None,
) -> None:
    """Measure 100k-row ingest + fan-out (time, peak RSS, Redis round trips) and queue overhead."""
    from bench import queue

    settings = _settings()
    if not settings.redis_url:
        raise _fail("bench-queue measures the Redis queue: set PVIDEO_REDIS_URL")
    report = queue.run(settings, rows=rows, renders=renders, scene=scene, console=console)
    console.print_json(json.dumps(report))


@app.command()
def bench(
    customers: Annotated[int, typer.Option(min=1, help="customers per approach")] = 8,
    approaches: Annotated[
        str, typer.Option(help="subset of abcd: a moviepy, b full, c segments, d on demand")
    ] = "abcd",
    slow_customers: Annotated[int | None, typer.Option(help="cap moviepy (a) runs, which take ~1 min each")] = None,
    workdir: Annotated[Path | None, typer.Option(help="where the workload and outputs go")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Render the reference workload with each approach, interleaved, and compare them as ratios."""
    from rich.table import Table

    from bench.render import APPROACHES, run_bench

    if set(approaches) - set(APPROACHES) or not approaches:
        raise _fail(f"--approaches takes letters from {''.join(APPROACHES)}")
    done = [0]
    total = customers * len(approaches)

    def tick(approach: str, index: int) -> None:
        done[0] += 1
        if not as_json:
            err.print(f"  [{done[0]}/{total}] {APPROACHES[approach]} #{index + 1}", highlight=False)

    report = run_bench(
        customers=customers, approaches=approaches, slow_customers=slow_customers, workdir=workdir, progress=tick
    )
    if as_json:
        print(json.dumps(report, indent=2))
        return
    table = Table(
        "approach",
        "runs",
        "median s/video",
        "videos/min",
        "CPU s",
        "peak RSS MB",
        "MP4 bytes",
        "HLS bytes/customer",
        title=f"pvideo bench: {report['customers']} customers, {report['cpu_count']} cores",
    )
    for key, r in report["approaches"].items():
        table.add_row(
            f"({key}) {r['name']}",
            str(r["runs"]),
            f"{r['median_wall_s']:.2f}",
            f"{r['videos_per_minute']}",
            f"{r['median_cpu_s']}",
            f"{r['peak_rss_mb']}",
            str(r["mp4_bytes"] or "-"),
            str(r["hls_bytes_per_customer"] or "-"),
        )
    console.print(table)
    console.print("ratios: " + ", ".join(f"{k} = {v}" for k, v in report["ratios"].items()))
    console.print(f"template ingest (once per template version): {report['ingest_seconds_once']} s")
    if report["psnr_c_vs_b_personalized"]:
        q = report["psnr_c_vs_b_personalized"]
        console.print(
            f"PSNR (c) vs (b) on personalized frames: {q['sequence_db']} dB sequence, "
            f"{q['worst_frame_db']} dB worst frame"
        )


template_app = typer.Typer(help="Template versions: ingest base videos into reusable segments.", no_args_is_help=True)
app.add_typer(template_app, name="template")


@template_app.command("ingest")
def template_ingest(
    video: Annotated[Path | None, typer.Argument(help="a base video file")] = None,
    scene: Annotated[
        Path | None, typer.Option(help="ingest the version this scene renders on (its static layers baked in)")
    ] = None,
) -> None:
    """Normalize and segment a template now (renders otherwise do it on first use)."""
    from pvideo.render.ingest import ingest
    from pvideo.render.versions import base_version, ingest_options
    from pvideo.storage import storage_from_settings

    settings = _settings()
    storage = storage_from_settings(settings)
    started = time.perf_counter()
    try:
        if scene is not None:
            from pvideo.jobs.validation import sample_row
            from pvideo.plan.compiler import compile_plan
            from pvideo.scene.spec import load_scene

            spec = load_scene(scene)
            # the shared version holds only what is the same for everyone: leave out media chosen by data
            shared = [
                layer
                for layer in spec.layers
                if layer.type not in ("video", "audio") and not (layer.type == "image" and "{" in layer.src)
            ]
            version = base_version(
                compile_plan(
                    spec.model_copy(update={"layers": shared}), sample_row(spec), assets_dir=settings.assets_dir
                ),
                storage,
                settings,
            )
        elif video is not None:
            version = ingest(
                video,
                storage,
                ffmpeg_exe=settings.ffmpeg_exe,
                options=ingest_options(settings),
                timeout=settings.ffmpeg_timeout,
            )
        else:
            raise _fail("give a VIDEO or --scene SCENE.yaml")
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"{version.prefix}: {version.width}x{version.height} @ {float(version.fps):.3f} fps, "
        f"{version.frames} frames in {len(version.segments)} segments "
        f"({sum(s.bytes for s in version.segments) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
    )


apikey_app = typer.Typer(help="API keys with scopes (stored hashed; shown once).", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


class Scope(str, enum.Enum):
    campaigns = "campaigns"
    analytics = "analytics"
    admin = "admin"


@apikey_app.command("create")
def apikey_create(
    scope: Annotated[list[Scope], typer.Option("--scope", help="campaigns, analytics, admin (repeat)")],
    name: Annotated[str | None, typer.Option(help="a label to recognise the key by")] = None,
) -> None:
    """Create a key and print it once: only its SHA-256 digest is stored."""
    from pvideo.access.apikeys import create_key

    db = _database(_settings())
    db.create_schema()
    try:
        with db.session() as session:
            row, key = create_key(session, [s.value for s in scope], name=name)
            key_id, scopes = row.id, ", ".join(row.scopes)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(f"API key {key_id} ({scopes}); shown once, store it now:")
    print(key)


@apikey_app.command("revoke")
def apikey_revoke(key_id: str) -> None:
    """Revoke a key at once (requests and dashboard sessions made with it stop working)."""
    from pvideo.access.apikeys import revoke_key

    try:
        with _database(_settings()).session() as session:
            revoke_key(session, key_id)
    except PvideoError as exc:
        raise _fail(str(exc)) from None
    console.print(f"revoked API key {key_id}")


@apikey_app.command("list")
def apikey_list() -> None:
    """Every stored key: id, name, prefix, scopes, created, revoked (never the key)."""
    from pvideo.access.apikeys import list_keys

    db = _database(_settings())
    db.create_schema()
    with db.session() as session:
        for row in list_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            print(
                f"{row.id}\t{row.name}\tpvk_{row.prefix}_…\t{','.join(row.scopes)}\t"
                f"{row.created_at:%Y-%m-%d %H:%M}\t{state}"
            )
