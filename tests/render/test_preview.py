"""moviepy's ``preview_frame``: an independent reference renderer for the engine's frames; and
``pvideo preview``, which draws the engine's own frame (``pvideo.render.still``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.plan.compiler import compile_plan
from pvideo.render.engine import render_plan
from pvideo.render.ingest import ingest, segment_files
from pvideo.render.preview import preview_frame
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.storage import LocalStorage
from tests.conftest import FPS, HEIGHT, WIDTH
from tests.media import frames_rgb, luma_psnr
from tests.preview_cli import cli_env, cli_preview
from tests.scenes import FEATURES_SCENE

ROW = {"customer_id": "c1", "first_name": "Zoë O'Brien: 100%", "plan": "Pro"}


@pytest.fixture()
def rendered(settings, welcome_assets, tmp_path):
    spec = parse_scene(FEATURES_SCENE)
    plan = compile_plan(spec, coerce_row(spec, ROW), assets_dir=welcome_assets)
    storage = LocalStorage(tmp_path / "store")
    version = ingest(plan.template, storage, ffmpeg_exe=settings.ffmpeg_exe, baked=plan.static_overlays)
    out = render_plan(
        plan,
        version,
        segment_files(version, storage, tmp_path / "cache"),
        tmp_path / "out",
        ffmpeg_exe=settings.ffmpeg_exe,
    )
    return plan, frames_rgb(out.video)


@pytest.mark.parametrize("index", [FPS // 2, FPS + 10, 3 * FPS + 3])
def test_preview_matches_the_engine_frame(rendered, index):
    plan, frames = rendered
    at = (index + 0.5) / FPS
    reference = np.array(preview_frame(plan, at))
    assert reference.shape == (HEIGHT, WIDTH, 3)
    assert luma_psnr(reference, frames[index]) >= 35


def test_preview_shows_overlays_only_in_their_window(rendered):
    plan, _ = rendered
    x, y = 20 + 60, 20 + 40  # the red bar's centre, shown 1.0-2.0 s
    assert tuple(np.array(preview_frame(plan, 1.5))[y, x]) == (255, 0, 0)
    assert tuple(np.array(preview_frame(plan, 2.5))[y, x]) != (255, 0, 0)


def test_cli_preview_writes_a_png(tmp_path, assets_dir, scenes_dir):
    out = cli_preview(FEATURES_SCENE, ROW, 1.5, tmp_path, assets_dir, scenes_dir)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        red = np.array(image.getpixel((80, 60))[:3])
        assert np.abs(red - (255, 0, 0)).max() <= 4  # the engine's frame: red through yuv420p
    result = CliRunner().invoke(
        app,
        [
            "preview",
            str(tmp_path / "scene.yaml"),
            "--at",
            "99",
            "--row",
            "customer_id=c",
            "--row",
            "first_name=A",
            "-o",
            str(out),
        ],
        env=cli_env(tmp_path, assets_dir, scenes_dir),
    )
    assert result.exit_code == 1 and "outside the video" in result.output
