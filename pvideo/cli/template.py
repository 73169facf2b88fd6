"""``pvideo template``: ingest a template version now, rather than on its first render."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from pvideo.cli.console import console, fail, load_settings
from pvideo.errors import PvideoError

app = typer.Typer(help="Template versions: ingest base videos into reusable segments.", no_args_is_help=True)


@app.command("ingest")
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

    settings = load_settings()
    storage = storage_from_settings(settings)
    started = time.perf_counter()
    try:
        if scene is not None:
            from dataclasses import replace

            from pvideo.plan.compiler import compile_plan
            from pvideo.plan.uploads import asset_root
            from pvideo.plan.windows import keyframe_times
            from pvideo.scene.samples import sample_row
            from pvideo.scene.spec import load_scene

            spec = load_scene(scene)
            # the shared version holds only what is the same for everyone: leave out media chosen by data
            shared = [
                layer
                for layer in spec.layers
                if layer.type not in ("video", "audio") and not (layer.type == "image" and "{" in layer.src)
            ]
            plan = compile_plan(
                spec.model_copy(update={"layers": shared}), sample_row(spec), assets_dir=asset_root(settings, storage)
            )
            # cut at every personal window of the whole scene, as its renders do
            version = base_version(replace(plan, keyframes=keyframe_times(spec)), storage, settings)
        elif video is not None:
            version = ingest(
                video,
                storage,
                ffmpeg_exe=settings.ffmpeg_exe,
                options=ingest_options(settings),
                timeout=settings.ffmpeg_timeout,
            )
        else:
            raise fail("give a VIDEO or --scene SCENE.yaml")
    except PvideoError as exc:
        raise fail(str(exc)) from None
    console.print(
        f"{version.prefix}: {version.width}x{version.height} @ {float(version.fps):.3f} fps, "
        f"{version.frames} frames in {len(version.segments)} segments "
        f"({sum(s.bytes for s in version.segments) / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s"
    )
