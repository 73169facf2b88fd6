"""``pvideo preview`` run as a user runs it, for the tests that compare its PNG with other renderers."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pvideo.cli import app


def cli_env(tmp_path: Path, assets_dir: Path, scenes_dir: Path) -> dict[str, str]:
    return {
        "PVIDEO_ASSETS_DIR": str(assets_dir),
        "PVIDEO_SCENES_DIR": str(scenes_dir),
        "PVIDEO_DATA_DIR": str(tmp_path / "data"),
        "PVIDEO_X264_PRESET": "ultrafast",  # as the ``settings`` fixture: the same template versions
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }


def cli_preview(
    scene_data: dict, row_data: dict, at: float, tmp_path: Path, assets_dir: Path, scenes_dir: Path
) -> Path:
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
