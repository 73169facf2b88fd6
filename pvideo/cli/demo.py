"""``pvideo demo``: the bundled example campaigns rendered with embedded defaults, then served."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from pvideo.cli.console import console, fail
from pvideo.cli.serve import announce_api_key, run_server
from pvideo.cli.submission import render_here, submit_file, wait_with_progress
from pvideo.errors import PvideoError

if TYPE_CHECKING:
    from pvideo.runtime import Runtime

app = typer.Typer()

DEMO_ADMIN = "demo@pvideo.local"
DEMO_CAMPAIGNS = (
    ("welcome.yaml", "sample_customers.csv", "Northwind welcome"),
    # the same welcome layers (boxes in percent of the frame) on its 9:16 and 1:1 templates
    ("welcome-vertical.yaml", "sample_customers.csv", "Northwind welcome, 9:16"),
    ("welcome-square.yaml", "sample_customers.csv", "Northwind welcome, 1:1"),
    ("bill.yaml", "bill_customers.csv", "Northwind bill explainer"),
    ("renewal.yaml", "renewal_customers.csv", "Northwind renewal offer"),
    # two-way: an NPS question, a choose-your-path and a form, answered on the landing page
    ("checkin.yaml", "checkin_customers.csv", "Northwind check-in"),
)


def _print_links(runtime: Runtime, campaign_id: str) -> list[dict[str, str]]:
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


def seed_scenes(runtime: Runtime) -> dict[str, str]:
    """Every bundled example scene (``scenes/*.yaml``) as a version in the scene library, unless
    one of its versions already holds the file's text (a second run adds none); name -> version id."""
    from pvideo.jobs.scenelibrary import SCENE_NAME, seed_version

    pinned: dict[str, str] = {}
    with runtime.db.session() as session:
        for path in sorted(runtime.settings.scenes_dir.glob("*.yaml")):
            if not SCENE_NAME.fullmatch(path.stem):
                continue
            text = path.read_bytes().decode("utf-8")
            saved = seed_version(session, path.stem, text, author="pvideo demo", note=f"example scenes/{path.name}")
            pinned[path.stem] = saved.version.id
            if saved.created:
                console.print(f"scene library: {path.stem} v{saved.version.number}", highlight=False)
    return pinned


def announce_studio(runtime: Runtime) -> None:
    """The studio's address and a one-time link where the demo admin sets a password and is signed in."""
    from pvideo.access.users import invite_link
    from pvideo.cli.user import invite

    base = runtime.settings.public_base_url.rstrip("/")
    _, token = invite(runtime.db, DEMO_ADMIN, "admin", invited_by="pvideo demo")
    console.print(f"studio: {base}/studio", soft_wrap=True, highlight=False)
    link = invite_link(base, token)
    console.print(f"sign in to the studio as {DEMO_ADMIN} (admin), once: {link}", soft_wrap=True, highlight=False)


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

    if os.environ.get("PVIDEO_PUBLIC_BASE_URL"):
        settings = Settings()
    else:
        settings = Settings(public_base_url=f"http://{host}:{port}")
    runtime = Runtime.from_settings(settings)
    queue = RenderQueue(runtime)
    campaigns: list[tuple[str, str]] = []
    total = 0
    try:
        versions = seed_scenes(runtime)
        for scene_file, customers_file, name in DEMO_CAMPAIGNS:
            scene, customers = settings.scenes_dir / scene_file, settings.assets_dir / customers_file
            console.print(f"pvideo demo: {scene.name} x {customers.name} -> {settings.resolved_storage_url}")
            campaign_id, rows = submit_file(
                runtime, queue, scene, customers, name=name, scene_version_id=versions.get(scene.stem)
            )
            campaigns.append((name, campaign_id))
            total += rows
        if queue.embedded:
            render_here(queue)
        wait_with_progress(runtime, [c for _, c in campaigns], total)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    done = rendered = 0
    for name, campaign_id in campaigns:
        console.print(f"{name}:")
        links = _print_links(runtime, campaign_id)
        ok = sum(r["status"] == "done" for r in links)
        console.print(f"campaign {campaign_id}: {ok}/{len(links)} rendered")
        done, rendered = done + ok, rendered + len(links)
    console.print(f"{done}/{rendered} videos in {len(campaigns)} campaigns; files under {settings.data_dir.resolve()}")
    queue.close()
    if serve:
        console.print(f"serving landing pages on http://{host}:{port} (Ctrl-C to stop)")
        announce_api_key(settings)
        announce_studio(runtime)
        console.print(
            f"analytics: curl -H 'X-API-Key: ...' {settings.public_base_url}/api/campaigns/{campaigns[0][1]}/analytics",
            soft_wrap=True,
        )
        run_server(runtime=runtime, host=host, port=port)
    if done < rendered:
        raise typer.Exit(1)
