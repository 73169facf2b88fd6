"""Authoring a scene: its schema, validating it against customer rows, one render, one frame."""

from __future__ import annotations

import enum
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pvideo.cli.console import console, database, err, fail, load_settings
from pvideo.errors import PvideoError

if TYPE_CHECKING:
    from pvideo.plan.model import RenderPlan
    from pvideo.settings import Settings

app = typer.Typer()


class Engine(enum.StrEnum):
    segments = "segments"
    full = "full"


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
            raise fail(str(exc)) from None
        console.print(f"{readme}: scene reference {'updated' if changed else 'already up to date'}")
    elif markdown:
        print(reference.markdown())
    else:
        print(json.dumps(SceneSpec.model_json_schema(), indent=2))


@app.command()
def validate(scene: Path, data: Annotated[Path | None, typer.Option(help="customers CSV or JSON")] = None) -> None:
    """Check a scene script (and optionally every customer row) without rendering."""
    from pvideo.jobs.validation import validate_scene

    warnings: list[str] = []
    problems = validate_scene(scene, data, load_settings(), warnings)
    warnings += [f"warning: {w}" for w in _column_warnings(scene, data)] if data else []
    for problem in problems:
        err.print(problem, highlight=False, markup=False, soft_wrap=True)
    for warning in warnings:  # they render, so they do not change the exit code
        err.print(warning, highlight=False, markup=False, soft_wrap=True)
    if problems:
        raise fail(f"{len(problems)} problem(s) found")
    console.print(f"[green]ok[/green]: {scene}" + (f" with {data}" if data else ""))
    if data is None:
        _note_unchecked_hrefs(scene)


def _note_unchecked_hrefs(scene: Path) -> None:
    """Say which templated CTA links a made-up row cannot check (they need real data)."""
    from pvideo.scene.samples import data_dependent_hrefs, sample_row
    from pvideo.scene.spec import load_scene

    spec = load_scene(scene, source=str(scene))
    for number, layer in data_dependent_hrefs(spec, sample_row(spec)):
        console.print(
            f"note: layer {number} (cta {layer.id!r}) href {layer.href!r} depends on the data; "
            "check it with --data (or give the field type: url)",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


def _column_warnings(scene: Path, data: Path) -> list[str]:
    """Columns of ``data`` the scene never reads: the rows are still valid, but a misspelt
    field would otherwise go unnoticed. Unreadable files are left to ``validate_scene``."""
    from pvideo.scene import customers
    from pvideo.scene.spec import load_scene

    try:
        spec = load_scene(scene)
        columns = customers.table_columns(data)
    except PvideoError:
        return []
    return [
        f"{data}: column {column!r} is not used by scene {spec.name!r}"
        for column in customers.unused_columns(spec, columns)
    ]


def _compile_row(scene: Path, data: Path | None, row: list[str] | None, settings: Settings) -> RenderPlan:
    """The plan for one customer given as ``--data ROW.json`` and/or ``--row key=value``."""
    from pvideo.plan import compiler as plan
    from pvideo.plan.uploads import asset_root
    from pvideo.scene import customers
    from pvideo.scene.spec import load_scene
    from pvideo.storage import storage_from_settings

    values: dict[str, object] = {}
    if data:
        values.update(customers.read_row(data))  # any encoding; a bad file is a DataError, not a traceback
    for item in row or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise fail(f"--row {item!r} must be key=value")
        values[key] = value
    spec = load_scene(scene)
    coerced = customers.coerce_row(spec, values, source=str(data or "--row"))
    storage = storage_from_settings(settings)
    return plan.compile_plan(
        spec,
        coerced,
        assets_dir=asset_root(settings, storage),
        storage=storage,
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

    settings = load_settings()
    if engine:
        settings = settings.model_copy(update={"engine": engine.value})
    try:
        the_plan = _compile_row(scene, data, row, settings)
        started = time.perf_counter()
        storage = storage_from_settings(settings)
        with tempfile.TemporaryDirectory(prefix="pvideo-") as tmp:
            version = template_version(the_plan, storage, settings)
            outputs = render_on_template(the_plan, version, storage, settings, Path(tmp))
            if outputs.video is None or outputs.info is None:  # only renders asked for no MP4 lack them
                raise fail("the engine made no MP4")
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(outputs.video, out)
            shutil.copyfile(outputs.poster, out.with_suffix(".jpg"))
    except (PvideoError, json.JSONDecodeError) as exc:
        raise fail(str(exc)) from None
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
    """Render one frame as a PNG with the engine's own code, as the studio previews it (no video is encoded)."""
    from pvideo.render.still import still_frame
    from pvideo.storage import storage_from_settings

    settings = load_settings()
    try:
        frame = still_frame(_compile_row(scene, data, row, settings), at, storage_from_settings(settings), settings)
    except (PvideoError, json.JSONDecodeError) as exc:
        raise fail(str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.save(out, format="PNG")
    console.print(f"wrote {out} ({frame.width}x{frame.height}, t={at:g} s)")


library = typer.Typer(
    help="The scene library: push a file as a new version, pull a version out, list versions.", no_args_is_help=True
)


@library.command("push")
def push(
    file: Path,
    name: Annotated[str | None, typer.Option(help="the scene's name (default: the file's name without .yaml)")] = None,
    note: Annotated[str | None, typer.Option(help="what changed, shown with the version")] = None,
    author: Annotated[str, typer.Option(help="who made the version")] = "cli",
) -> None:
    """Save FILE as the scene's next version (the same text as the latest version makes none).

    The text is checked as any scene file is; an invalid one is refused with its error."""
    from pvideo.jobs.scenelibrary import save_version

    settings = load_settings()
    db = database(settings)
    db.create_schema()
    try:
        text = file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise fail(f"{file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"{file}: not UTF-8 text") from None
    scene = name or file.stem
    try:
        with db.session() as session:
            saved = save_version(session, scene, text, author=author, note=note)
            number = saved.version.number
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(f"{scene} v{number}" + ("" if saved.created else " (unchanged)"), highlight=False)


@library.command("pull")
def pull(
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="the version's number (default: the latest)")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="write here (default: standard output)")] = None,
) -> None:
    """Write a version's text exactly as it was pushed (comments and line ends kept)."""
    from pvideo.jobs.scenelibrary import get_version

    settings = load_settings()
    db = database(settings)
    db.create_schema()
    try:
        with db.session() as session:
            found = get_version(session, name, version)
            data, number = found.yaml_text.encode("utf-8"), found.number
    except PvideoError as exc:
        raise fail(str(exc)) from None
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    err.print(f"wrote {out} ({name} v{number})", highlight=False, markup=False)


@library.command("versions")
def versions(name: str) -> None:
    """Every version of a scene, newest first: number, time, author, hash, campaigns pinned, note."""
    from pvideo.jobs.scenelibrary import campaign_counts, versions_of

    settings = load_settings()
    db = database(settings)
    db.create_schema()
    try:
        with db.session() as session:
            found = versions_of(session, name)
            used = campaign_counts(session, found)
    except PvideoError as exc:
        raise fail(str(exc)) from None
    for v in found:
        console.print(
            f"v{v.number:<4} {v.created_at:%Y-%m-%d %H:%M}  {v.author:<24} {v.sha256[:12]}  "
            f"{used.get(v.id, 0):>3} campaign(s)  {v.note or ''}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
