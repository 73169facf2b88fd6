"""``pvideo preview``: moviepy as an independent reference renderer for the engine's frames."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
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
from tests.media import frames_rgb
from tests.render.test_scene_layers import SCENE

ROW = {"customer_id": "c1", "first_name": "Zoë O'Brien: 100%", "plan": "Pro"}


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of the BT.601 luma planes.

    Luma, because the engine's H.264 output is 4:2:0: chroma has half the
    resolution, so a hard green/blue edge in an overlay is smeared over a pixel
    or two by design, while the reference keeps full-resolution RGB.
    """
    weights = np.array([0.299, 0.587, 0.114])
    mse = np.mean((a.astype(np.float64) @ weights - b.astype(np.float64) @ weights) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture()
def rendered(settings, welcome_assets, tmp_path):
    spec = parse_scene(SCENE)
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


def cli_env(tmp_path, assets_dir, scenes_dir) -> dict[str, str]:
    return {
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }


def cli_preview(scene_data: dict, row_data: dict, at: float, tmp_path, assets_dir, scenes_dir) -> Path:
    """``pvideo preview SCENE --at AT --data ROW -o frame.png`` as a user runs it; the PNG's path."""
    scene = tmp_path / "scene.yaml"
    scene.write_text(yaml.safe_dump(scene_data, sort_keys=False))
    row = tmp_path / "row.json"
    row.write_text(json.dumps(row_data))
    out = tmp_path / "frame.png"
    result = CliRunner().invoke(
        app,
        ["preview", str(scene), "--at", str(at), "--data", str(row), "-o", str(out)],
        env=cli_env(tmp_path, assets_dir, scenes_dir),
    )
    assert result.exit_code == 0, result.output
    return out


def test_cli_preview_writes_a_png(tmp_path, assets_dir, scenes_dir):
    out = cli_preview(SCENE, ROW, 1.5, tmp_path, assets_dir, scenes_dir)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
        assert image.getpixel((80, 60))[:3] == (255, 0, 0)
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
