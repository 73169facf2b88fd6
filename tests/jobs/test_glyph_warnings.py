"""``pvideo validate`` warns, per row and layer, about characters no bundled font draws
(issue #14, point 6); they render as boxes, so the exit code stays 0."""

from __future__ import annotations

import copy
import re

import yaml
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.jobs.validation import validate_scene
from tests.conftest import CARD_SCENE

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
THAI = "\u0e2a\u0e21\u0e0a\u0e32\u0e22"  # สมชาย: no bundled font has Thai


def _scene(tmp_path, label="Get {{ plan }}"):
    data = copy.deepcopy(CARD_SCENE)
    data["layers"][2]["label"] = label
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def _customers(tmp_path):
    path = tmp_path / "customers.csv"
    rows = ["customer_id,first_name,price", "c1,Ana,1", f"c2,{THAI},2", "c3,\U0001d400\ua640na,3"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_each_row_and_layer_with_boxes_is_named(settings, tmp_path):
    warnings: list[str] = []
    problems = validate_scene(_scene(tmp_path), _customers(tmp_path), settings, warnings)
    assert problems == []
    assert warnings == [
        f"{tmp_path / 'customers.csv'}, row 2: warning: layer 1 (text 'hello') text: no bundled font draws "
        "U+0E2A \u0e2a, U+0E21 \u0e21, U+0E0A \u0e0a, U+0E32 \u0e32, U+0E22 \u0e22 (they render as boxes)"
    ]  # row 3's math letter and Cyrillic Extended-B are drawn by the fallbacks


def test_a_literal_label_is_checked_without_data(settings, tmp_path):
    warnings: list[str] = []
    assert validate_scene(_scene(tmp_path, label=f"Buy {THAI[0]}"), None, settings, warnings) == []
    assert warnings == [
        f"{tmp_path / 'scene.yaml'}: warning: layer 3 (cta 'buy') label: no bundled font draws U+0E2A \u0e2a "
        "(they render as boxes)"
    ]


def test_the_cli_prints_the_warning_and_exits_0(settings, tmp_path, assets_dir, scenes_dir):
    env = {"PVIDEO_ASSETS_DIR": str(assets_dir), "PVIDEO_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "2000"}
    result = CliRunner().invoke(app, ["validate", str(_scene(tmp_path)), "--data", str(_customers(tmp_path))], env=env)
    err = _ANSI.sub("", result.stderr)
    assert result.exit_code == 0, err
    assert "row 2: warning: layer 1 (text 'hello') text: no bundled font draws U+0E2A" in err
    assert "row 1" not in err and "row 3" not in err
